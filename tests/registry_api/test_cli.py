"""``python -m registry_api``: the commands docs/api.md shows, run as real processes
against a real server on a free local port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from registry_api.keystore import load_operator_key, load_signing_key

# Slow, so not in `make test-fast` (`make test` runs it): runs the registry CLI and a server as
# processes.
pytestmark = pytest.mark.slow

PASSPHRASE = "a long passphrase generated for this test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def environment(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AEO_")}
    env |= {"AEO_AUTHORITY": "MN", "AEO_DATA_DIR": str(data_dir), "AEO_CHAIN": "memory"}
    return env | extra


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "registry_api", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    env = environment(tmp_path / "mn", AEO_DATABASE_URL=database_url)
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "registry_api", "serve", "--port", str(port)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise AssertionError(f"server exited: {log.read_text()}")
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("server did not become ready in 30 s")
            time.sleep(0.1)
        yield base, env
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_first_admin_key_manages_keys_on_a_running_server(
    server: tuple[str, dict[str, str]],
) -> None:
    base, env = server
    created = run_cli(env, "create-admin-key", "--user", "ops team")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("aeo_")
    assert len(created.stdout.splitlines()) == 1

    again = run_cli(env, "create-admin-key")
    assert again.returncode == 1
    assert "an active admin key exists" in again.stderr

    headers = {"Authorization": f"Bearer {token}"}
    me = httpx.get(f"{base}/v1/me", headers=headers).json()
    assert (me["user"], me["role"], me["authority"]) == ("ops team", "admin", "MN")
    officer = httpx.post(
        f"{base}/v1/admin/api-keys",
        headers=headers,
        json={"user": "b.bat-erdene", "role": "issuing_officer"},
    )
    assert officer.status_code == 201
    assert httpx.get(f"{base}/v1/admin/api-keys", headers=headers).json()["count"] == 2
    assert "aeo_http_request_duration_seconds" in httpx.get(f"{base}/metrics").text


def test_init_keys_creates_encrypted_key_files_once(tmp_path: Path) -> None:
    env = environment(tmp_path / "mn", AEO_PASSPHRASE=PASSPHRASE)
    first = run_cli(env, "init-keys", "--algorithm", "EdDSA")
    assert first.returncode == 0, first.stderr
    described = json.loads(first.stdout)
    assert len(described["created"]) == 2
    operator = load_operator_key(tmp_path / "mn" / "operator-key.json", PASSPHRASE)
    signing = load_signing_key(tmp_path / "mn" / "signing-key.pem", PASSPHRASE)
    assert described["operator_address"] == operator.address
    assert described["signing_kid"] == signing.kid.hex()
    assert described["signing_algorithm"] == "EdDSA"
    assert PASSPHRASE not in first.stdout + first.stderr

    second = run_cli(env, "init-keys")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout) == described | {"created": []}


def test_cli_settings_errors_name_the_variable(tmp_path: Path) -> None:
    env = environment(tmp_path / "mn", AEO_ENVIRONMENT="production", AEO_PASSPHRASE="changethis")
    result = run_cli(env, "create-admin-key")
    assert result.returncode == 2
    assert "passphrase is a placeholder" in result.stderr
    assert "Traceback" not in result.stderr
    wrong = run_cli(environment(tmp_path / "mn", AEO_AUTHORITY="mongolia"), "create-admin-key")
    assert wrong.returncode == 2
    assert "AEO_AUTHORITY" in wrong.stderr
