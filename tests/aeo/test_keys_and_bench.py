"""``aeo keys new|show-public`` and ``aeo bench gas``."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aeo.cli import app
from contracts.domain import ids
from contracts.gas import REPORT_KEYS
from registry_api.keystore import load_signing_key, operator_address

# Slow, so not in `make test-fast` (`make test` runs it): the gas benchmark deploys and exercises
# everything.
pytestmark = pytest.mark.slow


@pytest.fixture
def passphrase(monkeypatch: pytest.MonkeyPatch) -> str:
    import secrets

    value = secrets.token_urlsafe(24)
    monkeypatch.delenv("AEO_PASSPHRASE_FILE", raising=False)
    monkeypatch.setenv("AEO_PASSPHRASE", value)
    return value


def test_keys_new_writes_an_encrypted_signing_key_and_prints_its_public_half(
    cli: CliRunner, tmp_path: Path, passphrase: str
) -> None:
    path = tmp_path / "signing-key.pem"
    result = cli.invoke(app, ["keys", "new", str(path), "--algorithm", "EdDSA", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    key = load_signing_key(path, passphrase)
    assert shown["algorithm"] == "EdDSA"
    assert shown["public_key"] == key.public.public_key.hex()
    assert shown["kid"] == ids.key_id(key.public.public_key).hex()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert passphrase not in result.output

    again = cli.invoke(app, ["keys", "show-public", str(path), "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output) == shown


def test_keys_new_never_overwrites_a_key(cli: CliRunner, tmp_path: Path, passphrase: str) -> None:
    path = tmp_path / "signing-key.pem"
    path.write_text("precious", encoding="utf-8")
    result = cli.invoke(app, ["keys", "new", str(path)])
    assert result.exit_code == 2
    assert "never overwritten" in result.output
    assert path.read_text(encoding="utf-8") == "precious"


def test_operator_key_shows_its_address_without_the_passphrase(
    cli: CliRunner, tmp_path: Path, passphrase: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "operator-key.json"
    created = cli.invoke(app, ["keys", "new", str(path), "--kind", "operator", "--json"])
    assert created.exit_code == 0, created.output
    monkeypatch.delenv("AEO_PASSPHRASE")
    shown = cli.invoke(app, ["keys", "show-public", str(path), "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["address"] == operator_address(path)


def test_signing_key_with_a_wrong_passphrase_is_refused_in_one_line(
    cli: CliRunner, tmp_path: Path, passphrase: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "signing-key.pem"
    assert cli.invoke(app, ["keys", "new", str(path)]).exit_code == 0
    monkeypatch.setenv("AEO_PASSPHRASE", passphrase + "x")
    result = cli.invoke(app, ["keys", "show-public", str(path)])
    assert result.exit_code == 1
    assert "wrong passphrase" in result.output
    assert "Traceback" not in result.output


def test_bench_gas_json_reports_every_operation(cli: CliRunner) -> None:
    result = cli.invoke(app, ["bench", "gas", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert list(report)[: len(REPORT_KEYS)] == list(REPORT_KEYS)
    assert all(isinstance(report[key], int) and report[key] > 21_000 for key in REPORT_KEYS)


def test_bench_gas_table_names_every_operation(cli: CliRunner) -> None:
    result = cli.invoke(app, ["bench", "gas"])
    assert result.exit_code == 0, result.output
    for key in REPORT_KEYS:
        assert key in result.stdout
