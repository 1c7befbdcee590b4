"""The signed-in pages of this first part: the home page (who you are, what your role may
do) and the sign-in log. The certificate, MRA, partner, consortium and audit pages build
on the same pieces: :data:`~registry_api.console.deps.SignedInDep`, the API's
``require_roles`` (which the console resolves to the signed-in person) and
``ConsoleApp.page``.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.responses import RedirectResponse, Response

from ..auth import RoleRequirement, require_roles
from ..db import AccessEvent, Role
from ..deps import SessionDep
from .certificates import READERS
from .csrf import ConsoleRoute
from .deps import SignedInDep, console_of
from .i18n import LANGUAGE_COOKIE, N_, chosen, tag as language_tag
from .sessions import COOKIE_PATH
from .sign_in import safe_next

router = APIRouter(route_class=ConsoleRoute)

SIGN_IN_LOG_ROLES = require_roles(Role.ADMIN, Role.AUDITOR)
SIGN_IN_LOG_PAGE = 50

#: what each area of the API (its OpenAPI tags) lets a person do, in words: (what a role
#: that may change things there does, what a role that may only read does)
AREAS: Mapping[str, tuple[str, str]] = {
    "me": (N_("See who you are signed in as"), N_("See who you are signed in as")),
    "api keys": (N_("Manage users and API keys"), N_("See users and API keys")),
    "certificates": (
        N_("Issue, amend, renew, suspend, reinstate and revoke certificates"),
        N_("Search certificates and read their history"),
    ),
    "accepted writes": (
        N_("Follow changes until the chain confirms them"),
        N_("Follow changes until the chain confirms them"),
    ),
    "certificate documents": (
        N_("Download certificates with their QR codes"),
        N_("Download certificates with their QR codes"),
    ),
    "bulk import": (N_("Import lists of certificates"), N_("See the imports of certificates")),
    "consortium administration": (
        N_("Manage signing keys, accounts and membership votes"),
        N_("See signing keys, accounts and membership votes"),
    ),
    "mras": (
        N_("Propose, sign and manage mutual recognition arrangements"),
        N_("Read mutual recognition arrangements"),
    ),
    "partners": (
        N_("Read the certificates a partner administration shares"),
        N_("Read the certificates a partner administration shares"),
    ),
    "feed": (
        N_("Follow every change in the registry's feed"),
        N_("Follow every change in the registry's feed"),
    ),
    "webhooks": (
        N_("Manage webhooks that notify partner systems"),
        N_("See webhooks that notify partner systems"),
    ),
    "kpis": (
        N_("Read the programme's KPIs and set their targets"),
        N_("Read the programme's KPIs"),
    ),
    "border checks": (
        N_("Report the border post's counts of checks"),
        N_("Report the border post's counts of checks"),
    ),
}
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def abilities(registry_routes: list[object], role: Role) -> list[str]:
    """What ``role`` may do in each area of the API, by the API's own role checks (so the
    home page cannot claim more than the API allows): the area's words for changing things
    where a write route admits the role, for reading where only read routes do."""
    writes: dict[str, bool] = {}
    for context in iter_route_contexts(registry_routes):  # type: ignore[arg-type]
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        admitted = any(
            isinstance(dependency.call, RoleRequirement) and role in dependency.call.roles
            for dependency in route.dependant.dependencies
        )
        if not admitted:
            continue
        writes_here = bool(set(route.methods or ()) & WRITE_METHODS)
        for tag in route.tags:
            if isinstance(tag, str) and tag in AREAS:
                writes[tag] = writes.get(tag, False) or writes_here
    return [AREAS[tag][0 if writes[tag] else 1] for tag in AREAS if tag in writes]


@router.get("/", name="home")
def home(request: Request, who: SignedInDep) -> Response:
    console = console_of(request)
    notice = request.session.pop("notice", None)
    context = {
        "abilities": abilities(list(console.registry.routes), who.role),
        "notice": notice,
        "signed_in_at": who.session.created_at,
        "method": who.session.method.value,
        # the figures (loaded after the page), for the roles that may read certificates
        "dashboard": who.role in READERS.roles,
    }
    return console.page(request, "home.html", context)


@router.get("/sign-ins", dependencies=[Depends(SIGN_IN_LOG_ROLES)])
def sign_in_log(
    request: Request,
    db: SessionDep,
    who: SignedInDep,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    query = sa.select(AccessEvent).order_by(AccessEvent.id.desc()).limit(SIGN_IN_LOG_PAGE + 1)
    if before is not None:
        query = query.where(AccessEvent.id < before)
    events = list(db.scalars(query))
    more = len(events) > SIGN_IN_LOG_PAGE
    events = events[:SIGN_IN_LOG_PAGE]
    context = {"events": events, "older": events[-1].id if more and events else None}
    return console_of(request).page(request, "sign_ins.html", context)


#: how long the language menu's choice is remembered
LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 3600


@router.get("/language/{language}", name="language")
def choose_language(
    request: Request, language: str, next: Annotated[str | None, Query(max_length=2048)] = None
) -> Response:
    """The language menu's links: remember the choice in a cookie and go back to the page
    it was made on. Open to everyone (the sign-in page has the menu too); a link from
    another site can only change how the console reads, never what it does."""
    console = console_of(request)
    locale = chosen(language, console.templates.locales())
    if locale is None:
        return console.error_page(
            request,
            HTTPStatus.NOT_FOUND,
            N_("This language is not available"),
            N_("Choose one of the languages in the menu at the top of the page."),
        )
    response = RedirectResponse(safe_next(request, next, sign_in=True), status_code=303)
    response.set_cookie(
        LANGUAGE_COOKIE,
        language_tag(locale),
        max_age=LANGUAGE_COOKIE_MAX_AGE,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https" or console.settings.console_behind_tls,
    )
    return response
