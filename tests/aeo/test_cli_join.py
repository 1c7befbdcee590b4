"""``aeo consortium join-request`` and the commands that read its file: what the request
holds (public data, a signature that verifies) and what it never holds (a private key), and
a clear refusal naming the argument for every bad input, before any chain is reached."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aeo.cli import app
from registry_api.keystore import load_operator_key, load_signing_key
from registry_api.schemas.admin_chain import MembershipRequest

NAME = "Customs Committee of Uzbekistan"


@pytest.fixture
def env(passphrase_env: dict[str, str]) -> dict[str, str]:
    return passphrase_env


def join(cli: CliRunner, env: dict[str, str], data_dir: Path, *extra: str) -> tuple[int, str]:
    result = cli.invoke(
        app,
        ["consortium", "join-request", "--data-dir", str(data_dir), *extra],
        env=env,
    )
    return result.exit_code, " ".join(result.output.split())


def test_a_join_request_holds_public_data_signed_and_no_private_key(
    cli: CliRunner, env: dict[str, str], tmp_path: Path
) -> None:
    code, output = join(cli, env, tmp_path, "--code", "UZ", "--name", f"  {NAME} ")
    assert code == 0, output
    path = tmp_path / "UZ" / "join-request.json"
    text = path.read_text(encoding="utf-8")
    request = MembershipRequest.model_validate_json(text)  # the signature verifies
    assert (request.code, request.name, request.number_prefix) == ("UZ", NAME, "UZ")
    assert request.signing_key.algorithm.label == "ES256"
    assert request.operator in output
    assert set(json.loads(text)) == {
        "format", "code", "name", "number_prefix", "admin", "operator", "signing_key",
        "created_at", "signature",
    }  # fmt: skip

    passphrase = env["AEO_PASSPHRASE"]
    admin = load_operator_key(tmp_path / "UZ" / "admin-key.json", passphrase)
    operator = load_operator_key(tmp_path / "UZ" / "operator-key.json", passphrase)
    assert (admin.address, operator.address) == (request.admin, request.operator)
    signing = load_signing_key(tmp_path / "UZ" / "signing-key.pem", passphrase)
    assert signing.kid.hex() == request.signing_key.kid
    for key in (admin, operator):
        assert bytes(key.account().key).hex() not in text.lower()
    for name in ("admin-key.json", "operator-key.json", "signing-key.pem"):
        assert stat.S_IMODE(os.stat(tmp_path / "UZ" / name).st_mode) == 0o600


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--code", "uz", "--name", NAME], "--code"),
        (["--code", "UZ", "--name", "   "], "--name: must be 1 to 64 characters"),
        (["--code", "UZ", "--name", "x" * 65], "--name: must be 1 to 64 characters, got 65"),
        (["--code", "UZ", "--name", "Customs\x07"], "--name: must not contain control"),
        (["--code", "UZ", "--name", NAME, "--algorithm", "RS256"], "--algorithm"),
    ],
)
def test_a_bad_join_request_argument_is_named_and_makes_no_key(
    cli: CliRunner, env: dict[str, str], tmp_path: Path, args: list[str], named: str
) -> None:
    code, output = join(cli, env, tmp_path, *args)
    assert code == 2, output
    assert named in output
    assert not (tmp_path / "UZ").exists()


def test_a_second_request_in_the_same_data_directory_is_refused_and_keeps_the_keys(
    cli: CliRunner, env: dict[str, str], tmp_path: Path
) -> None:
    assert join(cli, env, tmp_path, "--code", "UZ", "--name", NAME)[0] == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "UZ").iterdir()}
    (tmp_path / "UZ" / "join-request.json").unlink()
    code, output = join(cli, env, tmp_path, "--code", "UZ", "--name", NAME)
    assert code == 1, output
    assert "keys were made in" in output
    assert "never overwritten" in output
    after = {p.name: p.read_bytes() for p in (tmp_path / "UZ").iterdir()}
    assert after == {n: b for n, b in before.items() if n != "join-request.json"}


def test_an_existing_request_file_is_never_overwritten(
    cli: CliRunner, env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "request.json"
    out.write_text("{}", encoding="utf-8")
    code, output = join(cli, env, tmp_path, "--code", "UZ", "--name", NAME, "--out", str(out))
    assert code == 2, output
    assert "--out:" in output
    assert out.read_text(encoding="utf-8") == "{}"
    assert not (tmp_path / "UZ").exists()


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (None, "cannot be read"),
        ("not json", "is not a valid membership request: the document: Invalid JSON"),
        ('{"format": "aeo-membership-request/1"}', "code: Field required"),
        ("[]", "is not a valid membership request"),
    ],
)
def test_propose_names_a_request_file_it_cannot_use(
    cli: CliRunner, env: dict[str, str], tmp_path: Path, content: str | None, named: str
) -> None:
    path = tmp_path / "request.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = cli.invoke(
        app,
        ["consortium", "propose", "--request", str(path), "--as", "MN",
         "--data-dir", str(tmp_path)],
        env=env,
    )  # fmt: skip
    output = " ".join(result.output.split())
    assert result.exit_code == 2, output
    assert "--request:" in output
    assert named in output


def test_an_altered_request_is_refused_before_any_chain_is_reached(
    cli: CliRunner, env: dict[str, str], tmp_path: Path
) -> None:
    assert join(cli, env, tmp_path, "--code", "UZ", "--name", NAME)[0] == 0
    request = json.loads((tmp_path / "UZ" / "join-request.json").read_text(encoding="utf-8"))
    altered = tmp_path / "altered.json"
    altered.write_text(json.dumps({**request, "name": "Someone Else"}), encoding="utf-8")
    result = cli.invoke(
        app,
        ["consortium", "propose", "--request", str(altered), "--as", "MN",
         "--data-dir", str(tmp_path / "nowhere")],
        env=env,
    )  # fmt: skip
    output = " ".join(result.output.split())
    assert result.exit_code == 2, output
    assert (
        f"signature: Value error, does not verify with signing key {request['signing_key']['kid']}"
        in output
    )


def test_activate_without_a_chain_to_reach_names_rpc_url(
    cli: CliRunner, env: dict[str, str], tmp_path: Path
) -> None:
    result = cli.invoke(
        app, ["consortium", "activate", "--code", "UZ", "--data-dir", str(tmp_path)], env=env
    )
    output = " ".join(result.output.split())
    assert result.exit_code == 2, output
    assert "--rpc-url" in output


def test_a_vote_on_proposal_zero_is_a_bad_argument(
    cli: CliRunner, env: dict[str, str], tmp_path: Path
) -> None:
    result = cli.invoke(
        app,
        ["consortium", "vote", "--proposal", "0", "--as", "KZ", "--data-dir", str(tmp_path)],
        env=env,
    )
    assert result.exit_code == 2
    assert "--proposal" in " ".join(result.output.split())
