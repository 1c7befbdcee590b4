"""Authentication by API key, authorization by role, and per-key rate limiting.

A token reads ``aeo_<prefix>_<secret>``: the prefix (12 hex characters) finds the key row
and may appear in logs; the secret (43 URL-safe base64 characters, 256 random bits) never
leaves the caller. The database keeps only SHA-256 of the whole token. A slow password hash
(or a pepper) buys nothing here: 256 random bits cannot be guessed from their hash.

Every route declares the roles it admits with :func:`require_roles`; a test walks the app
and fails on a ``/v1`` route without one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .db import ApiKey, Role, utc_now
from .deps import SessionDep, SettingsDep
from .errors import ForbiddenError, RateLimitedError, UnauthorizedError
from .ratelimit import TokenBucketLimiter

__all__ = [
    "AdminKey",
    "AnyKey",
    "AuthenticatedKey",
    "CurrentKey",
    "Role",
    "authenticate",
    "hash_token",
    "new_token",
    "require_roles",
]

TOKEN_PREFIX = "aeo"  # noqa: S105 -- the fixed scheme tag of every token, not a secret
_TOKEN_RE = re.compile(r"^aeo_(?P<prefix>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{43})$")
#: how stale ``last_used_at`` may get before a request refreshes it (saves a write per call)
LAST_USED_RESOLUTION = timedelta(minutes=1)

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


# Built once: every authenticated request runs it, and building a statement costs more
# than running it.
_KEY_BY_PREFIX = sa.select(ApiKey).where(ApiKey.prefix == sa.bindparam("prefix"))


def _limiter(request: Request) -> TokenBucketLimiter:
    limiter: TokenBucketLimiter = request.app.state.rate_limiter
    return limiter


def authenticate(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> AuthenticatedKey:
    """The API key behind the request's bearer token; 401 when there is none, 429 when the
    key has used its rate."""
    if credentials is None:
        raise UnauthorizedError("send an API key as 'Authorization: Bearer aeo_...'")
    token = credentials.credentials
    prefix = token_prefix(token)
    if prefix is None:
        raise UnauthorizedError(
            "the bearer token is not an API key of the form aeo_<prefix>_<secret>"
        )
    key = session.scalars(_KEY_BY_PREFIX, {"prefix": prefix}).one_or_none()
    # Compare even when no key has this prefix, so the answer takes as long either way.
    expected = key.secret_hash if key is not None else hash_token("")
    matches = hmac.compare_digest(expected, hash_token(token))
    if key is None or not matches:
        raise UnauthorizedError("the API key is not valid")
    request.state.key_prefix = key.prefix
    if key.revoked_at is not None:
        raise UnauthorizedError("the API key has been revoked")

    wait = _limiter(request).acquire(key.id)
    if wait is not None:
        raise RateLimitedError(
            f"this API key exceeded {settings.rate_limit_per_minute} requests per minute; "
            f"retry in {wait} s",
            retry_after=wait,
        )

    now = utc_now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        key.last_used_at = now
        session.commit()
    return AuthenticatedKey(
        id=key.id,
        prefix=key.prefix,
        user=key.user.name,
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
