import { has, language, t } from "./i18n.js";

// The three colours an officer acts on. Everything that is neither recognized nor
// valid-but-not-recognized is red: a certificate that could not be checked is not waved
// through either, it only gets a different headline.
export function toneOf(outcome) {
  if (outcome === "recognized") {
    return "recognized";
  }
  if (outcome === "not_recognized") {
    return "not-recognized";
  }
  return "invalid";
}

function headlineOf(outcome) {
  if (outcome === "recognized") {
    return t("tone.recognized");
  }
  if (outcome === "not_recognized") {
    return t("tone.not_recognized");
  }
  if (outcome === "check_unavailable") {
    return t("tone.unverified");
  }
  return t("tone.invalid");
}

const ICONS = {
  recognized: "M20 6 9 17l-5-5",
  "not-recognized": "M12 8v5m0 4h.01",
  invalid: "M18 6 6 18M6 6l12 12",
};

function icon(tone) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "verdict-icon");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", ICONS[tone]);
  svg.append(path);
  return svg;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined && text !== null) {
    node.textContent = text;
  }
  return node;
}

function formatDate(value) {
  if (!value) {
    return null;
  }
  // Day-dates ("2027-03-31") are calendar days, not instants: show them as written in the
  // officer's language without shifting them through a time zone.
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (day) {
    const date = new Date(Date.UTC(Number(day[1]), Number(day[2]) - 1, Number(day[3])));
    return new Intl.DateTimeFormat(language(), { dateStyle: "medium", timeZone: "UTC" }).format(
      date,
    );
  }
  return formatTime(value);
}

function formatTime(value) {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    return String(value);
  }
  // Intl refuses dateStyle together with timeZoneName; the zone matters at a border post
  // (the status time is in the officer's clock, the registry's in UTC), so spell it out.
  return new Intl.DateTimeFormat(language(), {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    timeZoneName: "short",
  }).format(date);
}

function tierText(names) {
  return names.map((name) => (has(`tier.${name}`) ? t(`tier.${name}`) : name)).join(", ");
}

// The rows the officer reads, from the verdict JSON (verifier.verdict.Verdict.to_dict).
// Where the registry knows better than the QR (a renewal extends validity), it wins.
function facts(verdict) {
  const claims = verdict.claims;
  if (!claims) {
    return [];
  }
  const registry = verdict.registry || {};
  const rows = [];
  const add = (key, value) => {
    if (value !== null && value !== undefined && value !== "") {
      rows.push([key, String(value)]);
    }
  };
  add("field.holder", claims.holder_name);
  add("field.holder_id", [claims.holder_id_scheme, claims.holder_id].filter(Boolean).join(" "));
  add(
    "field.issuer",
    verdict.issuer_name ? `${verdict.issuer_name} (${claims.issuer})` : claims.issuer,
  );
  add("field.number", claims.number);
  const tiers = registry.tiers || verdict.tiers || [];
  add("field.tier", tierText(tiers));
  const from = formatDate(registry.valid_from || claims.valid_from_date);
  const until = formatDate(registry.valid_until || claims.valid_until_date);
  if (from || until) {
    add("field.validity", t("field.validity_range", { from: from || "—", until: until || "—" }));
  }
  if (Number.isFinite(claims.issued_at)) {
    add("field.issued_at", formatTime(new Date(claims.issued_at * 1000).toISOString()));
  }
  add("field.version", claims.version);
  return rows;
}

// Claims are the issuer's words only once the signature and the registry match confirm
// them; a forged code's "holder" must not read like a fact.
function confirmed(verdict) {
  const stages = Array.isArray(verdict.stages) ? verdict.stages : [];
  const passed = (name) => stages.some((stage) => stage.stage === name && stage.state === "ok");
  return passed("signature") && passed("binding");
}

// The reason in the officer's language. In English the verifier's own message is shown: it
// names the MRA, tier or date involved; the catalogues translate each code once (the same
// texts `aeo verify --lang` prints), so other languages show the code's text.
function reasonText(reason) {
  const code = String(reason.code || "");
  if (language() === "en" && reason.message) {
    return reason.message;
  }
  const key = code.endsWith("_unavailable") ? "reason.check_unavailable" : `reason.${code}`;
  return has(key) ? t(key) : reason.message || code;
}

// Who issued the certificate, the first line of the verdict: the number alone does not say
// (an administration may number its certificates like another's). Only a signature by a key
// that administration registered proves it; until then the line says it is a claim.
function issuerLine(verdict) {
  const issuer = verdict.issuer || {};
  const code = issuer.code || (verdict.claims && verdict.claims.issuer);
  if (!code) {
    return t("issuer.unknown");
  }
  const who = issuer.name ? `${issuer.name} (${code})` : code;
  if (issuer.confirmed) {
    return t("issuer.confirmed", { issuer: who });
  }
  return t("issuer.claimed", { issuer: who });
}

function outcomeText(verdict, authority) {
  const key = `outcome.${verdict.outcome}`;
  return has(key) ? t(key, { authority }) : t("outcome.unknown", { outcome: verdict.outcome });
}

function factsSection(verdict) {
  const rows = facts(verdict);
  if (!rows.length) {
    return [];
  }
  const trusted = confirmed(verdict);
  const title = element(
    "h3",
    trusted ? "section-title" : "section-title section-title--warning",
    t(trusted ? "facts.confirmed" : "facts.unconfirmed"),
  );
  const list = element("dl", trusted ? "facts" : "facts facts--unconfirmed");
  for (const [key, value] of rows) {
    const row = element("div", "fact");
    row.append(element("dt", null, t(key)), element("dd", null, value));
    list.append(row);
  }
  return [title, list];
}

function reasonsSection(verdict) {
  const reasons = Array.isArray(verdict.reasons) ? verdict.reasons : [];
  if (!reasons.length) {
    return [];
  }
  const list = element("ul", "reasons");
  for (const reason of reasons) {
    const item = element("li", "reason");
    item.dataset.code = reason.code;
    item.append(element("span", "reason-text", reasonText(reason)));
    item.append(element("code", "reason-code", reason.code));
    list.append(item);
  }
  return [element("h3", "section-title", t("reasons.heading")), list];
}

// Fills `container` with the verdict; returns the element that should take focus.
export function renderVerdict(container, verdict, authority) {
  const tone = toneOf(verdict.outcome);
  const card = element("article", `verdict verdict--${tone}`);
  card.dataset.outcome = verdict.outcome;

  const banner = element("div", "verdict-banner");
  banner.append(icon(tone));
  const titles = element("div", "verdict-titles");
  const confirmedIssuer = Boolean(verdict.issuer && verdict.issuer.confirmed);
  const issuer = element(
    "p",
    confirmedIssuer ? "verdict-issuer" : "verdict-issuer verdict-issuer--unconfirmed",
    issuerLine(verdict),
  );
  const headline = element("h2", "verdict-headline", headlineOf(verdict.outcome));
  headline.tabIndex = -1;
  titles.append(issuer, headline, element("p", "verdict-outcome", outcomeText(verdict, authority)));
  banner.append(titles);
  card.append(banner);

  const body = element("div", "verdict-body");
  const details = factsSection(verdict);
  const why = reasonsSection(verdict);
  // Green and amber: the officer compares the holder with the papers first. Red: why first.
  body.append(...(tone === "invalid" ? [...why, ...details] : [...details, ...why]));

  const asOf = element("p", verdict.stale ? "as-of as-of--stale" : "as-of");
  asOf.append(
    element(
      "span",
      "as-of-time",
      verdict.as_of ? t("asof.label", { time: formatTime(verdict.as_of) }) : t("asof.unknown"),
    ),
  );
  const source = verdict.source;
  if (source) {
    const where =
      source.kind === "offline" || source.kind === "snapshot"
        ? t("asof.offline", { block: source.block_number ?? "?" })
        : t("asof.live", { block: source.block_number ?? "?" });
    asOf.append(element("span", "as-of-source", where));
  }
  if (verdict.stale) {
    asOf.append(element("strong", "badge badge--stale", t("asof.stale")));
    const age = Math.floor((Date.now() - new Date(verdict.as_of).getTime()) / 86400000);
    if (Number.isFinite(age) && age >= 1) {
      asOf.append(element("span", "as-of-age", t("asof.days_old", { count: age })));
    }
  }
  body.append(asOf);

  const stages = Array.isArray(verdict.stages) ? verdict.stages : [];
  if (stages.length) {
    const details = element("details", "stages");
    details.append(element("summary", null, t("stages.heading")));
    const list = element("ol", "stage-list");
    for (const stage of stages) {
      const item = element("li", `stage stage--${stage.state}`);
      item.dataset.stage = stage.stage;
      const nameKey = `stage_name.${stage.stage}`;
      item.append(element("span", "stage-name", has(nameKey) ? t(nameKey) : stage.stage));
      const stateKey = `stage.${stage.state}`;
      item.append(element("span", "stage-state", has(stateKey) ? t(stateKey) : stage.state));
      if (stage.message && stage.state !== "skipped") {
        item.append(element("span", "stage-detail", stage.message));
      }
      list.append(item);
    }
    details.append(list);
    body.append(details);
  }
  card.append(body);

  container.replaceChildren(card);
  return headline;
}
