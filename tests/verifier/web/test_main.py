"""`python -m verifier.web` serves the page from an offline cache file."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .world import World

# Slow, so not in `make test-fast` (`make test` runs it): runs the page's module as a process.
pytestmark = pytest.mark.slow

_START_TIMEOUT_S = 60.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_module_serves_the_page_and_verifies_from_the_cache(world: World) -> None:
    port = _free_port()
    command = [sys.executable, "-m", "verifier.web", "--as", "KR", "--cache", str(world.cache_path)]
    server = subprocess.Popen(
        [*command, "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + _START_TIMEOUT_S
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        assert "app.bundle.js" in httpx.get(base).text
        verdict = httpx.post(
            f"{base}/api/verify", json={"text": world.texts["tampered"]}, timeout=60
        ).json()
        assert verdict["outcome"] == "bad_signature"
    finally:
        server.kill()
        server.wait()
        if server.stdout is not None:
            server.stdout.close()


def test_a_missing_cache_file_is_a_usage_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.sqlite"
    result = subprocess.run(
        [sys.executable, "-m", "verifier.web", "--as", "KR", "--cache", str(missing)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert f"--cache: {missing} does not exist" in result.stderr
    assert not missing.exists()


def test_a_malformed_authority_is_a_usage_error(world: World) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "verifier.web", "--as", "korea", "--cache", str(world.cache_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "as_authority: authority code must be 2 to 4 upper-case letters" in result.stderr
