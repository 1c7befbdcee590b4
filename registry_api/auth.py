"""Authentication by API key, authorization by role, and per-key rate limiting.

A token reads ``aeo_<prefix>_<secret>``: the prefix (12 hex characters) finds the key row
and may appear in logs; the secret (43 URL-safe base64 characters, 256 random bits) never
leaves the caller. The database keeps only SHA-256 of the whole token. A slow password hash
(or a pepper) buys nothing here: 256 random bits cannot be guessed from their hash.

Every route declares the roles it admits with :func:`require_roles`; a test walks the app
and fails on a ``/v1`` route without one.

A verified token is remembered in process for :data:`KEY_CACHE_SECONDS` (by its SHA-256,
never the token itself), so a busy key costs one database read per few seconds instead of
one per request. Revoking a key through this process forgets it at once; a revocation made
by another process (another worker, the CLI) takes effect here within that time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from .db import ApiKey, Role, utc_now
from .deps import SettingsDep
from .errors import ForbiddenError, RateLimitedError, UnauthorizedError
from .ratelimit import TokenBucketLimiter

__all__ = [
    "AdminKey",
    "AnyKey",
    "AuthenticatedKey",
    "CurrentKey",
    "KeyCache",
    "Role",
    "authenticate",
    "forget_api_key",
    "hash_token",
    "new_token",
    "require_roles",
]

TOKEN_PREFIX = "aeo"  # noqa: S105 -- the fixed scheme tag of every token, not a secret
_TOKEN_RE = re.compile(r"^aeo_(?P<prefix>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{43})$")
#: how stale ``last_used_at`` may get before a request refreshes it (saves a write per call)
LAST_USED_RESOLUTION = timedelta(minutes=1)
#: how long a verified token is trusted without reading its key again (see the module doc)
KEY_CACHE_SECONDS = 5.0

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    bearerFormat="aeo_<prefix>_<secret>",
    description="An API key created by an administrator of this registry.",
)


def new_token() -> tuple[str, str]:
    """A fresh ``(prefix, token)`` pair."""
    prefix = secrets.token_hex(6)
    return prefix, f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def token_prefix(token: str) -> str | None:
    """The prefix of a well-formed token, or None."""
    match = _TOKEN_RE.match(token)
    return match.group("prefix") if match else None


@dataclass(frozen=True, slots=True)
class AuthenticatedKey:
    """The caller, as the routes see it."""

    id: int
    prefix: str
    user: str
    role: Role
    #: the partner administration a ``partner`` / ``border_officer`` key belongs to
    partner_authority: str | None
    #: this registry's administration
    authority: str

    @property
    def acts_for(self) -> str:
        """The administration whose user this is (a partner's, or this one)."""
        return self.partner_authority or self.authority


@dataclass(frozen=True, slots=True)
class _VerifiedKey:
    """What a request needs of a key row that matched its token and was not revoked."""

    id: int
    prefix: str
    user: str
    role: Role
    partner_authority: str | None
    #: the cache's clock reading after which the key row must be read again
    expires: float


class KeyCache:
    """Verified tokens, by database and SHA-256 of the token, each for ``ttl`` seconds.

    The database is part of the key: several services can run in one process (tests, the
    demo), and a key one administration's database holds means nothing to another's.

    Only keys that passed every check are kept: an unknown, wrong or revoked token reads
    the database each time. Plain dict operations, so threads (the miss path runs in the
    thread pool) need no lock for reads; writers take one to keep the size bound exact.
    """

    def __init__(
        self,
        ttl: float = KEY_CACHE_SECONDS,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl < 0 or max_entries < 1:
            raise ValueError("ttl must be >= 0 and max_entries >= 1")
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[tuple[object, bytes], _VerifiedKey] = {}
        self._lock = threading.Lock()

    def get(self, database: object, token_hash: bytes) -> _VerifiedKey | None:
        """``database``: any hashable that tells databases apart (the app's engine)."""
        entry = self._entries.get((database, token_hash))
        if entry is None or entry.expires <= self._clock():
            return None
        return entry

    def put(self, database: object, token_hash: bytes, key: ApiKey) -> _VerifiedKey:
        entry = _VerifiedKey(
            id=key.id,
            prefix=key.prefix,
            user=key.user.name,
            role=key.role,
            partner_authority=key.partner_authority,
            expires=self._clock() + self.ttl,
        )
        if self.ttl > 0:
            with self._lock:
                self._entries.pop((database, token_hash), None)
                while len(self._entries) >= self.max_entries:
                    # Dicts keep insertion order: the first entry is the oldest.
                    del self._entries[next(iter(self._entries))]
                self._entries[(database, token_hash)] = entry
        return entry

    def forget(self, key_id: int) -> None:
        """Drop key ``key_id`` in every database (ids repeat across databases, which only
        costs the others a re-read)."""
        with self._lock:
            for cache_key, entry in list(self._entries.items()):
                if entry.id == key_id:
                    del self._entries[cache_key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


#: the process's cache: module-level, so that revoking a key (a service function holding
#: only a session) can reach it
key_cache = KeyCache()


def forget_api_key(key_id: int) -> None:
    """Make this process read key ``key_id`` again on its next use (after revoking it)."""
    key_cache.forget(key_id)


# Built once: building a statement costs more than running it.
_KEY_BY_PREFIX = sa.select(ApiKey).where(ApiKey.prefix == sa.bindparam("prefix"))


def _limiter(request: Request) -> TokenBucketLimiter:
    limiter: TokenBucketLimiter = request.app.state.rate_limiter
    return limiter


def _verify(
    request: Request,
    factory: sessionmaker[Session],
    database: object,
    prefix: str,
    token_hash: bytes,
) -> _VerifiedKey:
    """Read the key behind ``prefix`` and check the token against it; remember it if valid.

    Runs in the thread pool whatever the database: it may write ``last_used_at``, and a
    write can wait for SQLite's lock, which must not stall the event loop.
    """
    with factory() as session:
        key = session.scalars(_KEY_BY_PREFIX, {"prefix": prefix}).one_or_none()
        # Compare even when no key has this prefix, so the answer takes as long either way.
        expected = key.secret_hash if key is not None else hash_token("")
        matches = hmac.compare_digest(expected, token_hash)
        if key is None or not matches:
            raise UnauthorizedError("the API key is not valid")
        request.state.key_prefix = key.prefix
        if key.revoked_at is not None:
            raise UnauthorizedError("the API key has been revoked")
        now = utc_now()
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
            key.last_used_at = now
            session.commit()
        return key_cache.put(database, token_hash, key)


async def authenticate(
    request: Request,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> AuthenticatedKey:
    """The API key behind the request's bearer token; 401 when there is none, 429 when the
    key has used its rate.

    async: a cached key needs no I/O, and a plain def would cost a thread-pool hop on every
    request; a cache miss reads the key in the thread pool (:func:`_verify`).
    """
    if credentials is None:
        raise UnauthorizedError("send an API key as 'Authorization: Bearer aeo_...'")
    token = credentials.credentials
    prefix = token_prefix(token)
    if prefix is None:
        raise UnauthorizedError(
            "the bearer token is not an API key of the form aeo_<prefix>_<secret>"
        )
    token_hash = hash_token(token)
    database = request.app.state.engine
    key = key_cache.get(database, token_hash)
    if key is None:
        factory: sessionmaker[Session] = request.app.state.session_factory
        key = await run_in_threadpool(_verify, request, factory, database, prefix, token_hash)
    else:
        request.state.key_prefix = key.prefix

    wait = _limiter(request).acquire(key.id)
    if wait is not None:
        raise RateLimitedError(
            f"this API key exceeded {settings.rate_limit_per_minute} requests per minute; "
            f"retry in {wait} s",
            retry_after=wait,
        )
    return AuthenticatedKey(
        id=key.id,
        prefix=key.prefix,
        user=key.user,
        role=key.role,
        partner_authority=key.partner_authority,
        authority=settings.authority,
    )


CurrentKey = Annotated[AuthenticatedKey, Depends(authenticate)]


class RoleRequirement:
    """The dependency :func:`require_roles` returns; ``roles`` is what the route admits."""

    def __init__(self, roles: frozenset[Role]) -> None:
        self.roles = roles

    async def __call__(self, key: CurrentKey) -> AuthenticatedKey:
        # async: a pure check; a plain def would cost a thread-pool hop per request.
        if key.role not in self.roles:
            allowed = ", ".join(sorted(role.value for role in self.roles))
            raise ForbiddenError(
                f"role '{key.role.value}' may not do this; it needs one of: {allowed}"
            )
        return key

    def __repr__(self) -> str:
        return f"require_roles({', '.join(sorted(r.value for r in self.roles))})"


def require_roles(*roles: Role) -> RoleRequirement:
    """A dependency admitting only keys with one of ``roles`` (403 for the others)."""
    if not roles:
        raise ValueError("require_roles needs at least one role")
    return RoleRequirement(frozenset(roles))


AdminKey = Annotated[AuthenticatedKey, Depends(require_roles(Role.ADMIN))]
AnyKey = Annotated[AuthenticatedKey, Depends(require_roles(*Role))]
