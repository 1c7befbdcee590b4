// Every string the page shows comes from static/i18n/<code>.json, generated from the
// gettext catalogues verifier/locale/*/LC_MESSAGES/verifier.po (python -m verifier.i18n
// update); languages.json lists them. A catalog may leave keys out: English fills the gaps, so a partial
// translation is still usable at a border post.

// Relative, so the app also works mounted under a prefix (e.g. /verifier/ in the API).
const BASE = "static/i18n/";
const STORAGE_KEY = "aeo-verifier-language";

let fallback = {};
let catalog = {};
let current = "en";

async function fetchJson(url) {
  const response = await fetch(url, { cache: "no-cache" });
  if (!response.ok) {
    throw new Error(`${url}: HTTP ${response.status}`);
  }
  return response.json();
}

export async function loadLanguages() {
  return fetchJson(`${BASE}languages.json`);
}

// The catalog for a browser language tag: the exact tag ("zh-Hans"), then its language
// ("ru-RU" -> "ru"); Chinese in simplified characters ("zh", "zh-CN", "zh-SG") is zh-Hans, and
// traditional Chinese ("zh-TW", "zh-Hant") has no catalog yet, so it falls through.
export function matchLanguage(tag, codes) {
  const lower = String(tag).toLowerCase();
  const exact = codes.find((code) => code.toLowerCase() === lower);
  if (exact) {
    return exact;
  }
  const parts = lower.split("-");
  if (parts[0] === "zh") {
    const traditional = parts.some((part) => ["hant", "tw", "hk", "mo"].includes(part));
    return !traditional && codes.includes("zh-Hans") ? "zh-Hans" : null;
  }
  return codes.find((code) => code.toLowerCase() === parts[0]) || null;
}

function preferred(index) {
  const codes = index.languages.map((language) => language.code);
  let saved = null;
  try {
    saved = window.localStorage.getItem(STORAGE_KEY);
  } catch {
    // Storage can be disabled (private mode, kiosk policy): fall back to the browser's list.
  }
  if (saved && codes.includes(saved)) {
    return saved;
  }
  for (const tag of navigator.languages || []) {
    const found = matchLanguage(tag, codes);
    if (found) {
      return found;
    }
  }
  return index.default;
}

export async function initLanguage(index) {
  fallback = await fetchJson(`${BASE}${index.default}.json`);
  await setLanguage(index, preferred(index), { remember: false });
}

export async function setLanguage(index, code, { remember = true } = {}) {
  const entry = index.languages.find((language) => language.code === code);
  if (!entry) {
    return;
  }
  catalog = code === index.default ? fallback : await fetchJson(`${BASE}${code}.json`);
  current = code;
  document.documentElement.lang = code;
  document.documentElement.dir = entry.dir || "ltr";
  if (remember) {
    try {
      window.localStorage.setItem(STORAGE_KEY, code);
    } catch {
      // Not remembering the choice is harmless.
    }
  }
}

export function language() {
  return current;
}

// t("outcome.recognized", { authority: "KR" }); a missing key shows the key itself, so a
// gap is visible in testing instead of an empty label. A message with plural forms is an
// object keyed by CLDR plural category (generated from the .po files by verifier.i18n) and
// takes its form from params.count.
export function t(key, params = {}) {
  let template = catalog[key] ?? fallback[key] ?? key;
  if (typeof template === "object") {
    const category = new Intl.PluralRules(current).select(Number(params.count));
    template = template[category] ?? template.other ?? Object.values(template)[0];
  }
  return template.replace(/\{(\w+)\}/g, (match, name) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : match,
  );
}

export function has(key) {
  return key in catalog || key in fallback;
}

// Elements carry data-i18n="key" for their text, and data-i18n-attr="attr:key;attr:key"
// for attributes such as aria-label or placeholder.
export function translatePage(root = document) {
  for (const element of root.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
  for (const element of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of element.dataset.i18nAttr.split(";")) {
      const [attribute, key] = pair.split(":").map((part) => part.trim());
      if (attribute && key) {
        element.setAttribute(attribute, t(key));
      }
    }
  }
  document.title = t("app.title");
}
