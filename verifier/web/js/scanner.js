import jsQR from "jsqr";

// One decode attempt every SCAN_INTERVAL_MS keeps a mid-range phone cool and its battery
// alive; a QR held in front of the camera is still read well within a second.
const SCAN_INTERVAL_MS = 200;
// jsQR's cost grows with the pixel count; a version-10 QR filling a fifth of a 960-pixel
// frame still has about three pixels per module, enough to decode.
const MAX_SCAN_SIDE = 960;

export class CameraError extends Error {
  constructor(kind, cause) {
    super(kind);
    this.kind = kind; // "insecure" | "denied" | "missing" | "failed"
    this.cause = cause;
  }
}

function classify(error) {
  switch (error && error.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "denied";
    case "NotFoundError":
    case "OverconstrainedError":
      return "missing";
    default:
      return "failed";
  }
}

// Reads every frame it samples and calls onCode(text) with each QR code's text; the
// caller decides what a code means and pauses the scanner while it checks one.
export class Scanner {
  constructor(video, onCode) {
    this.video = video;
    this.onCode = onCode;
    this.canvas = document.createElement("canvas");
    this.context = this.canvas.getContext("2d", { willReadFrequently: true });
    this.stream = null;
    this.timer = null;
    this.paused = false;
  }

  get running() {
    return this.stream !== null;
  }

  async start() {
    if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
      throw new CameraError("insecure");
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: {
          facingMode: { ideal: "environment" },
          width: { ideal: 1280 },
          height: { ideal: 720 },
        },
      });
    } catch (error) {
      throw new CameraError(classify(error), error);
    }
    this.stream = stream;
    this.video.srcObject = stream;
    this.video.setAttribute("playsinline", "");
    this.video.muted = true;
    try {
      await this.video.play();
    } catch (error) {
      this.stop();
      throw new CameraError("failed", error);
    }
    this.paused = false;
    this.schedule();
  }

  stop() {
    window.clearTimeout(this.timer);
    this.timer = null;
    if (this.stream) {
      for (const track of this.stream.getTracks()) {
        track.stop();
      }
    }
    this.stream = null;
    this.video.srcObject = null;
  }

  pause() {
    this.paused = true;
  }

  resume() {
    this.paused = false;
    if (this.running) {
      this.schedule();
    }
  }

  schedule() {
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.tick(), SCAN_INTERVAL_MS);
  }

  tick() {
    if (!this.running || this.paused) {
      return;
    }
    const text = this.decodeFrame();
    if (text !== null) {
      this.onCode(text);
    }
    if (this.running && !this.paused) {
      this.schedule();
    }
  }

  decodeFrame() {
    const { video } = this;
    if (video.readyState < video.HAVE_CURRENT_DATA || !video.videoWidth) {
      return null;
    }
    const scale = Math.min(1, MAX_SCAN_SIDE / Math.max(video.videoWidth, video.videoHeight));
    const width = Math.round(video.videoWidth * scale);
    const height = Math.round(video.videoHeight * scale);
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    this.context.drawImage(video, 0, 0, width, height);
    const frame = this.context.getImageData(0, 0, width, height);
    // Printed certificates are dark on light; skipping the inverted pass halves the work.
    const code = jsQR(frame.data, width, height, { inversionAttempts: "dontInvert" });
    return code && code.data ? code.data : null;
  }
}
