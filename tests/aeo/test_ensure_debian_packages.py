"""scripts/ensure-debian-packages.sh, the step of ``make demo`` and ``make test`` that checks
Debian's packages: silent when they are there; for an ordinary user, the one apt command to
run and a non-zero exit, never an attempt to install.

The ordinary user is this test's own process with ``id`` answering a non-root uid (a script
first on PATH), so the test runs the same way as root and as a user and never reaches apt."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.aeo.conftest import PROJECT_DIR

SCRIPT = PROJECT_DIR / "scripts" / "ensure-debian-packages.sh"
#: Debian package names cannot contain upper-case letters: nothing can ever install this.
NOT_INSTALLABLE = "aeo-registry-test-package-that-does-not-exist"
#: dpkg itself: installed wherever dpkg-query runs.
INSTALLED = "dpkg"


def _run_as_ordinary_user(tmp_path: Path, *packages: str) -> subprocess.CompletedProcess[str]:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    fake_id = fake_bin / "id"
    fake_id.write_text('#!/bin/sh\n[ "$1" = "-u" ] && echo 1000 && exit 0\nexit 1\n')
    fake_id.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake_bin}:{os.environ['PATH']}"}
    return subprocess.run(
        [str(SCRIPT), *packages], env=env, capture_output=True, text=True, check=False, timeout=60
    )


def test_installed_packages_pass_silently(tmp_path: Path) -> None:
    result = _run_as_ordinary_user(tmp_path, INSTALLED)
    assert result.returncode == 0, result.stderr
    assert result.stdout == result.stderr == ""


def test_a_missing_package_prints_the_one_apt_command_and_stops_for_an_ordinary_user(
    tmp_path: Path,
) -> None:
    result = _run_as_ordinary_user(tmp_path, INSTALLED, NOT_INSTALLABLE)
    assert result.returncode != 0
    assert result.stdout == ""  # nothing was installed, nothing announced as installing
    commands = [line.strip() for line in result.stderr.splitlines() if "apt-get" in line]
    assert commands == [f"sudo apt-get update && sudo apt-get install -y {NOT_INSTALLABLE}"], (
        result.stderr
    )
    assert f"Missing Debian packages: {NOT_INSTALLABLE}" in result.stderr
