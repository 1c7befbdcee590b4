"""``aeo keys new --pkcs11``: keys created inside a SoftHSM2 token, their public data printed,
and every argument it cannot work with named (exit 2)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aeo.cli import app
from registry_api import hsm
from tests.registry_api.softhsm import SoftHsm, start_softhsm

from .conftest import AEO, PROJECT_DIR


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    started = start_softhsm(tmp_path_factory)
    yield started
    hsm.close_tokens()


@pytest.fixture
def pin_file(tmp_path: Path, softhsm: SoftHsm) -> Path:
    path = tmp_path / "pin"
    path.write_text(softhsm.pin + "\n", encoding="utf-8")
    return path


def aeo(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed ``aeo``, as an operator runs it (SOFTHSM2_CONF from the test process)."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("AEO_")}
    return subprocess.run(
        [str(AEO), *args],
        cwd=PROJECT_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_keys_new_pkcs11_creates_a_signing_key_in_the_token_and_prints_its_public_data(
    softhsm: SoftHsm, pin_file: Path
) -> None:
    label = f"signing-{uuid.uuid4().hex[:8]}"
    result = aeo(
        "keys", "new", "--pkcs11", "--token", softhsm.token, "--label", label,
        "--kind", "signing", "--pin-file", str(pin_file), "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)

    key = hsm.open_token(softhsm.config()).signing_key(label)
    assert printed == {
        "kind": "signing",
        "token": softhsm.token,
        "label": label,
        "algorithm": "ES256",
        "kid": key.kid.hex(),
        "public_key": key.public.public_key.hex(),
    }
    assert key.token.key_attributes(label, hsm.KeyKind.SIGNING)["extractable"] is False
    assert softhsm.pin not in result.stdout + result.stderr


def test_keys_new_pkcs11_creates_an_operator_account_with_the_pin_from_the_environment(
    softhsm: SoftHsm,
) -> None:
    label = f"operator-{uuid.uuid4().hex[:8]}"
    result = aeo(
        "keys", "new", "--pkcs11", "--label", label, "--kind", "operator", "--json",
        AEO_HSM_PIN=softhsm.pin, AEO_HSM_TOKEN_LABEL=softhsm.token,
        AEO_HSM_MODULE=str(softhsm.module),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)

    account = hsm.open_token(softhsm.config()).operator_account(label)
    assert printed == {
        "kind": "operator",
        "token": softhsm.token,
        "label": label,
        "address": account.address,
        "public_key": account.public_key.hex(),
    }


def test_keys_new_pkcs11_with_a_wrong_pin_says_so_in_one_line(
    softhsm: SoftHsm, tmp_path: Path
) -> None:
    wrong = tmp_path / "pin"
    wrong.write_text(secrets.token_hex(8), encoding="utf-8")
    result = aeo(
        "keys", "new", "--pkcs11", "--token", softhsm.spare_token, "--pin-file", str(wrong),
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: wrong PIN for PKCS#11 token '{softhsm.spare_token}' (AEO_HSM_PIN or "
        "AEO_HSM_PIN_FILE)"
    )
    assert "Traceback" not in result.stderr


def test_keys_new_pkcs11_under_a_label_in_use_refuses_and_keeps_the_key(
    softhsm: SoftHsm, pin_file: Path
) -> None:
    label = f"kept-{uuid.uuid4().hex[:8]}"
    args = ["keys", "new", "--pkcs11", "--token", softhsm.token, "--label", label]
    first = CliRunner().invoke(app, [*args, "--pin-file", str(pin_file), "--json"])
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(app, [*args, "--pin-file", str(pin_file)])

    assert again.exit_code == 1
    assert "already holds an object labelled" in again.output
    kid = hsm.open_token(softhsm.config()).signing_key(label).kid.hex()
    assert json.loads(first.stdout)["kid"] == kid


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["keys", "new"], "PATH: missing"),
        (["keys", "new", "--pkcs11", "k.pem", "--token", "t"], "PATH: a key made with --pkcs11"),
        (["keys", "new", "k.pem", "--token", "t"], "--token: only with --pkcs11"),
        (["keys", "new", "k.pem", "--label", "l"], "--label: only with --pkcs11"),
        (
            ["keys", "new", "--pkcs11", "--token", "t", "--algorithm", "EdDSA"],
            "--algorithm: a signing key in a token is ES256",
        ),
        (["keys", "new", "--pkcs11", "--kind", "operator"], "--token: the token's label"),
        (["keys", "new", "--pkcs11", "--token", "t"], "--pin-file: the token's PIN is needed"),
        (["keys", "new", "--pkcs11", "--token", "t", "--label", " "], "--label: must not be"),
    ],
)
def test_keys_new_names_the_argument_it_cannot_work_with(
    args: list[str], named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("AEO_"):
            monkeypatch.delenv(name)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert named in " ".join(result.output.split())
