"""The OpenAPI document equals the committed snapshot: the proof that a refactor changed
nothing a client of the API sees (paths, methods, parameters, schemas, status codes,
descriptions and examples).

A deliberate change to the API updates the snapshot in the same commit:
``.venv/bin/python -m tests.registry_api.test_openapi_snapshot --write``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from registry_api.app import create_app

from .support import make_settings

SNAPSHOT = Path(__file__).with_name("openapi.snapshot.json")


def current_document() -> dict[str, Any]:
    """The document a registry of MN serves (the title names the authority; nothing else in
    it depends on the settings)."""
    with tempfile.TemporaryDirectory() as directory:
        data_dir = Path(directory)
        app = create_app(make_settings(data_dir, f"sqlite:///{data_dir / 'registry.db'}"))
        document: dict[str, Any] = app.openapi()
    return document


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def differences(expected: Any, actual: Any, where: str = "") -> list[str]:
    """The JSON pointers at which ``actual`` differs from ``expected``."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = []
        for key in sorted(expected.keys() | actual.keys()):
            pointer = f"{where}/{key}"
            if key not in actual:
                found.append(f"{pointer}: missing")
            elif key not in expected:
                found.append(f"{pointer}: not in the snapshot")
            else:
                found += differences(expected[key], actual[key], pointer)
        return found
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [
            d
            for i, pair in enumerate(zip(expected, actual, strict=True))
            for d in differences(*pair, f"{where}/{i}")
        ]
    return [] if expected == actual else [f"{where or '/'}: {expected!r} -> {actual!r}"]


def test_openapi_document_equals_the_committed_snapshot() -> None:
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    actual = json.loads(render(current_document()))
    found = differences(expected, actual)
    assert not found, (
        f"the OpenAPI document changed at {len(found)} places (update the snapshot only for "
        "a deliberate API change):\n" + "\n".join(found[:40])
    )


def test_snapshot_covers_every_versioned_route() -> None:
    # Guards the guard: an empty or truncated snapshot would compare equal to nothing useful.
    paths = json.loads(SNAPSHOT.read_text(encoding="utf-8"))["paths"]
    assert len(paths) >= 40
    assert {"/v1/certificates", "/v1/feed", "/v1/mras", "/v1/admin/signing-keys"} <= set(paths)


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.registry_api.test_openapi_snapshot --write")
    SNAPSHOT.write_text(render(current_document()), encoding="utf-8")
    print(f"wrote {SNAPSHOT}")
