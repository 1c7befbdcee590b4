"""One JSON line per request, with the request id and the key's prefix, never a token."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from registry_api.auth import token_prefix
from registry_api.db import Role

from .conftest import KeyFactory
from .support import bearer, json_lines


def test_each_request_logs_one_json_line(
    client: TestClient, admin_token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    response = client.get(
        "/v1/admin/api-keys?limit=5", headers=bearer(admin_token) | {"X-Request-ID": "r-1"}
    )
    assert response.status_code == 200
    access = [
        e for e in json_lines(capsys.readouterr().err) if e["logger"] == "registry_api.access"
    ]
    assert len(access) == 1
    entry = access[0]
    assert entry["method"] == "GET"
    assert entry["path"] == "/v1/admin/api-keys"  # the query string is not logged
    assert entry["route"] == "/v1/admin/api-keys"
    assert entry["status"] == 200
    assert entry["request_id"] == "r-1"
    assert entry["key_prefix"] == token_prefix(admin_token)
    assert isinstance(entry["duration_ms"], float)
    assert entry["level"] == "INFO"


def test_no_token_reaches_the_logs(
    client: TestClient,
    admin_token: str,
    make_key: KeyFactory,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    revoked = make_key(Role.AUDITOR, user="leaver")
    revoked_id = client.get("/v1/me", headers=bearer(revoked)).json()["key_id"]
    client.delete(f"/v1/admin/api-keys/{revoked_id}", headers=bearer(admin_token))
    created = client.post(
        "/v1/admin/api-keys", headers=bearer(admin_token), json={"user": "new", "role": "auditor"}
    ).json()["token"]
    forged = f"aeo_{token_prefix(admin_token)}_{'B' * 43}"
    for token in (admin_token, revoked, created, forged, "Bearer-not-a-key"):
        client.get("/v1/me", headers=bearer(token))
        client.get("/v1/admin/api-keys", headers=bearer(token))
    client.get("/no/such/route", headers=bearer(admin_token))

    captured = capsys.readouterr().err + caplog.text
    for record in caplog.records:
        captured += repr(record.__dict__)
    assert "registry_api.access" in captured
    for token in (admin_token, revoked, created, forged):
        assert token not in captured
        assert token.split("_", 2)[2] not in captured
    assert "Authorization" not in captured
