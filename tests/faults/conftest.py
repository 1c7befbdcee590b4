"""Fixtures of the fault tests: the consortium founded once per session, and per test a
copy of it with its own anvil (``world``). Every test here runs real processes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .world import World, found_template, open_world


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The services and the test read settings from the data directory, not the shell's
    AEO_* variables (AEO_ANVIL_BIN, which only picks the binary, is kept)."""
    for name in list(os.environ):
        if name.startswith("AEO_") and name != "AEO_ANVIL_BIN":
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def founded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with the contracts deployed and MN, KZ, KR founded (anvil stopped)."""
    data_dir = tmp_path_factory.mktemp("founded") / "data"
    found_template(data_dir)
    return data_dir


@pytest.fixture
def world(founded: Path, tmp_path: Path) -> Iterator[World]:
    with open_world(founded, tmp_path / "data") as world:
        yield world
