"""Single sign-on end to end against a real OpenID provider (npm's oidc-provider, run by
node), with an HTTP client and no browser: the authorization code flow with PKCE, the ID
token verified, roles mapped from the claim, the refusals."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx2 as httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from registry_api.app import create_app
from registry_api.db import AccessEvent, Person, Role

from .servers import CLIENT_ID, PROVIDER_NAME, ROLE_MAPPING, registry_with_provider
from .support import console_settings, csrf_of

pytestmark = pytest.mark.slow


def _app(tmp_path: Path, database_url: str, secret: str, issuer: str | None) -> FastAPI:
    settings = console_settings(
        tmp_path,
        database_url,
        console_oidc_issuer=issuer,
        console_oidc_client_id=CLIENT_ID,
        console_oidc_client_secret=secret,
        console_oidc_provider_name=PROVIDER_NAME,
        console_oidc_role_mapping=ROLE_MAPPING,
    )
    return create_app(settings)


@pytest.fixture(params=[False, True], ids=["roles-in-id-token", "roles-in-userinfo"])
def served(
    request: pytest.FixtureRequest, tmp_path: Path, database_url: str
) -> Iterator[tuple[str, FastAPI]]:
    secret = secrets.token_urlsafe(24)
    with registry_with_provider(
        lambda issuer: _app(tmp_path, database_url, secret, issuer),
        tmp_path / "provider.log",
        client_secret=secret,
        roles_in_userinfo=request.param,
    ) as running:
        yield running


def _through_provider(browser: httpx.Client, login: str) -> httpx.Response:
    """Sign in at the provider as ``login``; the console's answer to its callback."""
    start = browser.get("/console/sso/start", follow_redirects=False)
    assert start.status_code == 302
    authorize = start.headers["location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert query["nonce"][0]
    assert query["client_id"] == [CLIENT_ID]
    interaction = browser.get(authorize, follow_redirects=True)
    assert "Test identity provider" in interaction.text, interaction.text
    action = re.search(r'action="([^"]+)"', interaction.text)
    assert action is not None
    return browser.post(
        urljoin(str(interaction.url), action.group(1)),
        data={"login": login},
        follow_redirects=True,
    )


def _events(app: FastAPI) -> list[tuple[str, str | None]]:
    with app.state.session_factory() as session:
        rows = session.scalars(sa.select(AccessEvent).order_by(AccessEvent.id)).all()
        return [(row.kind.value, row.detail) for row in rows]


def test_a_person_signs_in_through_the_provider_with_the_mapped_role_and_signs_out(
    served: tuple[str, FastAPI],
) -> None:
    url, app = served
    with httpx.Client(base_url=url) as browser:
        page = browser.get("/console/sign-in")
        assert "Sign in with Test IdP" in page.text
        landing = _through_provider(browser, "alice")
        assert landing.status_code == 200, landing.text
        assert landing.url.path == "/console/sso/callback"
        assert '<meta http-equiv="refresh" content="0; url=/console/">' in landing.text
        home = browser.get("/console/")
        assert home.status_code == 200
        assert "Welcome, Alice Officer" in home.text
        assert "Issuing officer" in home.text
        assert "through your identity provider" in home.text
        out = browser.post(
            "/console/sign-out", data={"csrf_token": csrf_of(home.text)}, follow_redirects=True
        )
        assert "You have signed out." in out.text
        assert browser.get("/console/", follow_redirects=False).status_code == 303
    with app.state.session_factory() as session:
        person = session.scalars(sa.select(Person)).one()
        assert (person.name, person.display_name, person.role) == (
            "alice", "Alice Officer", Role.ISSUING_OFFICER,
        )  # fmt: skip
        assert person.oidc_subject == "sub-alice"
        assert person.password_hash is None
    kinds = [kind for kind, _ in _events(app)]
    assert kinds == ["signed_in", "signed_out"]


def test_a_person_with_no_mapped_role_is_refused_with_a_clear_page(
    served: tuple[str, FastAPI],
) -> None:
    url, app = served
    with httpx.Client(base_url=url) as browser:
        refused = _through_provider(browser, "nora")
        assert refused.status_code == 403
        assert "You have no role in this registry" in refused.text
        assert browser.get("/console/", follow_redirects=False).status_code == 303
    ((kind, detail),) = _events(app)
    assert kind == "sso_refused"
    assert detail is not None
    assert "no value of claim 'roles' maps to a role" in detail


def test_a_callback_whose_state_this_browser_did_not_start_is_refused(
    served: tuple[str, FastAPI],
) -> None:
    url, app = served
    with httpx.Client(base_url=url) as victim, httpx.Client(base_url=url) as attacker:
        start = attacker.get("/console/sso/start", follow_redirects=False)
        authorize = attacker.get(start.headers["location"], follow_redirects=True)
        action = re.search(r'action="([^"]+)"', authorize.text)
        assert action is not None
        # The attacker's own code, stopped before it reaches the console...
        answer = attacker.post(
            urljoin(str(authorize.url), action.group(1)),
            data={"login": "alice"},
            follow_redirects=False,
        )
        while "/console/sso/callback" not in answer.headers.get("location", ""):
            answer = attacker.get(answer.headers["location"], follow_redirects=False)
        callback = answer.headers["location"]
        # ...planted on a victim whose browser never started a sign-in: refused.
        refused = victim.get(callback)
        assert refused.status_code == 400
        assert "did not work" in refused.text
        assert victim.get("/console/", follow_redirects=False).status_code == 303
    assert [kind for kind, _ in _events(app)] == ["sso_failed"]


def test_an_error_from_the_provider_is_refused_and_logged(served: tuple[str, FastAPI]) -> None:
    url, app = served
    with httpx.Client(base_url=url) as browser:
        browser.get("/console/sso/start", follow_redirects=False)
        refused = browser.get("/console/sso/callback?error=access_denied&state=x")
        assert refused.status_code == 400
    ((kind, detail),) = _events(app)
    assert (kind, detail) == ("sso_failed", "access_denied")


def test_an_unreachable_provider_is_a_clear_page(tmp_path: Path, database_url: str) -> None:
    secret = secrets.token_urlsafe(24)
    with (
        registry_with_provider(
            lambda _issuer: _app(tmp_path, database_url, secret, "http://127.0.0.1:9"),
            tmp_path / "provider.log",
            client_secret=secret,
            provider=False,
        ) as (url, app),
        httpx.Client(base_url=url) as browser,
    ):
        answer = browser.get("/console/sso/start", follow_redirects=False)
        assert answer.status_code == 503
        assert "The identity provider cannot be reached" in answer.text
    assert [kind for kind, _ in _events(app)] == ["sso_failed"]
