// Talks to the verifier's own web app (verifier/web/app.py). A refusal comes back as
// problem JSON whose "code" names a page string (error.<code>).

// Matches the server's limit; larger photos are shrunk in the browser before upload.
export const MAX_UPLOAD_BYTES = 5 * 1024 * 1024;
// A phone photo shrunk to this longest side keeps a printed QR code readable.
const SHRUNK_SIDE = 2400;

export class RequestError extends Error {
  constructor(code, detail) {
    super(detail || code);
    this.code = code;
  }
}

async function send(init) {
  let response;
  try {
    response = await fetch("api/verify", { method: "POST", ...init });
  } catch (error) {
    throw new RequestError("network", String(error));
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    // A body that is not JSON is handled below as a server error.
  }
  if (response.ok && body && typeof body.outcome === "string") {
    return body;
  }
  const code = body && typeof body.code === "string" ? body.code : "server";
  throw new RequestError(code, body && body.detail);
}

export function verifyText(text) {
  return send({
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ text }),
  });
}

async function shrink(file) {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, SHRUNK_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return new Promise((resolve, reject) => {
    canvas.toBlob(
      (blob) => (blob ? resolve(blob) : reject(new RequestError("not_an_image"))),
      "image/jpeg",
      0.92,
    );
  });
}

export async function verifyImage(file) {
  let upload = file;
  if (file.size > MAX_UPLOAD_BYTES) {
    try {
      upload = await shrink(file);
    } catch {
      throw new RequestError("not_an_image");
    }
    if (upload.size > MAX_UPLOAD_BYTES) {
      throw new RequestError("too_large");
    }
  }
  const form = new FormData();
  form.append("image", upload, file.name || "photo.jpg");
  return send({ body: form });
}

export async function loadConfig() {
  const response = await fetch("api/config", { cache: "no-cache" });
  if (!response.ok) {
    throw new RequestError("server", `HTTP ${response.status}`);
  }
  return response.json();
}
