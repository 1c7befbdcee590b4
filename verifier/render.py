"""The verdict for a terminal: one colored screen (rich), or the JSON form.

Green: valid and recognized. Amber: valid but not recognized by this administration.
Red: anything else (not valid, or could not be verified). Every string coming from the QR
code goes into ``rich.text.Text`` objects, never into markup, so a crafted name cannot
restyle or rewrite the officer's screen.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from contracts.domain import days
from contracts.domain.enums import tier_names
from verifier.verdict import Outcome, StageState, Verdict, outcome_of_reason

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


def verdict_renderable(verdict: Verdict) -> RenderableType:
    style = outcome_style(verdict.outcome)
    mark = {GREEN: "✔", AMBER: "!"}.get(style, "✘")
    headline = Text(f" {mark} {verdict.headline} ", style=style, justify="center")
    # The issuer comes first: the certificate number alone does not say whose it is.
    issuer = Text(
        verdict.issuer_line(),
        style="bold" if verdict.issuer_confirmed else "bold dark_orange",
        justify="center",
    )

    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold", no_wrap=True)
    facts.add_column()
    claims = verdict.claims
    if claims is not None:
        name = claims.holder_name + ("  (shortened on the QR)" if claims.name_truncated else "")
        facts.add_row("Holder", Text(name))
        facts.add_row("Holder ID", Text(f"{claims.holder_id_scheme} {claims.holder_id}"))
        facts.add_row("Certificate", Text(f"{claims.number} (issued by {claims.issuer})"))
        facts.add_row("Tier", Text(" + ".join(tier_names(claims.tiers))))
        record = verdict.certificate
        valid_from = record.valid_from if record else claims.valid_from
        valid_until = record.valid_until if record else claims.valid_until
        start, end = days.from_day(valid_from), days.from_day(valid_until)
        facts.add_row("Valid", Text(f"{start.isoformat()} → {end.isoformat()}"))
        signer = ""
        if verdict.signing_key is not None:
            key = verdict.signing_key
            signer = f", key {key.kid.hex()} ({key.algorithm.name})"
        signed = datetime.fromtimestamp(claims.issued_at, UTC)
        facts.add_row("Signed", Text(f"{signed.strftime('%Y-%m-%d %H:%M UTC')}{signer}"))

    reasons = Text()
    for i, reason in enumerate(verdict.reasons):
        if i:
            reasons.append("\n")
        deciding = outcome_of_reason(reason.code) is verdict.outcome
        reasons.append("• ", style="bold" if deciding else "")
        reasons.append(reason.message, style="bold" if deciding else "")
        reasons.append(f"  [{reason.code}]", style="grey50")
    facts.add_row("Why", reasons)

    as_of = verdict.status_as_of()
    if as_of is not None:
        facts.add_row("Registry", Text(as_of, style="bold dark_orange" if verdict.stale else ""))
    else:
        facts.add_row("Registry", Text("no status data was read", style="grey50"))

    stages = Text()
    for result in verdict.stages:
        symbol, color = _STAGE_MARK[result.state]
        # No-break space inside an item so a narrow terminal wraps between items.
        stages.append(f"{symbol}\u00a0{result.stage}  ", style=color)
    facts.add_row("Checks", stages)

    return Panel(
        Group(issuer, headline, Text(""), facts),
        title=f"AEO certificate check for {verdict.as_authority}",
        border_style=style.split()[-1],
        expand=False,
    )


def print_verdict(verdict: Verdict, console: Console | None = None) -> None:
    (console or Console()).print(verdict_renderable(verdict))


def verdict_json(verdict: Verdict) -> str:
    return verdict.to_json()
