"""``aeo consortium join-request --pkcs11``: the newcomer's signing and operator keys are
made inside a SoftHSM2 token and never leave it; the request is signed in the token, and
the registry settings ``activate`` writes select the token."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from pydantic import SecretStr
from typer.testing import CliRunner

from aeo.cli import app
from aeo.consortium import write_registry_env
from aeo.workspace import Workspace
from registry_api import hsm
from registry_api.schemas.admin_chain import MembershipRequest
from registry_api.settings import Settings
from tests.registry_api.softhsm import SoftHsm

from .test_cli_pkcs11 import pin_file, softhsm

__all__ = ["pin_file", "softhsm"]  # the fixtures, shared with the keys new --pkcs11 tests


def test_join_request_pkcs11_makes_the_keys_in_the_token_and_signs_the_request_there(
    softhsm: SoftHsm, pin_file: Path, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:8]
    signing_label, operator_label = f"uz-signing-{suffix}", f"uz-operator-{suffix}"
    result = CliRunner().invoke(app, [
        "consortium", "join-request", "--code", "UZ", "--name", "Customs Committee of Uzbekistan",
        "--data-dir", str(tmp_path), "--pkcs11", "--token", softhsm.token,
        "--pin-file", str(pin_file), "--signing-label", signing_label,
        "--operator-label", operator_label, "--generate-passphrase",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert softhsm.pin not in result.output

    text = (tmp_path / "UZ" / "join-request.json").read_text(encoding="utf-8")
    request = MembershipRequest.model_validate_json(text)  # signed by the token's key
    token = hsm.open_token(softhsm.config())
    signing = token.signing_key(signing_label)
    assert request.signing_key.kid == signing.kid.hex()
    assert request.operator == token.operator_account(operator_label).address
    for label, kind in (
        (signing_label, hsm.KeyKind.SIGNING),
        (operator_label, hsm.KeyKind.OPERATOR),
    ):
        assert token.key_attributes(label, kind)["extractable"] is False
    # Only the admin key is a file; nothing of the token's keys is on disk.
    assert sorted(p.name for p in (tmp_path / "UZ").iterdir()) == [
        "admin-key.json", "join-request.json", "key-backend.env", "secrets",
    ]  # fmt: skip

    workspace = Workspace(tmp_path)
    env = write_registry_env(workspace, "UZ", "http://127.0.0.1:8545", tmp_path / "d.json")
    settings = Settings(_env_file=env, hsm_pin=SecretStr(softhsm.pin))  # type: ignore[call-arg]
    assert settings.key_backend is hsm.KeyBackend.PKCS11
    assert (settings.hsm_token_label, settings.hsm_signing_key_label) == (
        softhsm.token,
        signing_label,
    )
    assert settings.hsm_operator_key_label == operator_label
    assert "KEY_FILE" not in env.read_text(encoding="utf-8")
    assert json.loads(text)["admin"] == request.admin


def test_join_request_token_options_without_pkcs11_are_named(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, [
        "consortium", "join-request", "--code", "UZ", "--name", "X", "--data-dir", str(tmp_path),
        "--token", "UZ-HSM",
    ])  # fmt: skip
    assert result.exit_code == 2
    assert "--token: only with --pkcs11" in " ".join(result.output.split())
    assert not (tmp_path / "UZ").exists()
