// The console's script: htmx (progressive enhancement: every page works without it) and
// its server-sent events extension, for the live updates of later pages. Bundled by
// `python -m registry_api.console.bundle build` into static/console.bundle.js.
import htmx from "htmx.org";
import "htmx-ext-sse";
import { drawCharts } from "./kpis.js";

window.htmx = htmx;

// The KPI page's charts, on a full load and on a page htmx swapped in.
htmx.onLoad((element) => drawCharts(element.ownerDocument || document));

// Moves focus to the error summary after a boosted form comes back with errors, as a
// full page load would for a screen reader user (the GOV.UK error summary pattern).
document.addEventListener("htmx:afterSettle", () => {
  const summary = document.querySelector(".error-summary");
  if (summary) {
    summary.focus();
  }
});
