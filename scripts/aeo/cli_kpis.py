"""``aeo kpis --authority MN [--csv] [--from DATE] [--to DATE]``: the programme's KPIs, as
``GET /v1/kpis`` computes them, read straight from the administration's registry database
(``DATA_DIR/<CODE>/registry.env`` with ``--authority``, otherwise the ``AEO_*`` environment,
as ``aeo users``). ``scripts/aeo/cli.py`` calls :func:`register`.

The command runs no indexer, so the indexer's lag (which needs the chain's head) is shown as
unknown; ``GET /v1/kpis`` on the running service has it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

# The same way to the database as `aeo users` (one place reads registry.env).
from aeo.cli_users import Authority, DataDir, _database as database
from aeo.workspace import DEFAULT_DATA_DIR
from registry_api.db import utc_now
from registry_api.errors import InvalidError
from registry_api.services import kpis

#: the service's query parameters, as this command names them
_OPTION_OF_FIELD = {"query.from": "--from", "query.to": "--to"}


def _day(option: str) -> Callable[[str | None], date | None]:
    def parse(value: str | None) -> date | None:
        if value is None:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise typer.BadParameter(
                f"{value!r} is not a date (YYYY-MM-DD)", param_hint=f"'{option}'"
            ) from None

    return parse


def _text(value: float | None) -> str:
    if value is None:
        return "–"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def register(
    app: typer.Typer,
    guard: Callable[[Callable[..., None]], Callable[..., None]],
    out: Console,
    err: Console,
) -> None:
    """Add ``aeo kpis`` to ``app``; ``guard`` turns errors into one line."""

    @app.command("kpis")
    @guard
    def kpis_command(
        authority: Authority = None,
        data_dir: DataDir = DEFAULT_DATA_DIR,
        csv_output: Annotated[
            bool, typer.Option("--csv", help="CSV on stdout, one row per KPI value.")
        ] = False,
        start: Annotated[
            str | None,
            typer.Option(
                "--from",
                help="First day (YYYY-MM-DD); default: a year before --to, plus a day.",
                show_default=False,
            ),
        ] = None,
        end: Annotated[
            str | None,
            typer.Option("--to", help="Last day (YYYY-MM-DD); default: today.", show_default=False),
        ] = None,
    ) -> None:
        """The programme's KPIs for a period, each with its baseline and target."""
        first, last = _day("--from")(start), _day("--to")(end)
        now = utc_now()
        try:
            period = kpis.period_of(first, last, now.date())
        except InvalidError as exc:
            option = _OPTION_OF_FIELD.get(exc.errors[0].field, "--from") if exc.errors else "--from"
            message = exc.errors[0].message if exc.errors else exc.detail
            raise typer.BadParameter(message, param_hint=f"'{option}'") from None
        with database(authority, data_dir) as (session, settings):
            answer = kpis.compute(session, authority=settings.authority, period=period, now=now)
        if csv_output:
            sys.stdout.write(kpis.to_csv(answer))
            sys.stdout.flush()
            return
        table = Table(
            title=(
                f"KPIs of {answer.authority}, {period.from_} to {period.to} "
                f"(as of {now:%Y-%m-%d %H:%M} UTC)"
            )
        )
        for column in ("KPI", "value", "baseline", "target", "by"):
            table.add_column(column, justify="left" if column == "KPI" else "right")
        for value in answer.values:
            table.add_row(
                value.kpi,
                _text(value.value),
                _text(value.baseline),
                _text(value.target),
                value.target_date.isoformat() if value.target_date else "",
            )
        out.print(table)
