"""Files of the data directory (``aeo.workspace``): private files stay private."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from aeo.workspace import write_json


def test_a_private_json_file_is_0600_even_over_a_stale_world_readable_scratch_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "demo" / "keys.json"
    path.parent.mkdir()
    # What a crashed run of this very process id would have left behind.
    stale = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    stale.write_text("stale", encoding="utf-8")
    stale.chmod(0o644)

    write_json(path, {"MN": {"admin": "a token"}}, private=True)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text(encoding="utf-8")) == {"MN": {"admin": "a token"}}
    assert not stale.exists()


def test_a_public_json_file_is_readable_by_others(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        write_json(tmp_path / "consortium.json", {"format": 1})
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "consortium.json").stat().st_mode) == 0o644
