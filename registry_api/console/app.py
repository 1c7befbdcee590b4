"""The console as an application mounted at ``/console`` by the registry's app.

It shares the registry's state (settings, database, engine), so the API's dependencies
(``deps.SessionDep``, ``auth.require_roles``) work in it unchanged; ``authenticate`` is
overridden to be the signed-in person (``deps.signed_in_key``). Its own error handlers turn
every error into a page (never JSON, never a traceback): 403, 404, the expired session (the
sign-in page), a refused CSRF check, and, last of all, a polite page with the request id for
anything unexpected (logged with that id).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..auth import authenticate
from ..db import AccessEventKind, utc_now
from ..errors import (
    ForbiddenError,
    NotFoundError,
    RegistryError,
    UnauthorizedError,
    from_chain_error,
)
from ..settings import Settings
from .accounts import record_event
from .csrf import CsrfRefused
from .deps import SignInRequired, origin_of, signed_in_key
from .i18n import N_
from .passwords import Passwords
from .sealing import ConsoleKeys
from .sessions import COOKIE_PATH, LOGIN_STATE_COOKIE, LOGIN_STATE_MAX_AGE, SESSION_COOKIE
from .templating import NavItem, Templates

logger = logging.getLogger("registry_api.console")

STATIC_DIR = Path(__file__).resolve().parent / "static"
MOUNT_PATH = "/console"

#: security headers of every console answer. The page loads its own script and style only
#: (no inline script or style: htmx's indicator styles are turned off in its config), may
#: not be framed, and sends no referrer elsewhere (a provider's callback URL carries a code).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


class ConsoleApp(FastAPI):
    """The console; its attributes are what its pages share (tests replace ``clock``)."""

    registry: FastAPI
    settings: Settings
    clock: Callable[[], datetime]
    passwords: Passwords
    keys: ConsoleKeys
    templates: Templates
    #: the OpenID Connect client, when a provider is configured
    oidc: Any

    def session_factory(self) -> sessionmaker[Session]:
        factory: sessionmaker[Session] = self.state.session_factory
        return factory

    def page(
        self,
        request: Request,
        name: str,
        context: dict[str, Any] | None = None,
        *,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Response:
        if getattr(request.state, "console_administration", None) is None:
            request.state.console_administration = self.settings.authority
        return self.templates.render(
            request, name, context, status_code=status_code, headers=headers
        )

    def error_page(
        self,
        request: Request,
        status_code: int,
        title: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
    ) -> Response:
        return self.page(
            request,
            "error.html",
            {"title": title, "message": message, "status": status_code},
            status_code=status_code,
            headers=headers,
        )


def sign_in_url(request: Request, *, next_path: str | None = None) -> str:
    url = f"{request.scope.get('root_path', '')}/sign-in"
    if next_path:
        url += "?next=" + quote(next_path, safe="/")
    return url


def redirect(request: Request, url: str) -> Response:
    """A 303 to ``url``; for htmx, an instruction to load it as a whole page (an XHR that
    follows a redirect would swap the sign-in page into the current one)."""
    if request.headers.get("hx-request") == "true":
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def _console(request: Request) -> ConsoleApp:
    app = request.app
    assert isinstance(app, ConsoleApp)
    return app


# ---------------------------------------------------------------- error handlers


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    if exc.expired:
        request.session["notice"] = "expired"
    next_path = request.url.path if request.method == "GET" else None
    response = redirect(request, sign_in_url(request, next_path=next_path))
    if exc.expired:
        response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


def _log_csrf_refusal(request: Request, reason: str) -> None:
    console = _console(request)
    with console.session_factory()() as db:
        record_event(
            db,
            AccessEventKind.CSRF_REFUSED,
            now=console.clock(),
            name=None,
            origin=origin_of(request),
            detail=f"{request.method} {request.url.path}: {reason}",
        )
        db.commit()


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CsrfRefused)
    await run_in_threadpool(_log_csrf_refusal, request, exc.reason)
    return _console(request).error_page(
        request,
        HTTPStatus.FORBIDDEN,
        N_("This form has expired"),
        N_(
            "Nothing was done. The form was sent without the security token of this "
            "page, or from another site. Go back, reload the page and try again."
        ),
    )


async def _registry_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RegistryError)
    console = _console(request)
    if isinstance(exc, UnauthorizedError):
        return await _sign_in_required(request, SignInRequired())
    if isinstance(exc, ForbiddenError):
        return console.error_page(
            request,
            HTTPStatus.FORBIDDEN,
            N_("You cannot see this page"),
            N_("Your role does not allow it. Ask an administrator if you need it for your work."),
        )
    if isinstance(exc, NotFoundError):
        return _not_found(request)
    status = int(exc.status)
    if status >= 500:
        logger.error("console: %s", exc.detail, extra={"request_id": _request_id(request)})
    return console.error_page(
        request,
        status,
        N_("This cannot be done now"),
        N_("The registry refused the request. Go back and check what you entered."),
    )


def _not_found(request: Request) -> Response:
    return _console(request).error_page(
        request,
        HTTPStatus.NOT_FOUND,
        N_("Page not found"),
        N_("Check the address, or go back to the console's home page."),
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == HTTPStatus.NOT_FOUND:
        return _not_found(request)
    if exc.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
        return _console(request).error_page(
            request,
            HTTPStatus.METHOD_NOT_ALLOWED,
            N_("This page cannot do that"),
            N_("Go back and use the page's own buttons."),
            headers=dict(exc.headers or {}),
        )
    return _console(request).error_page(
        request,
        exc.status_code,
        N_("This cannot be done now"),
        N_("The registry refused the request. Go back and check what you entered."),
    )


async def _invalid_request(request: Request, exc: Exception) -> Response:
    return _console(request).error_page(
        request,
        HTTPStatus.BAD_REQUEST,
        N_("The request was not understood"),
        N_("Something the page sent was missing or malformed. Go back, reload and try again."),
    )


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


class ConsoleMiddleware:
    """Security headers on every answer, ``no-store`` on pages, and the last resort: an
    exception nothing else handled becomes a polite page with the request id (logged with
    it), never Starlette's bare error nor a traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        is_static = scope["path"].startswith(f"{scope.get('root_path', '')}/static/")

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if not is_static:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            if started:
                raise
            request = Request(scope, receive)
            mapped = from_chain_error(exc)
            if mapped is not None:
                response = await _registry_error(request, mapped)
            else:
                logger.exception(
                    "console: unhandled %s",
                    type(exc).__name__,
                    extra={"request_id": _request_id(request)},
                )
                response = _console(request).error_page(
                    request,
                    HTTPStatus.INTERNAL_SERVER_ERROR,
                    N_("Sorry, something went wrong"),
                    N_(
                        "The console could not finish this. Nothing you did is lost. Try "
                        "again in a moment; if it happens again, give the reference below "
                        "to your registry's support."
                    ),
                )
            await response(scope, receive, send_with_headers)


# ---------------------------------------------------------------- the app


def create_console(registry: FastAPI, *, clock: Callable[[], datetime] = utc_now) -> ConsoleApp:
    """The console for the registry app ``registry`` (mount it at :data:`MOUNT_PATH`)."""
    from . import (
        actions,
        audit,
        certificates,
        consortium,
        dashboard,
        imports,
        kpis,
        mras,
        pages,
        partners,
        sign_in,
        sso,
    )

    settings: Settings = registry.state.settings
    console = ConsoleApp(openapi_url=None, docs_url=None, redoc_url=None)
    # The registry's state (settings, engine, session factory...): the API's dependencies
    # read it from request.app.state, which in the console is this app.
    console.state = registry.state
    console.registry = registry
    console.settings = settings
    console.clock = clock
    console.passwords = Passwords()
    console.keys = ConsoleKeys.of(settings)
    console.templates = Templates(
        nav=(
            NavItem(N_("Home"), "/"),
            NavItem(N_("Certificates"), "/certificates", certificates.READERS),
            NavItem(N_("Imports"), "/imports", imports.IMPORT_READERS),
            NavItem(N_("Sign-in log"), "/sign-ins", pages.SIGN_IN_LOG_ROLES),
            NavItem(N_("MRAs"), "/mras", mras.MRA_READERS),
            NavItem(N_("Partners"), "/partners", partners.PARTNER_PAGE),
            NavItem(N_("Consortium"), "/consortium", consortium.CONSORTIUM_READERS),
            NavItem(N_("Audit log"), "/audit", audit.AUDIT_ROLES),
            NavItem(N_("KPIs"), "/kpis", kpis.KPI_ROLES),
        )
    )
    console.oidc = sso.OidcClient.of(settings)
    console.dependency_overrides[authenticate] = signed_in_key

    console.add_exception_handler(SignInRequired, _sign_in_required)
    console.add_exception_handler(CsrfRefused, _csrf_refused)
    console.add_exception_handler(RegistryError, _registry_error)
    console.add_exception_handler(StarletteHTTPException, _http_error)
    console.add_exception_handler(RequestValidationError, _invalid_request)
    # Added last, so it runs first: the sign-in state exists before the CSRF check reads it.
    console.add_middleware(ConsoleMiddleware)
    console.add_middleware(
        SessionMiddleware,
        secret_key=console.keys.login_state_key,
        session_cookie=LOGIN_STATE_COOKIE,
        max_age=LOGIN_STATE_MAX_AGE,
        path=COOKIE_PATH,
        same_site="lax",
        https_only=settings.console_behind_tls,
    )
    console.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    console.include_router(sign_in.router)
    console.include_router(sso.router)
    console.include_router(pages.router)
    console.include_router(mras.router)
    console.include_router(partners.router)
    console.include_router(consortium.router)
    console.include_router(audit.router)
    console.include_router(kpis.router)
    # Before the certificates' pages: "/certificates/new" and ".../suspend" are not numbers.
    console.include_router(actions.router)
    console.include_router(certificates.router)
    console.include_router(imports.router)
    console.include_router(dashboard.router)
    return console
