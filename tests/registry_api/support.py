"""Helpers the registry service's tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2 as httpx

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


PROBLEM_MEDIA_TYPE = "application/problem+json"


def assert_problem(
    response: httpx.Response, status: int, slug: str | None = None
) -> dict[str, Any]:
    """Assert ``response`` is a complete problem+json answer; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body: dict[str, Any] = response.json()
    assert set(body) >= {"type", "title", "status", "detail", "instance", "request_id"}
    assert body["status"] == status
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    if slug is not None:
        assert body["type"] == f"urn:aeo-registry:problem:{slug}"
    return body
