"""Console sessions: server-side rows, an opaque token in a cookie, two timeouts, and the
CSRF token each session's forms carry.

The cookie holds 256 random bits; the database only their SHA-256 (a stolen database opens
no session). The cookie is ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other
site's page sends it), ``Path=/console`` (the API never sees it) and ``Secure`` when the
request came over HTTPS or the service says it sits behind TLS
(``AEO_CONSOLE_BEHIND_TLS``). It has no ``Max-Age``: closing the browser forgets it.

A session ends at the first of: sign-out; ``AEO_CONSOLE_SESSION_IDLE_MINUTES`` without a
request; ``AEO_CONSOLE_SESSION_ABSOLUTE_HOURS`` after its sign-in; the person disabled or
given a new password. A sign-in that stopped half-way (password right, second factor not
given) lasts :data:`PARTIAL_SESSION` at most. Each step of a sign-in gets a new token
(session fixation: a token known before signing in is worthless after).

The CSRF token is derived from the session's token (HMAC), so it needs no storage, changes
with every session, and cannot be computed without the cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..db import ConsoleSession, Person, Role, SessionStage, SignInMethod
from ..settings import Settings

SESSION_COOKIE = "aeo_console_session"
#: the sign-in state cookie (Starlette's signed session): SameSite=Lax, as the identity
#: provider's redirect back to the console is a cross-site navigation
LOGIN_STATE_COOKIE = "aeo_console_login"
LOGIN_STATE_MAX_AGE = 3600
COOKIE_PATH = "/console"
#: how long a sign-in may stay half-way (between the password and the second factor)
PARTIAL_SESSION = timedelta(minutes=10)
#: ``last_seen_at`` is written at most this often (saves a write per page); the idle
#: timeout is therefore exact to within this
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
_CSRF_LABEL = b"aeo-registry console csrf"


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii", "replace")).digest()


def csrf_token_for(session_token: str) -> str:
    digest = hmac.new(session_token.encode("ascii", "replace"), _CSRF_LABEL, "sha256").digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


@dataclass(frozen=True, slots=True)
class Timeouts:
    idle: timedelta
    absolute: timedelta

    @classmethod
    def of(cls, settings: Settings) -> Timeouts:
        return cls(
            idle=timedelta(minutes=settings.console_session_idle_minutes),
            absolute=timedelta(hours=settings.console_session_absolute_hours),
        )

    def ended(self, row: ConsoleSession, now: datetime) -> str | None:
        """Why ``row`` has ended at ``now`` (for the access log), or None."""
        if row.stage is not SessionStage.SIGNED_IN:
            if now - row.created_at >= PARTIAL_SESSION:
                return "sign-in not completed in time"
            return None
        if now - row.last_seen_at >= self.idle:
            return f"idle for {self.idle.total_seconds() / 60:g} min"
        if now - row.created_at >= self.absolute:
            return f"signed in {self.absolute.total_seconds() / 3600:g} h ago"
        return None


def start_session(
    db: Session,
    person: Person,
    *,
    stage: SessionStage,
    method: SignInMethod,
    role: Role,
    partner_authority: str | None,
    now: datetime,
    replacing: ConsoleSession | None = None,
) -> tuple[ConsoleSession, str]:
    """A new session row and its token; ``replacing`` (the session of the step before, or
    one the browser still had) is deleted."""
    if replacing is not None:
        db.delete(replacing)
        db.flush()
    token = secrets.token_urlsafe(32)
    row = ConsoleSession(
        token_hash=hash_token(token),
        person=person,
        stage=stage,
        method=method,
        role=role,
        partner_authority=partner_authority,
        created_at=now,
        last_seen_at=now,
    )
    db.add(row)
    db.flush()
    return row, token


def find_session(db: Session, token: str | None) -> ConsoleSession | None:
    if not token or len(token) > 128:
        return None
    return db.scalars(
        sa.select(ConsoleSession).where(ConsoleSession.token_hash == hash_token(token))
    ).one_or_none()


def touch(row: ConsoleSession, now: datetime) -> bool:
    """Record activity; True when the row changed (to commit)."""
    if now - row.last_seen_at >= LAST_SEEN_RESOLUTION:
        row.last_seen_at = now
        return True
    return False
