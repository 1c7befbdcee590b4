"""Session expiry (idle, absolute, a half-finished sign-in) on an injected clock, and what
the browser sees when its session has ended."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from registry_api.console.sessions import PARTIAL_SESSION, Timeouts, csrf_token_for
from registry_api.db import AccessEvent, ConsoleSession, SessionStage

from .support import START, Clock, People, sign_in


def _row(stage: SessionStage, created: float = 0, seen: float = 0) -> ConsoleSession:
    return ConsoleSession(
        stage=stage,
        created_at=START + timedelta(minutes=created),
        last_seen_at=START + timedelta(minutes=seen),
    )


def test_a_session_ends_after_its_idle_time_and_after_its_absolute_time() -> None:
    timeouts = Timeouts(idle=timedelta(minutes=30), absolute=timedelta(hours=12))
    signed_in = SessionStage.SIGNED_IN
    assert timeouts.ended(_row(signed_in), START + timedelta(minutes=29)) is None
    assert timeouts.ended(_row(signed_in), START + timedelta(minutes=30)) == "idle for 30 min"
    busy = _row(signed_in, created=0, seen=12 * 60 - 1)
    assert timeouts.ended(busy, START + timedelta(hours=12) - timedelta(seconds=1)) is None
    assert timeouts.ended(busy, START + timedelta(hours=12)) == "signed in 12 h ago"


def test_a_half_finished_sign_in_lasts_ten_minutes() -> None:
    timeouts = Timeouts(idle=timedelta(hours=1), absolute=timedelta(hours=12))
    row = _row(SessionStage.TOTP)
    assert timeouts.ended(row, START + PARTIAL_SESSION - timedelta(seconds=1)) is None
    assert timeouts.ended(row, START + PARTIAL_SESSION) == "sign-in not completed in time"


def test_each_session_token_has_its_own_csrf_token() -> None:
    token = "session-token-of-43-characters-xxxxxxxxxxx"
    assert csrf_token_for(token) != csrf_token_for(token + "y")
    assert csrf_token_for(token) == csrf_token_for(token)
    assert token not in csrf_token_for(token)


def test_activity_keeps_a_session_and_idleness_ends_it(
    client: TestClient, people: People, clock: Clock, app: FastAPI
) -> None:
    sign_in(client, "bolor", people.add("bolor"))
    for _ in range(3):
        clock.advance(timedelta(minutes=20))
        assert client.get("/console/").status_code == 200
    clock.advance(timedelta(minutes=30))
    ended = client.get("/console/", follow_redirects=False)
    assert ended.status_code == 303
    assert ended.headers["location"] == "/console/sign-in?next=/console/"
    page = client.get(ended.headers["location"])
    assert "Your session has ended. Sign in again to continue." in page.text
    with app.state.session_factory() as session:
        assert session.scalar(sa.select(sa.func.count(ConsoleSession.id))) == 0
        event = session.scalars(sa.select(AccessEvent).order_by(AccessEvent.id.desc())).first()
        assert event is not None
        assert (event.kind.value, event.detail) == ("session_expired", "idle for 30 min")


def test_the_absolute_timeout_ends_a_busy_session(
    client: TestClient, people: People, clock: Clock
) -> None:
    sign_in(client, "bolor", people.add("bolor"))
    for _ in range(12 * 3):
        clock.advance(timedelta(minutes=20))
        response = client.get("/console/", follow_redirects=False)
    assert response.status_code == 303
    assert clock.now - START == timedelta(hours=12)


def test_an_htmx_request_with_an_ended_session_is_told_to_load_the_sign_in_page(
    client: TestClient, people: People, clock: Clock
) -> None:
    sign_in(client, "bolor", people.add("bolor"))
    clock.advance(timedelta(hours=1))
    response = client.get("/console/", headers={"HX-Request": "true"}, follow_redirects=False)
    assert response.status_code == 200
    assert response.headers["hx-redirect"] == "/console/sign-in?next=/console/"
