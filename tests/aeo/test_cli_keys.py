"""``aeo keys``: passphrases of 12 characters or more, and ``aeo keys migrate`` (issue 10)."""

from __future__ import annotations

import json
import secrets
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from typer.testing import CliRunner

from aeo.cli import app
from registry_api.keystore import (
    DEFAULT_SCRYPT_N,
    load_signing_key,
    signing_key_encryption,
)

# Slow, so not in `make test-fast` (`make test` runs it): migrating writes and reads back at
# the production scrypt cost, a few seconds per file.
SLOW = pytest.mark.slow


@pytest.fixture
def passphrase(monkeypatch: pytest.MonkeyPatch) -> str:
    value = secrets.token_urlsafe(24)
    monkeypatch.delenv("AEO_PASSPHRASE_FILE", raising=False)
    monkeypatch.setenv("AEO_PASSPHRASE", value)
    return value


def legacy_signing_key(path: Path, passphrase: str) -> ec.EllipticCurvePrivateKey:
    """A signing key file as ``aeo`` wrote them before issue 10 (PBKDF2, 2,048 iterations)."""
    private = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase.encode()),
        )
    )
    path.chmod(0o644)
    return private


def test_keys_new_refuses_a_passphrase_under_twelve_characters(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AEO_PASSPHRASE_FILE", raising=False)
    monkeypatch.setenv("AEO_PASSPHRASE", "Tr0ub4dor&3")
    path = tmp_path / "signing-key.pem"
    result = cli.invoke(app, ["keys", "new", str(path)])
    assert result.exit_code == 2, result.output
    assert "AEO_PASSPHRASE: the passphrase is shorter than 12 characters" in result.output
    assert "Tr0ub4dor&3" not in result.output
    assert not path.exists()


def test_keys_new_refuses_a_passphrase_file_under_twelve_characters(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "passphrase"
    secret.write_text("short\n", encoding="utf-8")
    monkeypatch.delenv("AEO_PASSPHRASE", raising=False)
    monkeypatch.setenv("AEO_PASSPHRASE_FILE", str(secret))
    path = tmp_path / "operator-key.json"
    result = cli.invoke(app, ["keys", "new", str(path), "--kind", "operator"])
    assert result.exit_code == 2, result.output
    assert f"AEO_PASSPHRASE_FILE {secret}: the passphrase is shorter" in " ".join(
        result.output.split()
    )
    assert not path.exists()


@SLOW
def test_a_legacy_signing_key_is_refused_then_migrated_in_place(
    cli: CliRunner, tmp_path: Path, passphrase: str
) -> None:
    path = tmp_path / "signing-key.pem"
    private = legacy_signing_key(path, passphrase)

    refused = cli.invoke(app, ["keys", "show-public", str(path)])
    assert refused.exit_code == 1
    assert f"re-encrypt it with: aeo keys migrate {path}" in " ".join(refused.output.split())
    assert "Traceback" not in refused.output

    migrated = cli.invoke(app, ["keys", "migrate", str(path), "--json"])
    assert migrated.exit_code == 0, migrated.output
    assert json.loads(migrated.output) == {
        "kind": "signing",
        "path": str(path),
        "migrated": True,
        "before": "PBKDF2 (2,048 iterations)",
        "after": "scrypt (N=2^18, r=8, p=1), AES-256-CBC",
    }
    assert passphrase not in migrated.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert signing_key_encryption(path).n == DEFAULT_SCRYPT_N
    assert load_signing_key(path, passphrase).private_key().private_numbers() == (  # type: ignore[union-attr]
        private.private_numbers()
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["signing-key.pem"]

    again = cli.invoke(app, ["keys", "migrate", str(path)])
    assert again.exit_code == 0, again.output
    assert "migrated    no" in again.output


def test_keys_migrate_with_a_wrong_passphrase_changes_nothing(
    cli: CliRunner, tmp_path: Path, passphrase: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "signing-key.pem"
    legacy_signing_key(path, passphrase)
    before = path.read_bytes()
    monkeypatch.setenv("AEO_PASSPHRASE", passphrase + "x")
    result = cli.invoke(app, ["keys", "migrate", str(path)])
    assert result.exit_code == 1
    assert "wrong passphrase for signing key file" in result.output
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["signing-key.pem"]


@SLOW
def test_keys_migrate_moves_a_short_passphrase_to_a_new_one(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "keys" / "signing-key.pem"
    path.parent.mkdir()
    legacy_signing_key(path, "old short")
    monkeypatch.delenv("AEO_PASSPHRASE_FILE", raising=False)
    monkeypatch.setenv("AEO_PASSPHRASE", "old short")

    refused = cli.invoke(app, ["keys", "migrate", str(path)])
    assert refused.exit_code == 2
    assert "--new-passphrase-file FILE" in refused.output

    new_passphrase = secrets.token_urlsafe(24)
    new_file = tmp_path / "new-passphrase"
    new_file.write_text(new_passphrase + "\n", encoding="utf-8")
    too_short = tmp_path / "too-short"
    too_short.write_text("still short\n", encoding="utf-8")
    short = cli.invoke(app, ["keys", "migrate", str(path), "--new-passphrase-file", str(too_short)])
    assert short.exit_code == 2
    assert "--new-passphrase-file" in short.output

    moved = cli.invoke(app, ["keys", "migrate", str(path), "--new-passphrase-file", str(new_file)])
    assert moved.exit_code == 0, moved.output
    assert new_passphrase not in moved.output
    load_signing_key(path, new_passphrase)
