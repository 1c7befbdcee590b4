"""scripts/consortium.py and scripts/cli_join.py: a new administration joins the consortium
from its own machine. Three founders are bootstrapped on one anvil in data directory A; UZ
works in data directory B, with its own passphrase and processes, and shares nothing with
A but the chain's RPC URL, the (public) deployment file and its request file."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from contracts.anvil import free_port, stop_anvil
from registry_api.db import Role, make_engine, make_session_factory, upgrade_database
from registry_api.keystore import load_operator_key, load_signing_key
from registry_api.services.api_keys import create_api_key

from ..registry_api.certificate_data import record_body
from .conftest import AEO, PROJECT_DIR
from .test_serving import START_BOUND, aeo_process, wait_answering

# Slow (a chain, four administrations' keys, a registry process): `make test` runs it.
pytestmark = pytest.mark.slow

UZ_NAME = "Customs Committee of Uzbekistan"


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(AEO), *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr
    return " ".join(result.stderr.split())


def api_keys(data_dir: Path, code: str) -> dict[Role, str]:
    """An issuing officer's and an admin's API key in ``code``'s own database."""
    engine = make_engine(f"sqlite:///{data_dir / code / 'registry.db'}")
    try:
        upgrade_database(engine)
        with make_session_factory(engine)() as session:
            tokens = {}
            for role in (Role.ISSUING_OFFICER, Role.ADMIN):
                _key, tokens[role] = create_api_key(
                    session, user=f"{role.value}@{code}", role=role, own_authority=code
                )
            return tokens
    finally:
        engine.dispose()


def wait_operation(client: httpx.Client, operation: dict[str, Any], token: str) -> None:
    deadline = time.monotonic() + START_BOUND
    while operation["state"] not in {"confirmed", "failed"}:
        assert time.monotonic() < deadline, operation
        time.sleep(0.3)
        operation = client.get(
            f"/v1/operations/{operation['id']}", headers={"Authorization": f"Bearer {token}"}
        ).json()
    assert operation["state"] == "confirmed", operation


def signed_payload(client: httpx.Client, number: str, token: str) -> tuple[str, str]:
    """The certificate's AEO1 text and signing key id, once the registry can sign it."""
    deadline = time.monotonic() + START_BOUND
    while True:
        answer = client.get(
            f"/v1/certificates/{number}/payload", headers={"Authorization": f"Bearer {token}"}
        )
        if answer.status_code == 200:
            return answer.text, answer.headers["AEO-Signing-Key-Id"]
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.3)


def private_secrets(data_dir: Path, code: str, passphrase: str) -> list[bytes]:
    """Every private key ``code`` holds in ``data_dir``, as raw bytes."""
    member = data_dir / code
    found = [
        bytes(load_operator_key(member / name, passphrase).account().key)
        for name in ("admin-key.json", "operator-key.json")
    ]
    for pem in member.glob("signing-key*.pem"):
        private = load_signing_key(pem, passphrase).private_key()
        assert isinstance(private, ec.EllipticCurvePrivateKey)
        found.append(private.private_numbers().private_value.to_bytes(32, "big"))
        found.append(
            private.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return found


def files_holding(folder: Path, needles: list[bytes]) -> list[str]:
    forms = [form for n in needles for form in (n, n.hex().encode(), n.hex().upper().encode())]
    return [
        str(path)
        for path in folder.rglob("*")
        if path.is_file() and any(form in path.read_bytes() for form in forms)
    ]


def verify_at(env: dict[str, str], data_dir: Path, payload: str, as_code: str) -> dict[str, Any]:
    result = run(env, "verify", payload, "--as", as_code, "--data-dir", str(data_dir), "--json")
    assert result.returncode in {0, 1}, result.stdout + result.stderr
    verdict: dict[str, Any] = json.loads(result.stdout)
    return verdict


def test_a_new_member_joins_from_its_own_data_directory_and_issues_what_a_founder_verifies(
    tmp_path: Path, passphrase_env: dict[str, str]
) -> None:
    a, b, shared = tmp_path / "A", tmp_path / "B", tmp_path / "shared"
    env_a = passphrase_env
    env_b = {**passphrase_env, "AEO_PASSPHRASE": secrets.token_urlsafe(24)}
    chain_port = free_port()
    rpc_url = f"http://127.0.0.1:{chain_port}"
    ok(run(env_a, "chain", "up", "--data-dir", str(a), "--port", str(chain_port)))
    try:
        ok(run(env_a, "deploy", "--data-dir", str(a)))
        ok(run(env_a, "consortium", "bootstrap", "--data-dir", str(a)))
        [deployment] = (a / "deployments").glob("*.json")

        # UZ's machine: its keys, and the request it sends.
        made = ok(
            run(env_b, "consortium", "join-request", "--code", "UZ", "--name", UZ_NAME,
                "--data-dir", str(b))
        )  # fmt: skip
        shared.mkdir()
        shutil.copy(b / "UZ" / "join-request.json", shared / "UZ-request.json")
        shutil.copy(deployment, shared / "deployment.json")
        request = json.loads((shared / "UZ-request.json").read_text())
        assert request["code"] == "UZ"
        assert request["operator"] in made

        # A request altered on its way is refused, naming the field that gives it away.
        altered = shared / "altered.json"
        altered.write_text(json.dumps({**request, "admin": request["operator"]}))
        refused = run(env_a, "consortium", "propose", "--request", str(altered), "--as", "MN",
                      "--data-dir", str(a))  # fmt: skip
        assert refused.returncode == 2
        assert "signature" in one_line(refused)
        assert "does not verify" in one_line(refused)

        proposed = ok(
            run(env_a, "consortium", "propose", "--request", str(shared / "UZ-request.json"),
                "--as", "MN", "--data-dir", str(a))
        )  # fmt: skip
        assert "1 of 2 approvals" in proposed

        # One vote of the three members' two: UZ cannot act yet, and is told why.
        given = shared / "deployment.json"
        activate = ("consortium", "activate", "--code", "UZ", "--data-dir", str(b),
                    "--rpc-url", rpc_url, "--deployment", str(given))  # fmt: skip
        early = run(env_b, *activate)
        assert early.returncode == 1, early.stdout + early.stderr
        assert "UZ is not a member yet: proposal 1 to admit it has 1 of the 2 approvals" in (
            one_line(early)
        )

        ok(run(env_a, "consortium", "vote", "--proposal", "1", "--as", "KZ", "--data-dir", str(a)))
        activated = ok(run(env_b, *activate))
        assert f"operator {request['operator']}" in activated
        assert ok(run(env_b, *activate))  # a second run only rewrites the settings

        # UZ's registry, in its own data directory and process, issues a certificate.
        tokens = api_keys(b, "UZ")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = tmp_path / "uz.log"
        with (
            aeo_process(
                env_b, log, "serve", "--authority", "UZ", "--data-dir", str(b), "--port", str(port)
            ) as serve,  # fmt: skip
            httpx.Client(base_url=base, timeout=30) as client,
        ):
            wait_answering(base + "/healthz", serve, log)
            officer = tokens[Role.ISSUING_OFFICER]
            headers = {"Authorization": f"Bearer {officer}"}
            issued = client.post(
                "/v1/certificates",
                json=record_body("UZ-AEO-0001"),
                headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
            )
            assert issued.status_code == 202, issued.text
            wait_operation(client, issued.json(), officer)
            payload, kid = signed_payload(client, "UZ-AEO-0001", officer)
            assert kid == request["signing_key"]["kid"]

            # MN's verifier, on A's data directory, trusts the key UZ published.
            verdict = verify_at(env_a, a, payload, "MN")
            assert verdict["outcome"] == "not_recognized", verdict  # valid; no MRA with UZ

            # A key rotation from UZ's own registry: the next document verifies at MN too.
            admin = tokens[Role.ADMIN]
            rotated = client.post(
                "/v1/admin/signing-keys/rotate",
                headers={"Authorization": f"Bearer {admin}", "Idempotency-Key": "rotate-1"},
            )
            assert rotated.status_code == 202, rotated.text
            wait_operation(client, rotated.json()["registration"], admin)
            wait_operation(client, rotated.json()["revocation"], admin)
            new_kid = rotated.json()["new_kid"]
            second = client.post(
                "/v1/certificates",
                json=record_body("UZ-AEO-0002"),
                headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
            )
            assert second.status_code == 202, second.text
            wait_operation(client, second.json(), officer)
            deadline = time.monotonic() + START_BOUND
            while (found := signed_payload(client, "UZ-AEO-0002", officer))[1] != new_kid:
                assert time.monotonic() < deadline, found
                time.sleep(0.3)
            verdict = verify_at(env_a, a, found[0], "MN")
            assert verdict["outcome"] == "not_recognized", verdict

        # Nothing private of UZ's ever reached A (nor the files it shared).
        uz_secrets = private_secrets(b, "UZ", env_b["AEO_PASSPHRASE"])
        assert len(uz_secrets) == 2 + 2 * 2  # admin, operator; two signing keys
        assert files_holding(a, uz_secrets) == []
        assert files_holding(shared, uz_secrets) == []
        assert files_holding(b, uz_secrets) == []  # at rest, even B holds them encrypted only
    finally:
        stop_anvil(a)
