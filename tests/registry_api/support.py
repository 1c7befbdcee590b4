"""Helpers the registry service's tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from registry_api.settings import Settings


def make_settings(tmp_path: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "authority": "MN",
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "chain": "memory",
        "log_level": "INFO",
    }
    values.update(overrides)
    return Settings(**values)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def json_lines(text: str) -> list[dict[str, Any]]:
    """The JSON log entries in captured stderr (other lines are ignored)."""
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            entries.append(json.loads(line))
    return entries
