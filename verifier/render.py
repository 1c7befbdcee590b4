"""The verdict for a terminal: one colored screen (rich), or the JSON form.

Green: valid and recognized. Amber: valid but not recognized by this administration.
Red: anything else (not valid, or could not be verified). Every string coming from the QR
code goes into ``rich.text.Text`` objects, never into markup, so a crafted name cannot
restyle or rewrite the officer's screen.

Every label comes from the verifier's catalogues (:mod:`verifier.i18n`, the same the border
page's JSON is generated from) in the language asked for (``aeo verify --lang``). In English
the reasons are the pipeline's own messages, which name the MRA, tier or date involved; other
languages show each reason code's translated text. The JSON form stays English: programs read
its codes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from babel.dates import format_date
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from contracts.domain import days
from contracts.domain.enums import tier_names
from verifier.i18n import SOURCE_LOCALE, Words, words
from verifier.verdict import Outcome, Reason, StageState, Verdict, outcome_of_reason

GREEN = "bold white on green4"
AMBER = "bold black on dark_orange"
RED = "bold white on red3"

_STAGE_MARK = {
    StageState.OK: ("✔", "green"),
    StageState.FAILED: ("✘", "red"),
    StageState.SKIPPED: ("–", "grey50"),
    StageState.UNAVAILABLE: ("?", "dark_orange"),
}


def outcome_style(outcome: Outcome) -> str:
    if outcome is Outcome.RECOGNIZED:
        return GREEN
    if outcome is Outcome.NOT_RECOGNIZED:
        return AMBER
    return RED


def _issuer_line(verdict: Verdict, w: Words) -> str:
    claims = verdict.claims
    if claims is None:
        return w("issuer.unknown")
    who = claims.issuer + (f" – {verdict.issuer_name}" if verdict.issuer_name else "")
    return w("issuer.confirmed" if verdict.issuer_confirmed else "issuer.claimed", issuer=who)


def reason_text(reason: Reason, w: Words) -> str:
    """A reason as the officer reads it: see the module's docstring."""
    if w.locale == SOURCE_LOCALE:
        return reason.message
    key = "reason.check_unavailable" if reason.code.endswith("_unavailable") else None
    key = key or f"reason.{reason.code}"
    return w(key) if w.has(key) else reason.message


def _status_as_of(verdict: Verdict, w: Words) -> str | None:
    if verdict.as_of is None or verdict.source is None:
        return None
    kind = verdict.source.kind
    source_key = f"cli.source_{kind}"
    parts = [w(source_key) if w.has(source_key) else kind]
    if verdict.source.block_number is not None:
        # A block number is an identifier, not a quantity: never grouped by locale.
        parts.append(w("cli.block", block=verdict.source.block_number))
    if verdict.stale:
        parts.append(w("cli.stale"))
    # The time stays ISO 8601 in UTC in every language: a border post and the registry
    # must read the same instant.
    time = verdict.as_of.strftime("%Y-%m-%d %H:%M UTC")
    return w("cli.status_as_of", time=time, source=", ".join(parts))


def verdict_renderable(verdict: Verdict, lang: str = SOURCE_LOCALE) -> RenderableType:
    w = words(lang)
    style = outcome_style(verdict.outcome)
    mark = {GREEN: "✔", AMBER: "!"}.get(style, "✘")
    headline = Text(
        f" {mark} {w(f'headline.{verdict.outcome.value}')} ", style=style, justify="center"
    )
    # The issuer comes first: the certificate number alone does not say whose it is.
    issuer = Text(
        _issuer_line(verdict, w),
        style="bold" if verdict.issuer_confirmed else "bold dark_orange",
        justify="center",
    )

    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold", no_wrap=True)
    facts.add_column()
    claims = verdict.claims
    if claims is not None:
        name = claims.holder_name + (f"  {w('cli.shortened')}" if claims.name_truncated else "")
        facts.add_row(w("field.holder"), Text(name))
        facts.add_row(w("cli.holder_id"), Text(f"{claims.holder_id_scheme} {claims.holder_id}"))
        facts.add_row(
            w("cli.certificate"),
            Text(w("cli.certificate_value", number=claims.number, issuer=claims.issuer)),
        )
        # Tier names are the programs' own codes (C, S, AA): the same in every language.
        facts.add_row(w("field.tier"), Text(" + ".join(tier_names(claims.tiers))))
        record = verdict.certificate
        valid_from = record.valid_from if record else claims.valid_from
        valid_until = record.valid_until if record else claims.valid_until
        start, end = days.from_day(valid_from), days.from_day(valid_until)
        if w.locale == SOURCE_LOCALE:
            span = f"{start.isoformat()} → {end.isoformat()}"
        else:
            locale = w.babel_locale
            span = w(
                "field.validity_range",
                **{
                    "from": format_date(start, "medium", locale=locale),
                    "until": format_date(end, "medium", locale=locale),
                },
            )
        facts.add_row(w("field.validity"), Text(span))
        signer = ""
        if verdict.signing_key is not None:
            key = verdict.signing_key
            signer = ", " + w("cli.key", kid=key.kid.hex(), algorithm=key.algorithm.name)
        signed = datetime.fromtimestamp(claims.issued_at, UTC)
        facts.add_row(w("cli.signed"), Text(f"{signed.strftime('%Y-%m-%d %H:%M UTC')}{signer}"))

    reasons = Text()
    for i, reason in enumerate(verdict.reasons):
        if i:
            reasons.append("\n")
        deciding = outcome_of_reason(reason.code) is verdict.outcome
        reasons.append("• ", style="bold" if deciding else "")
        reasons.append(reason_text(reason, w), style="bold" if deciding else "")
        reasons.append(f"  [{reason.code}]", style="grey50")
    facts.add_row(w("cli.why"), reasons)

    as_of = _status_as_of(verdict, w)
    if as_of is not None:
        registry = Text(as_of, style="bold dark_orange" if verdict.stale else "")
        facts.add_row(w("cli.registry"), registry)
    else:
        facts.add_row(w("cli.registry"), Text(w("cli.no_status"), style="grey50"))

    stages = Text()
    for result in verdict.stages:
        symbol, color = _STAGE_MARK[result.state]
        name_key = f"stage_name.{result.stage}"
        name = w(name_key) if w.locale != SOURCE_LOCALE and w.has(name_key) else result.stage
        # No-break spaces inside an item so a narrow terminal wraps between items.
        label = name.replace(" ", "\u00a0")
        stages.append(f"{symbol}\u00a0{label}  ", style=color)
    facts.add_row(w("cli.checks"), stages)

    return Panel(
        Group(issuer, headline, Text(""), facts),
        title=w("cli.title", authority=verdict.as_authority),
        border_style=style.split()[-1],
        expand=False,
    )


def print_verdict(
    verdict: Verdict, console: Console | None = None, lang: str = SOURCE_LOCALE
) -> None:
    (console or Console()).print(verdict_renderable(verdict, lang))


def verdict_json(verdict: Verdict) -> str:
    return verdict.to_json()
