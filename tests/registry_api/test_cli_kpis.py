"""``aeo kpis``: the KPIs of the registry database the ``AEO_*`` environment names, as a
table or as CSV; bad dates are usage errors naming the option."""

from __future__ import annotations

import csv
import io
import secrets
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aeo.cli import app
from registry_api.db import make_engine, make_session_factory, upgrade_database

from .kpi_history import seed

PERIOD = ("--from", "2026-01-01", "--to", "2026-05-31")


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    engine = make_engine(database_url)
    try:
        upgrade_database(engine)
        with make_session_factory(engine)() as session:
            seed(session)
    finally:
        engine.dispose()
    return {
        "AEO_AUTHORITY": "MN",
        "AEO_DATA_DIR": str(tmp_path / "mn"),
        "AEO_DATABASE_URL": database_url,
        "AEO_CHAIN": "memory",
        "AEO_PASSPHRASE": secrets.token_urlsafe(24),
    }


def _aeo(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env, terminal_width=200)
    # rich draws usage errors in a box, wrapped: read its words
    stderr = " ".join(result.stderr.replace("│", " ").split())
    return result.exit_code, result.stdout, stderr


def test_csv_has_one_row_per_kpi_value(env: dict[str, str]) -> None:
    code, out, err = _aeo(env, "kpis", "--csv", *PERIOD)
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["kpi", "value", "baseline", "target", "target_date"]
    values = {row[0]: row[1] for row in rows[1:]}
    assert values["transitions.2026-02.revoked"] == "1"
    assert values["reason_codes.suspended.FAILED_AUDIT"] == "2"
    assert values["propagation.KR.p50_seconds"] == "4"
    assert values["border_checks.total"] == "9"
    # No indexer runs in the command: the lag is unknown, not zero.
    assert values["operational.indexer_lag_blocks"] == ""


def test_the_table_names_the_administration_and_the_period(env: dict[str, str]) -> None:
    code, out, err = _aeo(env, "kpis", *PERIOD)
    assert code == 0, err
    assert "KPIs of MN, 2026-01-01 to 2026-05-31" in out
    line = next(line for line in out.splitlines() if "border_checks.total" in line)
    assert line.split("│")[2].strip() == "9"


@pytest.mark.parametrize(
    ("args", "option", "message"),
    [
        (("--from", "2026-13-01"), "--from", "is not a date"),
        (("--to", "soon"), "--to", "is not a date"),
        (("--from", "2026-05-01", "--to", "2026-04-01"), "--to", "must be on or after from"),
        (("--from", "1990-01-01", "--to", "2026-01-01"), "--from", "at most 3660 days"),
    ],
)
def test_a_bad_period_is_a_usage_error_naming_the_option(
    env: dict[str, str], args: tuple[str, ...], option: str, message: str
) -> None:
    code, out, err = _aeo(env, "kpis", *args)
    assert code == 2
    assert out == ""
    assert f"Invalid value for '{option}'" in err
    assert message in err
