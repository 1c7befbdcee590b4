"""Installing never rewrites a tracked file: a fresh clone's `make install` leaves it clean,
and installs the `aeo` command (the package `aeo`, from scripts/aeo/), not a package named
`scripts`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.aeo.conftest import PROJECT_DIR

pytestmark = pytest.mark.slow  # a whole venv and node_modules installed in a clone: a minute


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def test_make_install_in_a_fresh_clone_leaves_git_status_clean(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    _git("clone", "--quiet", "--no-hardlinks", str(PROJECT_DIR), str(clone), cwd=tmp_path)
    environment = {**os.environ, "PYTHON": sys.executable}
    environment.pop("VIRTUAL_ENV", None)
    result = subprocess.run(
        ["make", "install"], cwd=clone, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert (clone / "node_modules" / "@foundry-rs" / "anvil").is_dir()
    assert _git("status", "--porcelain", cwd=clone) == ""
    python, aeo = clone / ".venv" / "bin" / "python", clone / ".venv" / "bin" / "aeo"
    # Outside the clone, so only what the install put on the path can be imported.
    for command in ([str(aeo), "--help"], [str(python), "-m", "aeo", "--help"]):
        ran = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
        assert ran.returncode == 0, ran.stderr[-2000:]
        assert "aeo [OPTIONS] COMMAND" in ran.stdout
    imported = subprocess.run(
        [str(python), "-c", "import aeo.cli; import scripts"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert "No module named 'scripts'" in imported.stderr
