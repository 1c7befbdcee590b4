"""Request-body limits per route (registry_api.limits, enforced by BodyLimitMiddleware):
refused before the route reads anything, as 413 too-large or 422 on ``body``."""

from __future__ import annotations

import json
from collections.abc import Iterator

from fastapi.testclient import TestClient

from registry_api.limits import (
    IMPORT_BODY_BYTES,
    JSON_BODY_BYTES,
    MRA_BODY_BYTES,
    body_limit,
    describe_bytes,
)

from .support import assert_problem, bearer

JSON = {"Content-Type": "application/json"}


def test_each_route_has_its_limit() -> None:
    assert body_limit("/v1/certificates").max_bytes == JSON_BODY_BYTES == 2**20
    assert body_limit("/v1/mras").max_bytes == MRA_BODY_BYTES == 8 * 2**20
    assert body_limit("/v1/imports/").max_bytes == IMPORT_BODY_BYTES == 20 * 2**20 + 64 * 1024
    assert body_limit("/v1/imports").check_json is False
    assert [describe_bytes(size) for size in (2**20, 64 * 1024, 1000)] == [
        "1 MiB",
        "64 KiB",
        "1,000 bytes",
    ]


def test_a_body_over_its_routes_limit_is_refused_with_the_limit(client: TestClient) -> None:
    response = client.post("/v1/certificates", content=b" " * (JSON_BODY_BYTES + 1), headers=JSON)
    body = assert_problem(response, 413, "too-large")
    assert body["max_bytes"] == JSON_BODY_BYTES
    assert body["errors"] == [{"field": "body", "message": "is larger than 1 MiB"}]
    assert "X-Request-ID" in response.headers


def test_the_mra_route_takes_a_larger_body(client: TestClient, admin_token: str) -> None:
    text = json.dumps({"text": "A" * (2 * JSON_BODY_BYTES)}).encode()
    within = client.post("/v1/mras", content=text, headers=JSON)
    assert_problem(within, 401, "unauthorized")
    over = client.post("/v1/mras", content=b" " * (MRA_BODY_BYTES + 1), headers=JSON)
    assert_problem(over, 413, "too-large")


def test_an_import_over_its_limit_is_refused_before_its_key_is_checked(
    client: TestClient,
) -> None:
    response = client.post(
        "/v1/imports", content=b"0" * (IMPORT_BODY_BYTES + 1), headers={"Content-Type": "text/csv"}
    )
    assert assert_problem(response, 413, "too-large")["max_bytes"] == IMPORT_BODY_BYTES


def test_an_import_file_over_20_mib_is_refused_naming_the_file(
    client: TestClient, admin_token: str
) -> None:
    response = client.post(
        "/v1/imports",
        content=b"0" * (20 * 2**20 + 1),
        headers={"Content-Type": "text/csv", "Idempotency-Key": "big-1"} | bearer(admin_token),
    )
    body = assert_problem(response, 413, "too-large")
    assert body["errors"] == [{"field": "body.file", "message": "is larger than 20 MiB"}]


def test_a_body_sent_without_a_length_is_counted_and_refused_past_the_limit(
    client: TestClient,
) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(4 * JSON_BODY_BYTES // 8192):
            yield b" " * 8192

    response = client.post("/v1/certificates", content=chunks(), headers=JSON)
    assert_problem(response, 413, "too-large")


def test_json_too_deep_or_with_too_many_items_is_refused_before_parsing(
    client: TestClient,
) -> None:
    deep = client.post("/v1/certificates", content=b"[" * 65 + b"]" * 65, headers=JSON)
    assert assert_problem(deep, 422, "invalid")["errors"] == [
        {"field": "body", "message": "nests arrays and objects more than 64 levels deep"}
    ]
    many = client.post("/v1/certificates", content=b"[" + b"0," * 100_000 + b"0]", headers=JSON)
    assert assert_problem(many, 422, "invalid")["errors"] == [
        {
            "field": "body",
            "message": "has more than 100,000 items (array elements and object members)",
        }
    ]


def test_a_body_within_the_limits_reaches_its_route(client: TestClient, admin_token: str) -> None:
    response = client.post(
        "/v1/admin/api-keys",
        json={"user": "b.bat-erdene", "role": "auditor"},
        headers=bearer(admin_token),
    )
    assert response.status_code == 201, response.text
