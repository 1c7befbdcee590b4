"""Cross-site request forgery: every state-changing request of the console (POST, PUT,
PATCH, DELETE) must carry the page's CSRF token, in the form field :data:`FORM_FIELD` or the
header :data:`HEADER` (htmx sends it from ``hx-headers`` on ``<body>``), and must not come
from another site when the browser says where it came from (``Origin``,
``Sec-Fetch-Site``). Otherwise it is refused with the 403 page before anything runs.

The token is the session's (derived from its cookie, ``sessions.csrf_token_for``); before a
session exists (the sign-in form) it is a random value kept in the signed sign-in state
cookie. Tokens are compared in constant time.

Every console route is a :class:`ConsoleRoute`, which checks before the route's
dependencies run; a test walks the console and fails on a route that is not.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from .sessions import SESSION_COOKIE, csrf_token_for

FORM_FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_LOGIN_STATE_KEY = "csrf"


class CsrfRefused(Exception):
    """A state-changing request without the right token, or from another site."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def expected_token(request: Request) -> str:
    """The token this browser's forms carry: its session's, else (no session, or one found
    ended) the sign-in state's, created on first use."""
    session_token = request.cookies.get(SESSION_COOKIE)
    if session_token and not getattr(request.state, "console_expired", False):
        return csrf_token_for(session_token)
    return _login_state_token(request, create=True) or ""


def _login_state_token(request: Request, *, create: bool) -> str | None:
    state: dict[str, Any] = request.session
    token = state.get(_LOGIN_STATE_KEY)
    if not isinstance(token, str) or not token:
        if not create:
            return None
        token = state[_LOGIN_STATE_KEY] = secrets.token_urlsafe(32)
    return token


def _accepted_tokens(request: Request) -> list[str]:
    """The session's token and the sign-in state's: a form rendered before the session
    changed (a sign-in page opened while an old session was still in the cookie) carries
    the latter. Either is secret to other sites."""
    tokens = []
    session_token = request.cookies.get(SESSION_COOKIE)
    if session_token:
        tokens.append(csrf_token_for(session_token))
    login_token = _login_state_token(request, create=False)
    if login_token:
        tokens.append(login_token)
    return tokens


def _origin_of(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}".lower()


def cross_site(request: Request) -> str | None:
    """Why the browser's own headers show a request from another site, or None."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site.lower() not in {"same-origin", "none"}:
        return f"Sec-Fetch-Site is {fetch_site!r}"
    origin = request.headers.get("origin")
    if origin is not None and origin.lower() != _origin_of(request):
        return f"Origin {origin!r} is not this service"
    return None


async def check(request: Request) -> None:
    """Raise CsrfRefused unless ``request`` (a state-changing one) may proceed."""
    reason = cross_site(request)
    if reason is not None:
        raise CsrfRefused(reason)
    sent = request.headers.get(HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(FORM_FIELD)
            sent = value if isinstance(value, str) else None
    if not sent:
        raise CsrfRefused("no CSRF token")
    sent_bytes = sent.encode("utf-8")
    # Compare with every accepted token (no early exit): constant time whichever matches.
    matches = [
        hmac.compare_digest(sent_bytes, token.encode("utf-8"))
        for token in _accepted_tokens(request)
    ]
    if not any(matches):
        raise CsrfRefused("wrong CSRF token")


class ConsoleRoute(APIRoute):
    """A console route: state-changing requests pass :func:`check` first."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            if request.method not in SAFE_METHODS:
                await check(request)
            return await handler(request)

        return checked
