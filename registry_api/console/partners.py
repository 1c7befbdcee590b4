"""The partners' pages: what a partner administration sees of ours (the certificates an MRA
in force shares with it, searchable, and its share of the feed, by day), and the webhooks
that notify its systems, with their delivery logs.

A person with the partner role (``partner:KR``) sees KR's share, exactly what KR's API keys
read (:func:`registry_api.services.partner.partner_certificates`,
:func:`registry_api.services.feed.visible`); an administrator chooses a partner and sees
what it sees. Webhooks are the API's (:mod:`registry_api.services.webhooks`): a partner
manages its own, an administrator all of them, with the API's address rules (no loopback,
private or link-local targets) whose refusal is shown next to the URL field.
"""

from __future__ import annotations

import itertools
from datetime import date
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, Path, Query, Request
from starlette.responses import Response

from ..auth import AuthenticatedKey, Role
from ..db import FeedEntry, MraParty
from ..deps import SessionDep
from ..errors import ConflictError, FieldError, InvalidError, UnavailableError
from ..routes import webhooks as webhooks_api
from ..services import feed, mras as mra_service, partner as partner_service, webhooks as service
from ..settings import Environment
from .app import redirect
from .csrf import ConsoleRoute
from .deps import console_of
from .i18n import N_
from .mras import api_requirement, tier_text, today, untrusted_error

router = APIRouter(route_class=ConsoleRoute)

#: the API's own requirement for webhooks (partners and administrators), which admits the
#: partners of its partner reads too: a partner sees its share, an administrator any one's
PARTNER_PAGE = api_requirement(webhooks_api.WebhookKey)
assert Role.PARTNER in PARTNER_PAGE.roles
Caller = Annotated[AuthenticatedKey, Depends(PARTNER_PAGE)]
WebhookId = Annotated[int, Path(ge=1, le=2**31 - 1)]
PAGE_SIZE = 50
RECENT_CHANGES = 100
DELIVERIES_SHOWN = 50

DELIVERY_LABELS = {
    "pending": N_("Pending"),
    "delivered": N_("Delivered"),
    "failed": N_("Failed"),
}


def partners_of(db: SessionDep, own: str) -> list[str]:
    """Every administration that is a party to an MRA with us (any status)."""
    ours = sa.select(MraParty.mra_id).where(MraParty.authority == own)
    codes = db.scalars(
        sa.select(MraParty.authority)
        .where(MraParty.mra_id.in_(ours), MraParty.authority != own)
        .distinct()
    )
    return sorted(codes)


def chosen_partner(db: SessionDep, caller: AuthenticatedKey, asked: str | None) -> str | None:
    """The partner whose share the page shows: a partner's own; for an administrator, the
    one asked for among our MRA partners (the first by default)."""
    if caller.role is Role.PARTNER:
        return caller.partner_authority
    partners = partners_of(db, caller.authority)
    if asked in partners:
        return asked
    return partners[0] if partners else None


def recent_changes(
    db: SessionDep, audience: feed.Audience, limit: int = RECENT_CHANGES
) -> list[tuple[date, list[FeedEntry]]]:
    """The newest ``limit`` feed entries ``audience`` may see, grouped by the day they were
    recorded, newest first."""
    query = sa.select(FeedEntry).order_by(FeedEntry.sequence.desc()).limit(limit)
    condition = feed.visible(audience)
    if condition is not None:
        query = query.where(condition)
    entries = list(db.scalars(query))
    return [
        (day, list(group))
        for day, group in itertools.groupby(entries, key=lambda e: e.created_at.date())
    ]


@router.get("/partners", name="partners")
def partners_page(
    request: Request,
    db: SessionDep,
    caller: Caller,
    partner: Annotated[str | None, Query(max_length=4)] = None,
    q: Annotated[str, Query(max_length=256)] = "",
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> Response:
    day = today(request)
    shown = chosen_partner(db, caller, partner)
    search = q.strip()
    certificates: list[Any] = []
    count = 0
    changes: list[tuple[date, list[FeedEntry]]] = []
    tiers = 0
    if shown:
        certificates, count = partner_service.partner_certificates(
            db,
            own=caller.authority,
            partner=shown,
            day=day,
            limit=PAGE_SIZE,
            offset=offset,
            search=search or None,
        )
        tiers = mra_service.covered_tiers(db, own=caller.authority, partner=shown, day=day)
        audience = feed.audience_of(
            db, role=Role.PARTNER, partner_authority=shown, own=caller.authority, day=day
        )
        changes = recent_changes(db, audience)
    context = {
        "partner": shown,
        "partners": partners_of(db, caller.authority) if caller.role is Role.ADMIN else [],
        "q": search,
        "certificates": certificates,
        "count": count,
        "offset": offset,
        "page_size": PAGE_SIZE,
        "tiers": tier_text(tiers) if tiers else None,
        "changes": changes,
        "tier_text": tier_text,
    }
    return console_of(request).page(request, "partners.html", context)


# ---------------------------------------------------------------- webhooks


def _webhooks_page(
    request: Request,
    db: SessionDep,
    caller: AuthenticatedKey,
    *,
    url: str = "",
    errors: list[FieldError] | None = None,
    status_code: int = 200,
) -> Response:
    rows, _count = service.list_webhooks(db, key=caller, limit=500)
    context = {"webhooks": rows, "url": url, "errors": errors or []}
    return console_of(request).page(
        request, "partners_webhooks.html", context, status_code=status_code
    )


@router.get("/partners/webhooks")
def webhooks_page(request: Request, db: SessionDep, caller: Caller) -> Response:
    return _webhooks_page(request, db, caller)


@router.post("/partners/webhooks")
def create_webhook(
    request: Request,
    db: SessionDep,
    caller: Caller,
    url: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    settings = console_of(request).settings
    if not url.strip():
        errors = [FieldError("url", N_("Enter the address that will receive the changes"))]
        return _webhooks_page(request, db, caller, url=url, errors=errors, status_code=400)
    try:
        webhook, _owner, secret = service.create_webhook(
            db,
            key=caller,
            url=url,
            production=settings.environment is Environment.PRODUCTION,
            sealer=service.WebhookSecrets.of(settings),
            policy=service.AddressPolicy.of(settings),
        )
    except InvalidError as exc:
        db.rollback()
        messages = [error.message for error in exc.errors] or [exc.detail]
        # The API's own words (English, as in its problem answers), next to the field.
        errors = [untrusted_error("url", f"The address {message}") for message in messages]
        return _webhooks_page(request, db, caller, url=url, errors=errors, status_code=400)
    except (ConflictError, UnavailableError) as exc:
        db.rollback()
        errors = [untrusted_error("url", exc.detail)]
        return _webhooks_page(
            request, db, caller, url=url, errors=errors, status_code=int(exc.status)
        )
    # The secret is shown on this answer only (pages are no-store); it is stored sealed.
    context = {"webhook": webhook, "secret": secret}
    return console_of(request).page(request, "partners_webhook_created.html", context)


@router.get("/partners/webhooks/{webhook_id}")
def webhook_page(
    request: Request, db: SessionDep, caller: Caller, webhook_id: WebhookId
) -> Response:
    webhook, owner = service.get_webhook(db, key=caller, webhook_id=webhook_id)
    deliveries, count = service.list_deliveries(
        db, key=caller, webhook_id=webhook_id, limit=DELIVERIES_SHOWN, attempts_per_delivery=3
    )
    context = {
        "webhook": webhook,
        "owner": owner,
        "deliveries": deliveries,
        "count": count,
        "labels": DELIVERY_LABELS,
    }
    return console_of(request).page(request, "partners_webhook.html", context)


@router.get("/partners/webhooks/{webhook_id}/delete")
def delete_page(
    request: Request, db: SessionDep, caller: Caller, webhook_id: WebhookId
) -> Response:
    webhook, _owner = service.get_webhook(db, key=caller, webhook_id=webhook_id)
    return console_of(request).page(request, "partners_webhook_delete.html", {"webhook": webhook})


@router.post("/partners/webhooks/{webhook_id}/delete")
def delete(request: Request, db: SessionDep, caller: Caller, webhook_id: WebhookId) -> Response:
    service.delete_webhook(db, key=caller, webhook_id=webhook_id)
    return redirect(request, f"{request.scope.get('root_path', '')}/partners/webhooks")


@router.post("/partners/webhooks/{webhook_id}/enable")
def enable(request: Request, db: SessionDep, caller: Caller, webhook_id: WebhookId) -> Response:
    try:
        service.enable_webhook(db, key=caller, webhook_id=webhook_id)
    except ConflictError:
        db.rollback()
        return console_of(request).error_page(
            request,
            409,
            N_("This webhook cannot be enabled"),
            N_("Its API key was revoked. Register the address again instead."),
        )
    return redirect(request, f"{request.scope.get('root_path', '')}/partners/webhooks/{webhook_id}")
