"""The OpenAPI document: examples on every route, problems documented, bearer security."""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from registry_api.routes.snapshots import PUBLIC_PATHS

from .support import assert_problem, bearer

PROBLEM = "application/problem+json"


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def has_example(document: dict[str, Any], media: dict[str, Any]) -> bool:
    if "example" in media or "examples" in media:
        return True
    schema = resolve(document, media.get("schema", {}))
    return bool(schema.get("examples"))


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_every_route_has_examples_for_its_request_and_answers(app: FastAPI) -> None:
    document = app.openapi()
    ops = operations(document)
    assert len(ops) >= 8
    for path, method, operation in ops:
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        body = operation.get("requestBody")
        if body:
            assert has_example(document, body["content"]["application/json"]), where
        for status, response in operation["responses"].items():
            for media_type, media in response.get("content", {}).items():
                assert has_example(document, media), f"{where} {status} {media_type}"


def test_versioned_routes_document_auth_problems_and_bearer_security(app: FastAPI) -> None:
    document = app.openapi()
    assert document["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "aeo_<prefix>_<secret>",
        "description": "An API key created by an administrator of this registry.",
    }
    versioned = [
        op for op in operations(document) if op[0].startswith("/v1/") and op[0] not in PUBLIC_PATHS
    ]
    assert versioned
    assert document["paths"]["/v1/admin/api-keys"]["post"]["x-roles"] == ["admin"]
    for path, method, operation in versioned:
        where = f"{method.upper()} {path}"
        assert operation["security"] == [{"ApiKey": []}], where
        assert operation["x-roles"], where
        assert operation["description"].endswith("Roles: " + ", ".join(operation["x-roles"]) + ".")
        for status in ("401", "403", "429", "422"):
            if status == "422" and path == "/v1/me":
                continue
            assert PROBLEM in operation["responses"][status]["content"], f"{where} {status}"


def test_operational_routes_need_no_key(app: FastAPI) -> None:
    document = app.openapi()
    for path in ("/healthz", "/readyz", "/metrics"):
        assert "security" not in document["paths"][path]["get"]


def test_the_snapshot_routes_say_they_need_no_key(app: FastAPI) -> None:
    document = app.openapi()
    public = {path for path in document["paths"] if path.startswith("/v1/snapshot")}
    assert public == PUBLIC_PATHS
    for path in public:
        operation = document["paths"][path]["get"]
        assert operation["security"] == [], path
        assert "x-roles" not in operation, path


# Answers API fuzzing found undocumented (tests/registry_api/fuzz_api.py): each is now
# documented where it happens.


def documented(app: FastAPI, method: str, path: str) -> set[str]:
    return set(app.openapi()["paths"][path][method.lower()]["responses"])


def test_an_unknown_operation_filter_on_the_mra_list_is_a_documented_404(
    app: FastAPI, client: TestClient, admin_token: str
) -> None:
    response = client.get(f"/v1/mras?operation_id={uuid.uuid4()}", headers=bearer(admin_token))
    assert_problem(response, 404, "not-found")
    assert "404" in documented(app, "GET", "/v1/mras")


def test_every_route_that_reads_a_json_body_documents_the_400_for_one_it_cannot_read(
    app: FastAPI, client: TestClient, admin_token: str
) -> None:
    not_utf8 = b"\xff\xfe{"
    sent = 0
    for path, method, operation in operations(app.openapi()):
        media = operation.get("requestBody", {}).get("content", {})
        if "application/json" not in media or "multipart/form-data" in media:
            continue  # the import reads its body itself: a 422 naming the file
        url = re.sub(r"\{[a-z_]+\}", "1", path)
        headers = bearer(admin_token) | {"Content-Type": "application/json", "Idempotency-Key": "k"}
        response = client.request(method, url, content=not_utf8, headers=headers)
        body = assert_problem(response, 400, "http-error")
        assert body["detail"] == "There was an error parsing the body"
        assert "400" in operation["responses"], f"{method.upper()} {path}"
        sent += 1
    assert sent >= 14
