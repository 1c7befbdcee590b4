"""Helpers for the ``aeo`` CLI tests: the installed entry point run as a user runs it, in a
temporary data directory, and a background anvil that is always stopped at teardown."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contracts.anvil import free_port, stop_anvil

PROJECT_DIR = Path(__file__).resolve().parents[2]
AEO = Path(sys.executable).parent / "aeo"

RunAeo = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()


@pytest.fixture
def passphrase_env() -> dict[str, str]:
    """An environment whose key-file passphrase is generated for this test only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AEO_")}
    env["AEO_PASSPHRASE"] = secrets.token_urlsafe(24)
    return env


@pytest.fixture
def run_aeo(passphrase_env: dict[str, str]) -> RunAeo:
    """Run the installed ``aeo`` console script from the repository root."""

    def run(*args: str, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(AEO), *args],
            cwd=PROJECT_DIR,
            env=passphrase_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


@pytest.fixture
def chain_dir(tmp_path: Path, run_aeo: RunAeo) -> Iterator[Path]:
    """A data directory whose background anvil (``aeo chain up``) runs during the test."""
    data_dir = tmp_path / "data"
    started = run_aeo("chain", "up", "--data-dir", str(data_dir), "--port", str(free_port()))
    assert started.returncode == 0, started.stderr
    try:
        yield data_dir
    finally:
        stop_anvil(data_dir)
