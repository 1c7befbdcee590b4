"""The signed-in pages: the home page says what the role may do, by the API's own rules;
the sign-in log is for administrators and auditors."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from registry_api.auth import RoleRequirement
from registry_api.console.pages import AREAS, abilities
from registry_api.db import Role

from .support import People, console_of, sign_in


def test_the_home_page_lists_what_the_apis_role_checks_admit(
    client: TestClient, people: People
) -> None:
    sign_in(client, "audit", people.add("audit", Role.AUDITOR))
    page = client.get("/console/").text
    assert "Auditor" in page
    assert "See the imports of certificates" in page
    assert "Import lists of certificates" not in page
    assert "Manage users and API keys" not in page


@pytest.mark.parametrize("role", list(Role))
def test_each_role_is_offered_exactly_the_areas_where_an_api_route_admits_it(
    app: FastAPI, role: Role
) -> None:
    writes: dict[str, bool] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        for dependency in getattr(getattr(route, "dependant", None), "dependencies", []):
            if isinstance(dependency.call, RoleRequirement) and role in dependency.call.roles:
                for tag in getattr(route, "tags", []):
                    write = bool(set(getattr(route, "methods", ())) - {"GET", "HEAD"})
                    writes[tag] = writes.get(tag, False) or write
    expected = {AREAS[tag][0 if write else 1] for tag, write in writes.items()}
    assert set(abilities(list(app.routes), role)) == expected
    assert expected  # every role may do something


def test_every_area_of_the_api_with_role_checks_has_words_for_the_home_page(
    app: FastAPI,
) -> None:
    tags = {
        tag
        for context in iter_route_contexts(app.routes)
        for dependency in getattr(getattr(context.original_route, "dependant", None),
                                  "dependencies", [])
        if isinstance(dependency.call, RoleRequirement)
        for tag in getattr(context.original_route, "tags", [])
    }  # fmt: skip
    assert tags
    assert tags <= set(AREAS)


def test_the_sign_in_log_shows_sign_ins_and_failures_to_an_auditor(
    client: TestClient, people: People
) -> None:
    sign_in(client, "bolor", "a wrong password for bolor")
    sign_in(client, "audit", people.add("audit", Role.AUDITOR))
    page = client.get("/console/sign-ins")
    assert page.status_code == 200
    assert "sign_in_failed" in page.text
    assert "unknown account" in page.text
    assert "signed_in" in page.text
    assert 'href="/console/sign-ins"' in client.get("/console/").text


def test_the_sign_in_log_pages_back_through_older_entries(
    client: TestClient, people: People, app: FastAPI
) -> None:
    for _ in range(60):
        sign_in(client, "ghost", "nope")
    sign_in(client, "audit", people.add("audit", Role.AUDITOR))
    first = client.get("/console/sign-ins").text
    assert first.count("<tr>") == 51  # the header row and a page of 50
    older = first.split('href="/console/sign-ins?before=', 1)[1].split('"', 1)[0]
    second = client.get(f"/console/sign-ins?before={older}").text
    assert second.count("<tr>") == 1 + 62 - 50
    assert console_of(app).routes
