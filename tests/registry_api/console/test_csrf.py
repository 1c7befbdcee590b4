"""CSRF: a state-changing request without the page's token, with a wrong one, or from
another site is refused with the 403 page, and nothing is done."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from registry_api.console.csrf import ConsoleRoute
from registry_api.db import AccessEvent, ConsoleSession

from .support import People, console_of, csrf_of, session_cookie, sign_in


def _sessions(app: FastAPI) -> int:
    with app.state.session_factory() as session:
        return int(session.scalar(sa.select(sa.func.count(ConsoleSession.id))) or 0)


@pytest.fixture
def signed_in(client: TestClient, people: People) -> str:
    sign_in(client, "bolor", people.add("bolor"))
    return csrf_of(client.get("/console/").text)


def test_a_post_without_the_token_is_refused_and_does_nothing(
    client: TestClient, app: FastAPI, signed_in: str
) -> None:
    response = client.post("/console/sign-out", data={}, follow_redirects=False)
    assert response.status_code == 403
    assert "This form has expired" in response.text
    assert "Nothing was done." in response.text
    assert _sessions(app) == 1
    assert client.get("/console/").status_code == 200
    with app.state.session_factory() as session:
        event = session.scalars(sa.select(AccessEvent).order_by(AccessEvent.id.desc())).first()
        assert event is not None
        assert event.kind.value == "csrf_refused"
        assert event.detail == "POST /console/sign-out: no CSRF token"


def test_a_wrong_token_is_refused(client: TestClient, app: FastAPI, signed_in: str) -> None:
    response = client.post("/console/sign-out", data={"csrf_token": signed_in[:-2] + "xx"})
    assert response.status_code == 403
    assert _sessions(app) == 1


def test_the_htmx_header_carries_the_token(
    client: TestClient, app: FastAPI, signed_in: str
) -> None:
    response = client.post(
        "/console/sign-out",
        headers={"X-CSRF-Token": signed_in, "HX-Request": "true"},
        follow_redirects=False,
    )
    assert response.status_code == 200
    assert response.headers["hx-redirect"] == "/console/sign-in"
    assert _sessions(app) == 0


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
     {"Sec-Fetch-Site": "same-site"}],
)  # fmt: skip
def test_a_request_from_another_site_is_refused_even_with_the_token(
    client: TestClient, app: FastAPI, signed_in: str, headers: dict[str, str]
) -> None:
    response = client.post("/console/sign-out", data={"csrf_token": signed_in}, headers=headers)
    assert response.status_code == 403
    assert _sessions(app) == 1


def test_the_browsers_own_headers_of_a_same_origin_post_pass(
    client: TestClient, app: FastAPI, signed_in: str
) -> None:
    response = client.post(
        "/console/sign-out",
        data={"csrf_token": signed_in},
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert _sessions(app) == 0


def test_the_sign_in_form_has_a_token_before_any_session(
    client: TestClient, people: People
) -> None:
    password = people.add("bolor")
    refused = client.post("/console/sign-in", data={"name": "bolor", "password": password})
    assert refused.status_code == 403
    assert session_cookie(client) is None
    assert sign_in(client, "bolor", password).status_code == 303


def test_every_console_route_checks_csrf(app: FastAPI) -> None:
    routes = [
        context.original_route
        for context in iter_route_contexts(console_of(app).routes)
        if isinstance(context.original_route, APIRoute)
    ]
    assert len(routes) >= 10
    assert all(isinstance(route, ConsoleRoute) for route in routes)
