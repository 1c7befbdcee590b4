"""Every bad input answers a problem+json document naming the field; nothing a caller sends
reaches a 500."""

from __future__ import annotations

import enum
import json
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from registry_api.app import create_app
from registry_api.errors import (
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    RegistryError,
    UnavailableError,
    field_path,
    from_chain_error,
)
from registry_api.settings import Settings

from .conftest import KeyFactory
from .support import PROBLEM_MEDIA_TYPE, assert_problem, bearer, json_lines

PROBLEM = PROBLEM_MEDIA_TYPE


def fields(body: dict[str, Any]) -> dict[str, str]:
    return {e["field"]: e["message"] for e in body["errors"]}


def test_a_missing_body_field_is_named(client: TestClient, admin_token: str) -> None:
    response = client.post(
        "/v1/admin/api-keys", headers=bearer(admin_token), json={"role": "auditor"}
    )
    body = assert_problem(response, 422)
    assert body["type"] == "urn:aeo-registry:problem:invalid"
    assert body["instance"] == "/v1/admin/api-keys"
    assert fields(body) == {"body.user": "Field required"}
    assert body["detail"] == "body.user: Field required"


def test_every_bad_field_is_named_at_once(client: TestClient, admin_token: str) -> None:
    response = client.post(
        "/v1/admin/api-keys",
        headers=bearer(admin_token),
        json={"user": "", "role": "king", "colour": "blue"},
    )
    body = assert_problem(response, 422)
    assert set(fields(body)) == {"body.user", "body.role", "body.colour"}
    assert "at least 1 character" in fields(body)["body.user"]
    assert "'admin', 'issuing_officer'" in fields(body)["body.role"]
    assert body["detail"] == "3 fields are invalid: body.user, body.role, body.colour"


def test_malformed_json_names_the_body(client: TestClient, admin_token: str) -> None:
    response = client.post(
        "/v1/admin/api-keys",
        headers=bearer(admin_token) | {"Content-Type": "application/json"},
        content=b'{"user": "x", "role": ',
    )
    body = assert_problem(response, 422)
    assert list(fields(body)) == ["body"]
    assert "JSON" in fields(body)["body"]


def test_query_and_path_parameters_are_named(client: TestClient, admin_token: str) -> None:
    body = assert_problem(
        client.get("/v1/admin/api-keys?limit=0", headers=bearer(admin_token)), 422
    )
    assert list(fields(body)) == ["query.limit"]
    body = assert_problem(client.get("/v1/admin/api-keys/abc", headers=bearer(admin_token)), 422)
    assert list(fields(body)) == ["path.key_id"]


def test_a_rule_broken_in_the_service_names_the_field(client: TestClient, admin_token: str) -> None:
    cases = [
        ({"user": "kz", "role": "partner"}, "is required for role 'partner'"),
        ({"user": "kz", "role": "partner", "partner_authority": "MN"}, "another administration"),
        ({"user": "kz", "role": "partner", "partner_authority": "kz"}, "2 to 4 upper-case"),
        ({"user": "x", "role": "admin", "partner_authority": "KZ"}, "must be absent"),
    ]
    for payload, message in cases:
        response = client.post("/v1/admin/api-keys", headers=bearer(admin_token), json=payload)
        body = assert_problem(response, 422)
        assert list(fields(body)) == ["body.partner_authority"], payload
        assert message in fields(body)["body.partner_authority"], payload


def test_an_unknown_path_and_a_wrong_method_are_problems(client: TestClient) -> None:
    body = assert_problem(client.get("/v2/nothing"), 404)
    assert body["type"] == "urn:aeo-registry:problem:not-found"
    body = assert_problem(client.put("/healthz"), 405)
    assert body["type"] == "urn:aeo-registry:problem:method-not-allowed"


def test_an_unknown_key_id_is_404(client: TestClient, admin_token: str) -> None:
    body = assert_problem(client.get("/v1/admin/api-keys/424242", headers=bearer(admin_token)), 404)
    assert body["detail"] == "no API key with id 424242"


def test_revoking_the_last_admin_key_is_409(client: TestClient, admin_token: str) -> None:
    me = client.get("/v1/me", headers=bearer(admin_token)).json()
    body = assert_problem(
        client.delete(f"/v1/admin/api-keys/{me['key_id']}", headers=bearer(admin_token)), 409
    )
    assert "last active admin key" in body["detail"]


def test_field_paths_read_like_the_input() -> None:
    assert field_path(("body", "holder", "legal_name")) == "body.holder.legal_name"
    assert field_path(("body", "sites", 0, "address", "country")) == "body.sites[0].address.country"
    assert field_path((0,)) == "[0]"


class Category(enum.StrEnum):
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    INVALID = "invalid"


class FakeRevert(Exception):
    """Shaped like contracts.errors.ContractRevertError: a category and the error's name."""

    def __init__(self, message: str, category: object, name: str) -> None:
        super().__init__(message)
        self.category = category
        self.name = name


class FakeChainUnavailable(ConnectionError):
    pass


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        (Category.UNAUTHORIZED, ForbiddenError),
        (Category.NOT_FOUND, NotFoundError),
        ("NotFound", NotFoundError),
        (Category.CONFLICT, ConflictError),
        ("Conflict", ConflictError),
        (Category.INVALID, InvalidError),
        ("unavailable", UnavailableError),
    ],
)
def test_chain_error_categories_map_to_registry_errors(
    category: object, expected: type[RegistryError]
) -> None:
    mapped = from_chain_error(FakeRevert("CertificateAlreadyRevoked(0x12)", category, "Err"))
    assert type(mapped) is expected
    assert mapped is not None
    assert mapped.detail == "CertificateAlreadyRevoked(0x12)"
    assert mapped.extra == {"chain_error": "Err"}


def test_an_unreachable_chain_maps_to_503_and_other_errors_do_not_map() -> None:
    assert type(from_chain_error(FakeChainUnavailable("node down"))) is UnavailableError
    assert from_chain_error(RuntimeError("bug")) is None
    assert from_chain_error(FakeRevert("x", "weird", "Err")) is None


@pytest.fixture
def app_with_failing_routes(settings: Settings) -> FastAPI:
    app = create_app(settings)

    @app.get("/test/revert")
    def revert() -> None:
        raise FakeRevert(
            "CertificateAlreadyRevoked(id=0xab)", Category.CONFLICT, "CertificateAlreadyRevoked"
        )

    @app.get("/test/chain-down")
    def chain_down() -> None:
        raise FakeChainUnavailable("no answer from http://127.0.0.1:8545")

    @app.get("/test/bug")
    def bug() -> None:
        raise RuntimeError("internal detail that must not leak: /srv/secret/path")

    return app


def test_a_chain_revert_answers_its_category_status(app_with_failing_routes: FastAPI) -> None:
    with TestClient(app_with_failing_routes) as client:
        body = assert_problem(client.get("/test/revert"), 409)
        assert body["chain_error"] == "CertificateAlreadyRevoked"
        assert body["detail"] == "CertificateAlreadyRevoked(id=0xab)"
        assert_problem(client.get("/test/chain-down"), 503)


def test_an_unexpected_error_is_a_500_problem_without_a_traceback_and_is_logged(
    app_with_failing_routes: FastAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    with TestClient(app_with_failing_routes) as client:
        response = client.get("/test/bug", headers={"X-Request-ID": "req-500"})
    body = assert_problem(response, 500)
    assert body["type"] == "urn:aeo-registry:problem:internal"
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    entries = json_lines(capsys.readouterr().err)
    errors = [e for e in entries if e["logger"] == "registry_api.errors"]
    assert len(errors) == 1
    assert errors[0]["request_id"] == "req-500"
    assert "RuntimeError: internal detail" in errors[0]["exception"]
    access = [e for e in entries if e["logger"] == "registry_api.access"]
    assert access[-1]["status"] == 500


HOSTILE_BODIES: list[Any] = [
    None,
    b"",
    b"not json",
    b"[]",
    b"null",
    b'"string"',
    b"1e999999",
    b'{"user": "\\ud800", "role": "auditor"}',
    b'{"user": "x\\u0000y", "role": "auditor"}',
    b'{"user": {"nested": true}, "role": ["admin"]}',
    b'{"user": "' + b"x" * 10000 + b'", "role": "auditor"}',
    b'{"user": "x", "role": "auditor", "partner_authority": 12}',
    b"\xff\xfe\x00garbage",
    json.dumps({"user": "é" * 129, "role": "partner", "partner_authority": "ZZZZZ"}).encode(),
]
HOSTILE_IDS = ["0", "-1", "99999999999999999999999", "1.5", "%00", "abc", "1;DROP TABLE api_keys"]
HOSTILE_QUERIES = [
    "limit=-5",
    "limit=abc",
    "offset=1e9",
    "offset=99999999999999999999999",
    "role=emperor",
    "include_revoked=maybe",
]


@pytest.mark.slow
def test_no_caller_input_reaches_a_500(
    app: FastAPI, client: TestClient, make_key: KeyFactory, admin_token: str
) -> None:
    """Every route, with hostile bodies, path ids and query strings, with and without keys."""
    tokens = [None, "garbage", admin_token]
    sent = 0
    for context in iter_route_contexts(app.routes):
        path = str(context.path)
        methods = sorted((context.methods or set()) - {"HEAD"})
        for method in methods:
            paths = (
                [path.replace("{key_id}", key_id) for key_id in HOSTILE_IDS]
                if "{" in path
                else [path]
            )
            for url in paths:
                for query in ["", *HOSTILE_QUERIES]:
                    for token in tokens:
                        headers = {"Content-Type": "application/json"}
                        if token:
                            headers |= bearer(token)
                        for content in (
                            HOSTILE_BODIES if method in {"POST", "PUT", "PATCH"} else [None]
                        ):
                            response = client.request(
                                method, f"{url}?{query}", headers=headers, content=content
                            )
                            sent += 1
                            if _not_published_yet(response):
                                continue
                            assert response.status_code < 500, (
                                method,
                                url,
                                query,
                                content,
                                response.text,
                            )
                            if response.status_code >= 400:
                                assert response.headers["content-type"] == _problem_type_of(path), (
                                    method,
                                    url,
                                    response.status_code,
                                )
    assert sent > 500


def _problem_type_of(path: str) -> str:
    """The public lookup's page is for people: its refusals (a field's error, over the limit)
    are the page itself in HTML; every other route answers problem+json."""
    return "text/html; charset=utf-8" if path == "/public/lookup" else PROBLEM


def _not_published_yet(response: Any) -> bool:
    """The snapshot routes' 503 before this registry's first publication (its signing key is
    not registered in these apps): the registry's state, whatever the caller sent."""
    return (
        response.status_code == 503
        and response.headers.get("content-type", "").startswith("application/problem+json")
        and response.json().get("reason") == "no_snapshot"
    )
