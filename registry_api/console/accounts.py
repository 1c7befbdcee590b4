"""People and their sign-in: local accounts (add, disable, enable, reset, list), password and
TOTP checks with lockout, and the access log. Plain functions on a database session, which
the console's pages and ``aeo users`` both call; the caller commits.

Lockout: :data:`LOCKOUT_THRESHOLD` wrong passwords or codes in a row lock the account for
:data:`LOCKOUT_BASE`; each further lockout before a successful sign-in lasts twice the one
before, up to :data:`LOCKOUT_CAP` (1, 2, 4, 8, 16, 32, 60, 60... minutes). A locked account
answers exactly as a wrong password does (the page must not tell a guesser that the name
exists, nor that the guess was right); the access log says ``locked``. A successful sign-in
(every factor) clears the counters; so does ``aeo users reset``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..db import (
    AccessEvent,
    AccessEventKind,
    ApiKey,
    ConsoleSession,
    Person,
    Role,
    SignInSource,
    User,
)
from ..errors import ConflictError, FieldError, InvalidError, NotFoundError
from .passwords import Passwords
from .roles import PARTNER_ROLES, RoleTarget
from .sealing import Sealer
from .totp import check_code

LOCKOUT_THRESHOLD = 5
LOCKOUT_BASE = timedelta(minutes=1)
LOCKOUT_CAP = timedelta(hours=1)

#: what an account name may hold: letters, digits and . _ @ - (an e-mail address fits)
NAME_RE = re.compile(r"^[\w.@-]{1,128}$")
NAME_LENGTH = 128
DISPLAY_NAME_LENGTH = 256


def lockout_duration(lockouts: int) -> timedelta:
    """How long the ``lockouts``-th lockout in a row lasts (1-based)."""
    if lockouts < 1:
        raise ValueError("lockouts counts from 1")
    # Past 2^20 the cap has long been reached; the bound keeps the power small.
    longer: timedelta = LOCKOUT_BASE * 2 ** min(lockouts - 1, 20)
    return min(longer, LOCKOUT_CAP)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a request came from, for the access log."""

    client: str | None = None
    request_id: str | None = None
    method: str | None = None


def record_event(
    session: Session,
    kind: AccessEventKind,
    *,
    now: datetime,
    person: Person | None = None,
    name: str | None = None,
    role: str | None = None,
    origin: Origin = Origin(),
    detail: str | None = None,
) -> AccessEvent:
    event = AccessEvent(
        at=now,
        kind=kind,
        person_id=person.id if person is not None else None,
        name=(person.name if person is not None else name or None),
        role=role if role is not None else (person.role.value if person is not None else None),
        method=origin.method,
        client=(origin.client or None) and origin.client[:64],
        request_id=origin.request_id,
        detail=detail,
    )
    if event.name is not None:
        event.name = event.name[:NAME_LENGTH]
    session.add(event)
    return event


# ---------------------------------------------------------------- accounts


def check_name(name: str, field: str = "name") -> str:
    if not NAME_RE.fullmatch(name):
        raise InvalidError(
            f"{field}: {name!r} is not an account name",
            errors=[FieldError(field, "use 1 to 128 letters, digits and . _ @ - (no spaces)")],
        )
    return name


def find_person(session: Session, name: str) -> Person | None:
    return session.scalars(sa.select(Person).where(Person.name == name)).one_or_none()


def get_person(session: Session, name: str) -> Person:
    person = find_person(session, name)
    if person is None:
        raise NotFoundError(f"no account named {name!r}")
    return person


def _user_for(session: Session, name: str) -> User:
    """The ``users`` row named ``name`` (the API's key holders), created if there is none;
    ConflictError if another person already has it."""
    user = session.scalars(sa.select(User).where(User.name == name)).one_or_none()
    if user is None:
        user = User(name=name)
        session.add(user)
        session.flush()
        return user
    taken = session.scalars(sa.select(Person.id).where(Person.user_id == user.id)).first()
    if taken is not None:
        raise ConflictError(f"the name {name!r} already belongs to another account")
    return user


def add_local_person(
    session: Session,
    *,
    name: str,
    target: RoleTarget,
    password_hash: str,
    now: datetime,
    totp_required: bool = False,
    display_name: str | None = None,
    origin: Origin = Origin(method="cli"),
) -> Person:
    """A new local account whose password must be changed at the first sign-in."""
    check_name(name)
    if target.role in PARTNER_ROLES and target.partner_authority is None:
        raise InvalidError(
            f"role {target.role.value!r} needs the partner administration",
            errors=[FieldError("partner_authority", f"is required for {target.role.value}")],
        )
    if find_person(session, name) is not None:
        raise ConflictError(f"an account named {name!r} exists already")
    person = Person(
        name=name,
        display_name=(display_name or name)[:DISPLAY_NAME_LENGTH],
        user=_user_for(session, name),
        source=SignInSource.LOCAL,
        role=target.role,
        partner_authority=target.partner_authority,
        password_hash=password_hash,
        password_change_required=True,
        totp_required=totp_required,
        created_at=now,
    )
    session.add(person)
    session.flush()
    record_event(
        session,
        AccessEventKind.ACCOUNT_ADDED,
        now=now,
        person=person,
        origin=origin,
        detail="second factor required" if totp_required else None,
    )
    return person


def end_sessions(session: Session, person: Person) -> int:
    """Delete every session of ``person``; how many there were."""
    result = session.execute(sa.delete(ConsoleSession).where(ConsoleSession.person_id == person.id))
    return int(getattr(result, "rowcount", 0) or 0)


def revoke_console_keys(session: Session, person: Person, now: datetime) -> None:
    """Revoke the API key rows ``person`` acted through (``console.principal``)."""
    from .principal import CONSOLE_KEY_PREFIX

    session.execute(
        sa.update(ApiKey)
        .where(
            ApiKey.user_id == person.user_id,
            ApiKey.prefix.startswith(CONSOLE_KEY_PREFIX),
            ApiKey.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )


def disable_person(
    session: Session, name: str, *, now: datetime, origin: Origin = Origin(method="cli")
) -> Person:
    """Nobody signs in as ``name`` any more; its sessions end now."""
    person = get_person(session, name)
    if person.disabled_at is None:
        person.disabled_at = now
    end_sessions(session, person)
    revoke_console_keys(session, person, now)
    record_event(session, AccessEventKind.ACCOUNT_DISABLED, now=now, person=person, origin=origin)
    return person


def enable_person(
    session: Session, name: str, *, now: datetime, origin: Origin = Origin(method="cli")
) -> Person:
    person = get_person(session, name)
    person.disabled_at = None
    record_event(
        session, AccessEventKind.ACCOUNT_RESET, now=now, person=person, origin=origin,
        detail="enabled",
    )  # fmt: skip
    return person


def reset_person(
    session: Session,
    name: str,
    *,
    password_hash: str,
    now: datetime,
    reset_totp: bool = False,
    origin: Origin = Origin(method="cli"),
) -> Person:
    """A new password (to change at the next sign-in), the lockout cleared, the sessions
    ended; with ``reset_totp`` the second factor is forgotten (enrol again if required)."""
    person = get_person(session, name)
    if person.source is not SignInSource.LOCAL:
        raise ConflictError(f"{name!r} signs in through the identity provider, not a password")
    person.password_hash = password_hash
    person.password_change_required = True
    person.failed_attempts = 0
    person.lockouts = 0
    person.locked_until = None
    if reset_totp:
        person.totp_secret = None
        person.totp_confirmed_at = None
        person.totp_last_step = None
    end_sessions(session, person)
    record_event(
        session,
        AccessEventKind.ACCOUNT_RESET,
        now=now,
        person=person,
        origin=origin,
        detail="password and second factor" if reset_totp else "password",
    )
    return person


def list_people(session: Session) -> Sequence[Person]:
    return session.scalars(sa.select(Person).order_by(Person.name)).all()


# ---------------------------------------------------------------- signing in


class Refusal(StrEnum):
    """Why a check failed, for the access log; the browser sees one message for all."""

    UNKNOWN = "unknown account"
    WRONG = "wrong password"
    WRONG_CODE = "wrong code"
    REPLAYED_CODE = "code already used"
    LOCKED = "locked"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class Check:
    person: Person | None
    refusal: Refusal | None = None

    @property
    def ok(self) -> bool:
        return self.refusal is None


def is_locked(person: Person, now: datetime) -> bool:
    return person.locked_until is not None and person.locked_until > now


def _fail(
    session: Session, person: Person, refusal: Refusal, *, now: datetime, origin: Origin
) -> Check:
    """Count a wrong password or code; lock the account at the threshold."""
    person.failed_attempts += 1
    if person.failed_attempts >= LOCKOUT_THRESHOLD:
        person.lockouts += 1
        person.failed_attempts = 0
        duration = lockout_duration(person.lockouts)
        person.locked_until = now + duration
        minutes = duration.total_seconds() / 60
        record_event(
            session,
            AccessEventKind.LOCKED_OUT,
            now=now,
            person=person,
            origin=origin,
            detail=f"{refusal.value}; locked for {minutes:g} min (lockout {person.lockouts})",
        )
    else:
        record_event(
            session,
            AccessEventKind.SIGN_IN_FAILED,
            now=now,
            person=person,
            origin=origin,
            detail=f"{refusal.value} ({person.failed_attempts} of {LOCKOUT_THRESHOLD})",
        )
    return Check(person, refusal)


def _refuse_inactive(
    session: Session, person: Person, *, now: datetime, origin: Origin
) -> Check | None:
    if person.disabled_at is not None:
        record_event(session, AccessEventKind.DISABLED, now=now, person=person, origin=origin)
        return Check(person, Refusal.DISABLED)
    if is_locked(person, now):
        assert person.locked_until is not None
        record_event(
            session,
            AccessEventKind.LOCKED,
            now=now,
            person=person,
            origin=origin,
            detail=f"locked until {person.locked_until.isoformat(timespec='seconds')}",
        )
        return Check(person, Refusal.LOCKED)
    return None


def check_password(
    session: Session,
    passwords: Passwords,
    *,
    name: str,
    password: str,
    now: datetime,
    origin: Origin,
) -> Check:
    """The first factor. Every path verifies one argon2 hash, so that the time taken does
    not tell an unknown name, a locked or disabled account, or a wrong password apart."""
    person = find_person(session, name[:NAME_LENGTH]) if NAME_RE.fullmatch(name) else None
    if person is not None and person.source is not SignInSource.LOCAL:
        person = None  # people of the identity provider have no password here
    matches = passwords.verify(person.password_hash if person else None, password)
    if person is None:
        record_event(
            session,
            AccessEventKind.SIGN_IN_FAILED,
            now=now,
            name=name,
            origin=origin,
            detail=Refusal.UNKNOWN.value,
        )
        return Check(None, Refusal.UNKNOWN)
    refused = _refuse_inactive(session, person, now=now, origin=origin)
    if refused is not None:
        return refused
    if not matches:
        return _fail(session, person, Refusal.WRONG, now=now, origin=origin)
    assert person.password_hash is not None
    if passwords.needs_rehash(person.password_hash):
        person.password_hash = passwords.hash(password)
    return Check(person)


def check_totp(
    session: Session,
    person: Person,
    sealer: Sealer,
    code: str,
    *,
    now: datetime,
    origin: Origin,
) -> Check:
    """The second factor of ``person`` (whose password was right)."""
    refused = _refuse_inactive(session, person, now=now, origin=origin)
    if refused is not None:
        return refused
    assert person.totp_secret is not None
    secret = sealer.open(person.id, person.totp_secret)
    result = check_code(secret, code, now=now, last_step=person.totp_last_step)
    if not result.accepted:
        refusal = Refusal.REPLAYED_CODE if result.replayed else Refusal.WRONG_CODE
        return _fail(session, person, refusal, now=now, origin=origin)
    person.totp_last_step = result.step
    return Check(person)


def confirm_totp_enrolment(
    session: Session,
    person: Person,
    sealer: Sealer,
    code: str,
    *,
    now: datetime,
    origin: Origin,
) -> Check:
    """The first code from the person's app, which proves the app holds the secret."""
    refused = _refuse_inactive(session, person, now=now, origin=origin)
    if refused is not None:
        return refused
    assert person.totp_secret is not None
    secret = sealer.open(person.id, person.totp_secret)
    result = check_code(secret, code, now=now, last_step=None)
    if not result.accepted:
        return _fail(session, person, Refusal.WRONG_CODE, now=now, origin=origin)
    person.totp_confirmed_at = now
    person.totp_last_step = result.step
    record_event(session, AccessEventKind.TOTP_ENROLLED, now=now, person=person, origin=origin)
    return Check(person)


def signed_in(
    session: Session, person: Person, *, role: Role, now: datetime, origin: Origin
) -> None:
    """Every factor checked out: clear the counters and log the sign-in."""
    person.failed_attempts = 0
    person.lockouts = 0
    person.locked_until = None
    person.last_sign_in_at = now
    record_event(
        session, AccessEventKind.SIGNED_IN, now=now, person=person, role=role.value,
        origin=origin,
    )  # fmt: skip
