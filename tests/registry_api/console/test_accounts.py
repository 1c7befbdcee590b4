"""Accounts and their rules without HTTP: lockout back-off, reset, disable, the access log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.orm import Session

from registry_api.console import accounts
from registry_api.console.accounts import Origin, Refusal, lockout_duration
from registry_api.console.roles import RoleTarget
from registry_api.db import AccessEvent, ApiKey, ConsoleSession, Role, User
from registry_api.errors import ConflictError, InvalidError, NotFoundError

from .support import START, People, cheap_passwords, console_of

WEB = Origin(client="127.0.0.1", request_id="r1", method="password")


def test_lockouts_last_one_minute_then_double_up_to_an_hour() -> None:
    minutes = [lockout_duration(n).total_seconds() / 60 for n in range(1, 10)]
    assert minutes == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert lockout_duration(10_000) == timedelta(hours=1)
    with pytest.raises(ValueError, match="counts from 1"):
        lockout_duration(0)


@pytest.fixture
def db(app: FastAPI, people: People) -> Iterator[Session]:
    with app.state.session_factory() as session:
        yield session


def _check(db: Session, name: str, password: str, minutes: float = 0) -> accounts.Check:
    return accounts.check_password(
        db, cheap_passwords(), name=name, password=password,
        now=START + timedelta(minutes=minutes), origin=WEB,
    )  # fmt: skip


def test_the_fifth_failure_locks_and_the_counter_starts_again(
    db: Session, people: People, app: FastAPI
) -> None:
    console_of(app).passwords = cheap_passwords()
    password = people.add("bolor")
    for attempt in range(1, 5):
        assert _check(db, "bolor", "nope").refusal is Refusal.WRONG
        assert accounts.get_person(db, "bolor").failed_attempts == attempt
    assert _check(db, "bolor", "nope").refusal is Refusal.WRONG
    person = accounts.get_person(db, "bolor")
    assert (person.failed_attempts, person.lockouts) == (0, 1)
    assert person.locked_until == START + timedelta(minutes=1)
    assert _check(db, "bolor", password, minutes=0.5).refusal is Refusal.LOCKED
    assert _check(db, "bolor", password, minutes=1).ok
    details = db.scalars(sa.select(AccessEvent.detail).order_by(AccessEvent.id)).all()
    assert "wrong password; locked for 1 min (lockout 1)" in details
    assert "wrong password (4 of 5)" in details


def test_an_unknown_or_malformed_name_is_refused_and_logged_as_typed(db: Session) -> None:
    for name in ("ghost", "two words", "x" * 500):
        assert _check(db, name, "whatever").refusal is Refusal.UNKNOWN
    names = db.scalars(sa.select(AccessEvent.name).order_by(AccessEvent.id)).all()
    assert names[-3:] == ["ghost", "two words", "x" * 128]


def test_a_reset_clears_the_lockout_ends_sessions_and_may_forget_the_second_factor(
    db: Session, people: People, client: object
) -> None:
    people.add("bolor")
    person = accounts.get_person(db, "bolor")
    person.lockouts, person.locked_until = 3, START + timedelta(hours=1)
    person.totp_secret, person.totp_confirmed_at = "v1:sealed", START
    db.add(ConsoleSession(
        token_hash=b"\x01" * 32, person=person, stage="signed_in", method="password",
        role=Role.ISSUING_OFFICER, created_at=START, last_seen_at=START,
    ))  # fmt: skip
    db.commit()
    accounts.reset_person(db, "bolor", password_hash="$new", now=START, reset_totp=True)
    db.commit()
    person = accounts.get_person(db, "bolor")
    assert (person.lockouts, person.locked_until, person.password_hash) == (0, None, "$new")
    assert person.password_change_required
    assert (person.totp_secret, person.totp_confirmed_at) == (None, None)
    assert db.scalar(sa.select(sa.func.count(ConsoleSession.id))) == 0


def test_disabling_ends_sessions_and_revokes_the_console_keys(db: Session, people: People) -> None:
    people.add("bolor")
    person = accounts.get_person(db, "bolor")
    key = ApiKey(user_id=person.user_id, prefix="console-0000aaaa", secret_hash=b"\0" * 32,
                 role=Role.ISSUING_OFFICER)  # fmt: skip
    other = ApiKey(user_id=person.user_id, prefix="0123456789ab", secret_hash=b"\0" * 32,
                   role=Role.ISSUING_OFFICER)  # fmt: skip
    db.add_all([key, other])
    db.commit()
    accounts.disable_person(db, "bolor", now=START)
    db.commit()
    db.refresh(key)
    db.refresh(other)
    assert key.revoked_at == START
    assert other.revoked_at is None  # the person's own API keys are the admins' business
    assert not accounts.get_person(db, "bolor").active


def test_an_account_shares_its_name_with_the_apis_user_of_that_name(db: Session) -> None:
    db.add(User(name="tsetseg"))
    db.commit()
    person = accounts.add_local_person(
        db, name="tsetseg", target=RoleTarget(Role.AUDITOR), password_hash="$h", now=START
    )
    assert person.user.name == "tsetseg"
    with pytest.raises(ConflictError, match="exists already"):
        accounts.add_local_person(
            db, name="tsetseg", target=RoleTarget(Role.AUDITOR), password_hash="$h", now=START
        )


def test_bad_names_partner_roles_without_a_partner_and_unknown_accounts_are_refused(
    db: Session,
) -> None:
    with pytest.raises(InvalidError, match="not an account name"):
        accounts.add_local_person(
            db, name="a b", target=RoleTarget(Role.AUDITOR), password_hash="$h", now=START
        )
    with pytest.raises(InvalidError, match="needs the partner administration"):
        accounts.add_local_person(
            db, name="kim", target=RoleTarget(Role.PARTNER), password_hash="$h", now=START
        )
    with pytest.raises(NotFoundError, match="no account named 'ghost'"):
        accounts.disable_person(db, "ghost", now=START)
