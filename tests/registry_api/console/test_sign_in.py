"""Signing in with a local account through the pages (no browser): the password, a second
factor, an administrator's password changed, lockout, and signing out."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from registry_api.db import AccessEvent, AccessEventKind, ApiKey, ConsoleSession, Role

from .support import Clock, People, console_of, csrf_of, post_form, session_cookie, sign_in


def _events(app: FastAPI) -> list[tuple[str, str | None, str | None]]:
    with app.state.session_factory() as session:
        rows = session.scalars(sa.select(AccessEvent).order_by(AccessEvent.id)).all()
        return [(row.kind.value, row.name, row.detail) for row in rows]


def test_a_right_password_signs_in_and_the_home_page_names_the_person_and_role(
    client: TestClient, people: People
) -> None:
    password = people.add("bolor", Role.ISSUING_OFFICER)
    response = sign_in(client, "bolor", password)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/"
    cookie = response.headers["set-cookie"]
    assert "aeo_console_session=" in cookie
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/console"):
        assert attribute.lower() in cookie.lower()
    home = client.get("/console/")
    assert home.status_code == 200
    assert "Welcome, Bolor" in home.text
    assert "Issuing officer" in home.text
    assert "Issue, amend, renew, suspend, reinstate and revoke certificates" in home.text


def test_the_session_cookie_is_secure_when_the_service_sits_behind_tls(
    client: TestClient, people: People, app: FastAPI
) -> None:
    password = people.add("bolor")
    console_of(app).settings = console_of(app).settings.model_copy(
        update={"console_behind_tls": True}
    )
    response = sign_in(client, "bolor", password)
    assert "secure" in response.headers["set-cookie"].lower()


def test_a_wrong_password_an_unknown_name_and_a_disabled_account_look_the_same(
    client: TestClient, people: People, app: FastAPI
) -> None:
    people.add("bolor")
    people.add("gone")
    with app.state.session_factory() as session:
        from registry_api.console import accounts

        accounts.disable_person(session, "gone", now=console_of(app).clock())
        session.commit()
    answers = [
        sign_in(client, "bolor", "not the password at all"),
        sign_in(client, "nobody", "not the password at all"),
        sign_in(client, "gone", people.passwords["gone"]),
    ]
    for answer in answers:
        assert answer.status_code == 400
        assert "The account name or password is not right" in answer.text
        assert session_cookie(client) is None
    kinds = [kind for kind, _name, _detail in _events(app)]
    assert kinds[-3:] == ["sign_in_failed", "sign_in_failed", "disabled"]
    assert _events(app)[-2][2] == "unknown account"


def test_the_form_keeps_the_name_and_names_each_missing_field(client: TestClient) -> None:
    response = post_form(client, "/console/sign-in", {"name": "bolor", "password": ""})
    assert response.status_code == 400
    assert 'value="bolor"' in response.text
    assert 'href="#password">Enter your password</a>' in response.text
    assert "Enter your account name" not in response.text


def test_five_wrong_passwords_lock_the_account_and_the_lock_doubles(
    client: TestClient, people: People, app: FastAPI, clock: Clock
) -> None:
    password = people.add("bolor")
    for _ in range(5):
        assert sign_in(client, "bolor", "wrong password 123").status_code == 400
    locked = people.get("bolor")
    assert locked.locked_until == clock.now + timedelta(minutes=1)
    # Locked: even the right password is refused, with the same words as a wrong one.
    refused = sign_in(client, "bolor", password)
    assert refused.status_code == 400
    assert "The account name or password is not right" in refused.text
    kinds = [kind for kind, _n, _d in _events(app)]
    assert kinds[-2:] == ["locked_out", "locked"]
    clock.advance(timedelta(minutes=1, seconds=1))
    for _ in range(5):
        sign_in(client, "bolor", "wrong password 123")
    assert people.get("bolor").locked_until == clock.now + timedelta(minutes=2)
    clock.advance(timedelta(minutes=2, seconds=1))
    assert sign_in(client, "bolor", password).status_code == 303
    cleared = people.get("bolor")
    assert (cleared.failed_attempts, cleared.lockouts, cleared.locked_until) == (0, 0, None)


def test_an_administrators_password_must_be_changed_before_the_console_opens(
    client: TestClient, people: People, app: FastAPI
) -> None:
    password = people.add("bolor", change_required=True)
    first = sign_in(client, "bolor", password)
    assert first.headers["location"] == "/console/account/password"
    assert client.get("/console/", follow_redirects=False).status_code == 303
    refused = post_form(
        client,
        "/console/account/password",
        {"new_password": "short", "confirm_password": "short"},
    )
    assert refused.status_code == 400
    assert "Choose a password of 12 to 256 characters" in refused.text
    same = post_form(
        client,
        "/console/account/password",
        {"new_password": password, "confirm_password": password},
    )
    assert "Choose another password than the one you had" in same.text
    changed = post_form(
        client,
        "/console/account/password",
        {"new_password": "correct horse battery", "confirm_password": "correct horse battery"},
    )
    assert changed.headers["location"] == "/console/"
    assert client.get("/console/").status_code == 200
    assert people.get("bolor").password_change_required is False
    assert "password_changed" in [kind for kind, _n, _d in _events(app)]


def _enrol(client: TestClient, clock: Clock) -> str:
    page = client.get("/console/account/two-factor")
    assert page.status_code == 200
    assert 'src="data:image/png;base64,' in page.text
    secret = page.text.split('<code class="secret">', 1)[1].split("</code>", 1)[0].replace(" ", "")
    code = pyotp.TOTP(secret).at(clock.now)
    done = client.post(
        "/console/account/two-factor",
        data={"code": code, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    return secret


def test_a_required_second_factor_is_set_up_then_asked_for_at_each_sign_in(
    client: TestClient, people: People, clock: Clock, app: FastAPI
) -> None:
    password = people.add("bolor", totp_required=True)
    first = sign_in(client, "bolor", password)
    assert first.headers["location"] == "/console/account/two-factor"
    secret = _enrol(client, clock)
    assert client.get("/console/").status_code == 200
    person = people.get("bolor")
    assert person.has_totp
    assert person.totp_secret is not None
    assert secret not in person.totp_secret  # sealed, not in clear
    client.post("/console/sign-out", data={"csrf_token": csrf_of(client.get("/console/").text)})

    clock.advance(timedelta(minutes=5))
    second = sign_in(client, "bolor", password)
    assert second.headers["location"] == "/console/sign-in/code"
    assert client.get("/console/", follow_redirects=False).status_code == 303
    wrong = post_form(client, "/console/sign-in/code", {"code": "000000"})
    assert wrong.status_code == 400
    assert "The code is not right, or it was used already" in wrong.text
    code = pyotp.TOTP(secret).at(clock.now)
    right = post_form(client, "/console/sign-in/code", {"code": code})
    assert right.headers["location"] == "/console/"
    assert "with your password and a code" in client.get("/console/").text


def test_a_code_is_accepted_once(client: TestClient, people: People, clock: Clock) -> None:
    password = people.add("bolor", totp_required=True)
    sign_in(client, "bolor", password)
    secret = _enrol(client, clock)
    page = client.get("/console/")
    client.post("/console/sign-out", data={"csrf_token": csrf_of(page.text)})
    sign_in(client, "bolor", password)
    # The code the enrolment used, in the same 30-second step: refused.
    replay = post_form(client, "/console/sign-in/code", {"code": pyotp.TOTP(secret).at(clock.now)})
    assert replay.status_code == 400


def test_each_step_of_a_sign_in_gets_a_new_session_token(
    client: TestClient, people: People, app: FastAPI, clock: Clock
) -> None:
    password = people.add("bolor", totp_required=True)
    client.cookies.set(
        "aeo_console_session",
        "a-token-an-attacker-planted",
        domain="testserver.local",
        path="/console",
    )
    sign_in(client, "bolor", password)
    partial = session_cookie(client)
    assert partial not in {None, "a-token-an-attacker-planted"}
    _enrol(client, clock)
    assert session_cookie(client) not in {None, partial}
    with app.state.session_factory() as session:
        assert session.scalar(sa.select(sa.func.count(ConsoleSession.id))) == 1


def test_signing_out_deletes_the_session_row_and_the_cookie(
    client: TestClient, people: People, app: FastAPI
) -> None:
    sign_in(client, "bolor", people.add("bolor"))
    home = client.get("/console/")
    out = client.post(
        "/console/sign-out", data={"csrf_token": csrf_of(home.text)}, follow_redirects=False
    )
    assert out.status_code == 303
    assert out.headers["location"] == "/console/sign-in"
    assert 'aeo_console_session=""' in out.headers["set-cookie"]
    with app.state.session_factory() as session:
        assert session.scalar(sa.select(sa.func.count(ConsoleSession.id))) == 0
    page = client.get("/console/sign-in")
    assert "You have signed out." in page.text
    assert _events(app)[-1][0] == AccessEventKind.SIGNED_OUT.value


def test_the_person_acts_through_a_console_key_no_bearer_token_can_match(
    client: TestClient, people: People, app: FastAPI
) -> None:
    sign_in(client, "bolor", people.add("bolor", Role.AUDITOR))
    with app.state.session_factory() as session:
        key = session.scalars(sa.select(ApiKey)).one()
        assert key.prefix.startswith("console-")
        assert key.role is Role.AUDITOR
        assert key.user.name == "bolor"
    answer = client.get("/v1/me", headers={"Authorization": f"Bearer aeo_{key.prefix}_x"})
    assert answer.status_code == 401


def test_after_sign_in_the_browser_goes_where_it_was_going_but_never_off_site(
    client: TestClient, people: People
) -> None:
    password = people.add("bolor")
    page = client.get("/console/sign-ins", follow_redirects=False)
    assert page.headers["location"] == "/console/sign-in?next=/console/sign-ins"
    form = client.get(page.headers["location"]).text
    answer = client.post(
        "/console/sign-in",
        data={"name": "bolor", "password": password, "next": "/console/sign-ins",
              "csrf_token": csrf_of(form)},
        follow_redirects=False,
    )  # fmt: skip
    assert answer.headers["location"] == "/console/sign-ins"
    client.cookies.clear()
    form = client.get("/console/sign-in").text
    answer = client.post(
        "/console/sign-in",
        data={"name": "bolor", "password": password, "next": "https://evil.example/",
              "csrf_token": csrf_of(form)},
        follow_redirects=False,
    )  # fmt: skip
    assert answer.headers["location"] == "/console/"
