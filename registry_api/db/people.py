"""People who sign in to the officers' console, their sessions, and the access log.

A *person* signs in with a local account (an argon2id password hash, optionally a TOTP
second factor) or through the administration's OpenID Connect provider (issuer and
subject). Each person is also a :class:`~registry_api.db.access.User`, the named holder
the API already knows, so that what a person does in the console is recorded under the
same name as their API keys' work.

A console *session* is a row found by the SHA-256 of the opaque token in the browser's
cookie (the token itself is never stored). An *access event* records every sign-in,
failure, lockout, sign-out and account change, for the audit page.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .access import ApiKey, Role, User
from .base import Base, BigIntKey, NulSafeString, NulSafeText, enum_column, utc_now


class SignInSource(StrEnum):
    LOCAL = "local"
    OIDC = "oidc"


class Person(Base):
    __tablename__ = "people"
    __table_args__ = (sa.UniqueConstraint("oidc_issuer", "oidc_subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the account name people type (local) or the provider's preferred user name (OIDC);
    #: the same as the linked user's name
    name: Mapped[str] = mapped_column(NulSafeString(128), unique=True)
    display_name: Mapped[str] = mapped_column(NulSafeString(256))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), unique=True)
    source: Mapped[SignInSource] = mapped_column(enum_column(SignInSource))
    #: a local account's role; an OIDC person's role comes from the provider at each sign-in
    #: and is kept here as the last one mapped
    role: Mapped[Role] = mapped_column(enum_column(Role, 24))
    #: the partner administration of a ``partner`` or ``border_officer`` person
    partner_authority: Mapped[str | None] = mapped_column(NulSafeString(4))
    oidc_issuer: Mapped[str | None] = mapped_column(NulSafeString(512))
    oidc_subject: Mapped[str | None] = mapped_column(NulSafeString(255))

    #: argon2id (PHC string); None for OIDC people
    password_hash: Mapped[str | None] = mapped_column(NulSafeString(256))
    #: the password was set by an administrator (``aeo users add/reset``): change it first
    password_change_required: Mapped[bool] = mapped_column(default=False)
    #: a second factor is required: enrol at the next sign-in if there is none yet
    totp_required: Mapped[bool] = mapped_column(default=False)
    #: the TOTP secret, sealed (``registry_api.console.sealing``); set at enrolment
    totp_secret: Mapped[str | None] = mapped_column(NulSafeString(256))
    #: when enrolment was confirmed with a code; until then the secret is not a factor
    totp_confirmed_at: Mapped[datetime | None] = mapped_column()
    #: the last 30-second step a code was accepted for: a code is used once
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)

    #: wrong passwords or codes since the last success or lockout
    failed_attempts: Mapped[int] = mapped_column(default=0)
    #: lockouts since the last success (each one lasts twice the one before)
    lockouts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column()

    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    disabled_at: Mapped[datetime | None] = mapped_column()
    last_sign_in_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship(lazy="joined")

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    @property
    def has_totp(self) -> bool:
        return self.totp_secret is not None and self.totp_confirmed_at is not None


class SessionStage(StrEnum):
    """How far a sign-in got. Only ``signed_in`` opens the console's pages."""

    #: the password was right; the second factor is next
    TOTP = "totp"
    #: the password was right; a second factor must be set up first
    TOTP_ENROLMENT = "totp_enrolment"
    #: the password was right and was set by an administrator: choose a new one first
    PASSWORD_CHANGE = "password_change"  # noqa: S105 -- a name, not a password
    SIGNED_IN = "signed_in"


class SignInMethod(StrEnum):
    PASSWORD = "password"  # noqa: S105 -- a name, not a password
    PASSWORD_TOTP = "password_totp"  # noqa: S105 -- a name, not a password
    OIDC = "oidc"


class ConsoleSession(Base):
    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: SHA-256 of the cookie's token
    token_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32), unique=True)
    person_id: Mapped[int] = mapped_column(
        sa.ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[SessionStage] = mapped_column(enum_column(SessionStage, 24))
    method: Mapped[SignInMethod] = mapped_column(enum_column(SignInMethod))
    role: Mapped[Role] = mapped_column(enum_column(Role, 24))
    partner_authority: Mapped[str | None] = mapped_column(NulSafeString(4))
    #: the API key row the person acts through (``registry_api.console.principal``); set
    #: once the sign-in is complete
    api_key_id: Mapped[int | None] = mapped_column(sa.ForeignKey("api_keys.id"))
    created_at: Mapped[datetime] = mapped_column()
    last_seen_at: Mapped[datetime] = mapped_column()

    person: Mapped[Person] = relationship(lazy="joined")
    api_key: Mapped[ApiKey | None] = relationship(lazy="joined")


class AccessEventKind(StrEnum):
    SIGNED_IN = "signed_in"
    #: a wrong password or code, or an unknown account
    SIGN_IN_FAILED = "sign_in_failed"
    #: the failure that locked the account
    LOCKED_OUT = "locked_out"
    #: an attempt on a locked account (the browser is told "wrong password")
    LOCKED = "locked"
    #: an attempt on a disabled account
    DISABLED = "disabled"
    SIGNED_OUT = "signed_out"
    SESSION_EXPIRED = "session_expired"
    TOTP_ENROLLED = "totp_enrolled"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 -- a name, not a password
    #: the provider said who this is, but no claim value maps to a role
    SSO_REFUSED = "sso_refused"
    #: the provider's answer did not check out (state, nonce, token, error)
    SSO_FAILED = "sso_failed"
    CSRF_REFUSED = "csrf_refused"
    ACCOUNT_ADDED = "account_added"
    ACCOUNT_DISABLED = "account_disabled"
    ACCOUNT_RESET = "account_reset"


class AccessEvent(Base):
    __tablename__ = "access_events"

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[AccessEventKind] = mapped_column(enum_column(AccessEventKind, 24))
    person_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    #: the account name as known or as typed (cut to its column)
    name: Mapped[str | None] = mapped_column(NulSafeString(128))
    method: Mapped[str | None] = mapped_column(NulSafeString(16))
    role: Mapped[str | None] = mapped_column(NulSafeString(24))
    #: the client's address, as the server saw it
    client: Mapped[str | None] = mapped_column(NulSafeString(64))
    request_id: Mapped[str | None] = mapped_column(NulSafeString(128))
    #: why, in words (never a secret)
    detail: Mapped[str | None] = mapped_column(NulSafeText())
