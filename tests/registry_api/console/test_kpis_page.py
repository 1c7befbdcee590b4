"""``/console/kpis``: the programme's KPIs for the roles that read them through the API,
with the figures as text (the charts are drawn over them; test_browser.py draws them)."""

from __future__ import annotations

import json
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from registry_api.db import Role
from tests.registry_api.kpi_history import NOW, seed

from .support import Clock, People, sign_in

PERIOD = "?from=2026-01-01&to=2026-05-31"


@pytest.fixture
def seeded(app: FastAPI, client: TestClient, clock: Clock) -> FastAPI:
    with app.state.session_factory() as session:
        seed(session)
    clock.now = NOW
    return app


@pytest.mark.parametrize("role", [Role.ADMIN, Role.AUDITOR, Role.ISSUING_OFFICER])
def test_the_kpi_page_shows_the_figures_as_text_and_chart_data(
    seeded: FastAPI, client: TestClient, people: People, role: Role
) -> None:
    sign_in(client, "reader", people.add("reader", role))
    page = client.get(f"/console/kpis{PERIOD}")
    assert page.status_code == 200
    html = page.text
    assert "From 2026-01-01 to 2026-05-31, as of 2026-06-15 12:00 UTC." in html
    # the overdue suspension, the three expiries and the partners' lines
    assert "<td>MN-3</td><td>2026-06-05</td><td>10</td>" in html
    assert "Within 30 days: 1; within 60 days: 2; within 90 days: 3." in html
    assert "<td>KR</td><td>2 / 4</td><td>0.5" in html
    assert "4.0, 10.0 (4 changes)" in html
    assert "9 checks in the period." in html
    data = json.loads(re.search(r'id="kpi-chart-data">(.*?)</script>', html, re.S).group(1))  # type: ignore[union-attr]
    assert data["transitions"]["labels"] == ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]
    suspended = next(s for s in data["transitions"]["series"] if s["key"] == "suspended")
    assert suspended["data"] == [1, 1, 1, 0, 1]
    assert data["status"]["labels"][0] == "active"
    assert 'href="/console/kpis"' in client.get("/console/").text


@pytest.mark.parametrize("role", [Role.MRA_OFFICER])
def test_other_roles_get_the_403_page_and_no_link(
    client: TestClient, people: People, role: Role
) -> None:
    sign_in(client, "other", people.add("other", role))
    page = client.get("/console/kpis")
    assert page.status_code == 403
    assert "You cannot see this page" in page.text
    assert 'href="/console/kpis"' not in client.get("/console/").text


def test_a_period_that_ends_before_it_begins_is_named_in_the_error_summary(
    seeded: FastAPI, client: TestClient, people: People
) -> None:
    sign_in(client, "audit", people.add("audit", Role.AUDITOR))
    page = client.get("/console/kpis?from=2026-05-01&to=2026-04-01")
    assert page.status_code == 400
    assert 'class="error-summary"' in page.text
    assert '<a href="#to">must be on or after from (2026-05-01)</a>' in page.text


def test_the_kpi_page_needs_a_sign_in(client: TestClient) -> None:
    page = client.get("/console/kpis", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/console/sign-in")
