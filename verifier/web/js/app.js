// The border officer's page: scan (camera), or upload a photo, or paste the text; show
// one verdict. Built into static/app.bundle.js by `python -m verifier.web.bundle build`.

import { loadConfig, RequestError, verifyImage, verifyText } from "./api.js";
import { has, initLanguage, loadLanguages, setLanguage, t, translatePage } from "./i18n.js";
import { CameraError, Scanner } from "./scanner.js";
import { renderVerdict } from "./verdict.js";

// Versioned payloads ("AEO1:", later "AEO2:") all go to the server, which names the
// version it cannot read; any other QR code is not a certificate.
const PAYLOAD_PREFIX = /^AEO\d+:/;

const $ = (id) => document.getElementById(id);

// Brings `element`'s top into view unless it already is in the upper half of the screen
// (on a laptop the verdict column is always in view; on a phone it sits above the camera).
function reveal(element) {
  const top = element.getBoundingClientRect().top;
  if (top >= 0 && top <= window.innerHeight / 2) {
    return;
  }
  const still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  element.scrollIntoView({ block: "start", behavior: still ? "auto" : "smooth" });
}

const state = {
  authority: "",
  languages: null,
  verdict: null,
  busy: false,
  scanner: null,
};

function setStatus(key) {
  $("camera-status").textContent = t(key);
}

function showError(key) {
  $("error-text").textContent = t(key);
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error-text").textContent = "";
}

function setBusy(busy) {
  state.busy = busy;
  document.body.classList.toggle("is-busy", busy);
  $("busy").hidden = !busy;
  for (const control of document.querySelectorAll("[data-disable-when-busy]")) {
    control.disabled = busy;
  }
}

function showVerdict(verdict) {
  state.verdict = verdict;
  if (state.scanner.running) {
    setStatus("camera.paused");
  }
  const focusTarget = renderVerdict($("verdict"), verdict, state.authority);
  $("verdict-actions").hidden = false;
  document.body.classList.add("has-verdict");
  focusTarget.focus({ preventScroll: true });
  reveal($("verdict-region"));
}

function clearVerdict() {
  state.verdict = null;
  $("verdict").replaceChildren();
  $("verdict-actions").hidden = true;
  document.body.classList.remove("has-verdict");
}

async function check(request) {
  if (state.busy) {
    return;
  }
  clearError();
  clearVerdict();
  setBusy(true);
  try {
    showVerdict(await request());
  } catch (error) {
    if (!(error instanceof RequestError)) {
      // A bug in the page, not a refusal: leave a trace for whoever opens the console.
      console.error(error);
    }
    const key = error instanceof RequestError ? `error.${error.code}` : "error.server";
    showError(has(key) ? key : "error.server");
    state.scanner?.resume();
  } finally {
    setBusy(false);
  }
}

function onCode(text) {
  if (state.busy || state.verdict) {
    return;
  }
  if (!PAYLOAD_PREFIX.test(text.trim())) {
    setStatus("camera.not_aeo");
    return;
  }
  state.scanner.pause();
  check(() => verifyText(text.trim()));
}

async function startCamera() {
  clearError();
  $("camera-start").disabled = true;
  setStatus("camera.starting");
  try {
    await state.scanner.start();
  } catch (error) {
    $("camera-start").disabled = false;
    const kind = error instanceof CameraError ? error.kind : "failed";
    setStatus(`camera.${kind}`);
    return;
  }
  document.body.classList.add("camera-on");
  $("camera-start").hidden = true;
  $("camera-start").disabled = false;
  $("camera-stop").hidden = false;
  setStatus("camera.scanning");
}

function stopCamera() {
  state.scanner.stop();
  document.body.classList.remove("camera-on");
  $("camera-stop").hidden = true;
  $("camera-start").hidden = false;
  setStatus("camera.idle");
  $("camera-start").focus();
}

function scanNext() {
  clearVerdict();
  clearError();
  $("paste-text").value = "";
  if (state.scanner.running) {
    setStatus("camera.scanning");
    state.scanner.resume();
    $("camera-stop").focus();
  } else {
    $("camera-start").focus();
  }
  reveal($("scan"));
}

function fillLanguageMenu() {
  const menu = $("language");
  menu.replaceChildren(
    ...state.languages.languages.map((entry) => {
      const option = document.createElement("option");
      option.value = entry.code;
      option.textContent = entry.name;
      return option;
    }),
  );
  menu.value = document.documentElement.lang;
}

function retranslate() {
  translatePage();
  $("checking-as").textContent = t("app.checking_as", { authority: state.authority });
  if (!state.scanner.running) {
    setStatus("camera.idle");
  } else {
    setStatus(state.verdict ? "camera.paused" : "camera.scanning");
  }
  if (state.verdict) {
    renderVerdict($("verdict"), state.verdict, state.authority);
  }
}

function wire() {
  $("camera-start").addEventListener("click", startCamera);
  $("camera-stop").addEventListener("click", stopCamera);
  $("scan-next").addEventListener("click", scanNext);
  $("error-dismiss").addEventListener("click", clearError);

  $("photo").addEventListener("change", (event) => {
    const [file] = event.target.files;
    event.target.value = "";
    if (file) {
      check(() => verifyImage(file));
    }
  });

  $("paste-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("paste-text").value.trim();
    if (!text) {
      showError("error.empty_text");
      $("paste-text").focus();
      return;
    }
    check(() => verifyText(text));
  });

  $("language").addEventListener("change", async (event) => {
    await setLanguage(state.languages, event.target.value);
    retranslate();
  });

  // A phone put in a pocket with the page open should not keep the camera busy.
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      state.scanner.pause();
    } else if (!state.busy && !state.verdict) {
      state.scanner.resume();
    }
  });
}

async function main() {
  state.scanner = new Scanner($("camera-video"), onCode);
  const [languages, config] = await Promise.all([loadLanguages(), loadConfig()]);
  state.languages = languages;
  state.authority = config.as_authority;
  await initLanguage(languages);
  fillLanguageMenu();
  retranslate();
  wire();
  document.body.classList.add("is-ready");
}

main().catch((error) => {
  document.body.classList.add("is-broken");
  // The catalog may be what failed to load, so this one message cannot come from it.
  const text = $("error-text");
  text.textContent = `The page could not start: ${error.message}`;
  $("error").hidden = false;
});
