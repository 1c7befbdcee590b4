"""The console's answers to everything that is not a page: unknown paths, wrong methods,
malformed requests, a role without access, and a failure nobody expected, each a page with
the security headers, never JSON nor a traceback."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from registry_api.db import Role

from .support import People, console_of, sign_in


def _is_page(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store"
    assert "Traceback" not in response.text  # type: ignore[attr-defined]


def test_an_unknown_console_path_is_the_404_page(client: TestClient) -> None:
    response = client.get("/console/no/such/page")
    assert response.status_code == 404
    _is_page(response)
    assert "Page not found" in response.text
    assert f"Reference for support: {response.headers['x-request-id']}" in response.text


def test_a_wrong_method_is_a_page_not_json(client: TestClient) -> None:
    response = client.put("/console/sign-in", headers={"X-CSRF-Token": "x"})
    assert response.status_code in {403, 405}
    _is_page(response)


def test_a_malformed_query_is_the_400_page(client: TestClient, people: People) -> None:
    sign_in(client, "audit", people.add("audit", Role.AUDITOR))
    response = client.get("/console/sign-ins?before=yesterday")
    assert response.status_code == 400
    _is_page(response)
    assert "The request was not understood" in response.text


def test_a_role_the_page_does_not_admit_gets_the_403_page(
    client: TestClient, people: People
) -> None:
    sign_in(client, "bolor", people.add("bolor", Role.ISSUING_OFFICER))
    response = client.get("/console/sign-ins")
    assert response.status_code == 403
    _is_page(response)
    assert "You cannot see this page" in response.text
    # Nor does the navigation offer it.
    assert "/console/sign-ins" not in client.get("/console/").text


def test_an_unexpected_failure_is_a_polite_page_with_the_request_id_and_a_log_entry(
    client: TestClient, app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("the disk caught fire")

    console_of(app).add_api_route("/broken", broken)
    with caplog.at_level(logging.ERROR, logger="registry_api.console"):
        response = client.get("/console/broken")
    assert response.status_code == 500
    _is_page(response)
    assert "Sorry, something went wrong" in response.text
    assert "the disk caught fire" not in response.text
    request_id = response.headers["x-request-id"]
    assert request_id in response.text
    records = [r for r in caplog.records if getattr(r, "request_id", None) == request_id]
    assert records
    assert records[0].exc_info is not None


def test_a_chain_outage_reaching_a_page_is_the_unavailable_page(
    client: TestClient, app: FastAPI
) -> None:
    def outage() -> None:
        raise ConnectionError("node down")

    console_of(app).add_api_route("/outage", outage)
    response = client.get("/console/outage")
    assert response.status_code == 503
    _is_page(response)
    assert "This cannot be done now" in response.text


def test_static_files_are_served_locally_and_may_be_cached(client: TestClient) -> None:
    script = client.get("/console/static/console.bundle.js")
    assert script.status_code == 200
    assert "cache-control" not in script.headers
    assert "htmx" in script.text
    assert client.get("/console/static/console.css").status_code == 200


def test_the_api_is_untouched_by_the_console(client: TestClient) -> None:
    response = client.get("/v1/me")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert "/console" not in str(client.get("/openapi.json").json()["paths"])
