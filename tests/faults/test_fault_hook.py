"""The AEO_FAULT_CRASH_AT test hook (registry_api.faults): what it accepts, and that a
production service refuses to start with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from registry_api.errors import ConfigurationError
from registry_api.faults import CRASH_AT_ENV, CrashAt, CrashPoint, crash_hook_from_environment
from registry_api.settings import Settings

from .world import PROJECT_DIR


def settings(tmp_path: Path, **values: str) -> Settings:
    return Settings(authority="MN", data_dir=tmp_path, **values)  # type: ignore[arg-type]


def test_the_hook_names_a_point_and_an_occurrence() -> None:
    assert CrashAt.parse("after_sign:3") == CrashAt(CrashPoint.AFTER_SIGN, 3)
    assert CrashAt.parse(" after_index_page:1 ") == CrashAt(CrashPoint.AFTER_INDEX_PAGE, 1)


@pytest.mark.parametrize("value", ["after_sign", "after_sign:0", "sign:1", "after_sign:x"])
def test_an_unreadable_hook_is_refused_naming_the_variable_and_the_points(value: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        CrashAt.parse(value)
    assert refused.value.detail.startswith(f"{CRASH_AT_ENV} must be <point>:<n>")
    assert "before_sign, after_sign, after_broadcast, before_receipt" in refused.value.detail


def test_without_the_variable_there_is_no_hook(tmp_path: Path) -> None:
    assert crash_hook_from_environment(settings(tmp_path), {}) is None
    assert crash_hook_from_environment(settings(tmp_path), {CRASH_AT_ENV: " "}) is None


def test_the_hook_is_refused_in_production(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    production = settings(tmp_path, environment="production", passphrase="a real long secret")
    with pytest.raises(ConfigurationError, match=r"test hook .* refused in production"):
        crash_hook_from_environment(production, {CRASH_AT_ENV: "after_sign:1"})
    monkeypatch.setenv(CRASH_AT_ENV, "after_sign:1")
    with pytest.raises(ValidationError, match="AEO_FAULT_CRASH_AT is a test hook"):
        settings(tmp_path, environment="production", passphrase="a real long secret")
    assert settings(tmp_path).environment.value == "development"


@pytest.mark.anvil
def test_a_production_service_with_the_hook_does_not_start(founded: Path) -> None:
    """``aeo serve`` exits with a one-line error before it touches anything."""
    env = {
        "PATH": "/usr/bin:/bin",
        "AEO_ENVIRONMENT": "production",
        CRASH_AT_ENV: "after_sign:1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "aeo.cli", "serve", "--authority", "MN",
         "--data-dir", str(founded)],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "AEO_FAULT_CRASH_AT is a test hook" in done.stderr
    assert "Traceback" not in done.stderr
