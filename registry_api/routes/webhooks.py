"""Webhooks: partners register a URL and receive every feed entry they may see, signed
(registry_api.workers.webhooks delivers them); the delivery log shows each entry's attempts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from ..auth import AuthenticatedKey, Role, require_roles
from ..db import DeliveryState
from ..deps import SessionDep, SettingsDep
from ..schemas.problems import AUTH_PROBLEMS, BODY_PROBLEMS, problem_responses
from ..schemas.webhooks import (
    RECENT_ATTEMPTS,
    DeliveriesPublic,
    DeliveryPublic,
    WebhookCreate,
    WebhookCreated,
    WebhookPublic,
    WebhooksPublic,
)
from ..services import webhooks as service
from ..settings import Environment

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

WebhookKey = Annotated[AuthenticatedKey, Depends(require_roles(Role.PARTNER, Role.ADMIN))]
WebhookId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The webhook's id.", examples=[3])]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Register a URL for feed entries; the signing secret is in this answer only",
    response_model=WebhookCreated,
    responses=problem_responses(*AUTH_PROBLEMS, *BODY_PROBLEMS, 409, 503),
)
def create_webhook(
    body: WebhookCreate,
    caller: WebhookKey,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
) -> WebhookCreated:
    webhook, owner, secret = service.create_webhook(
        session,
        key=caller,
        url=body.url,
        production=settings.environment is Environment.PRODUCTION,
        sealer=service.WebhookSecrets.of(settings),
        policy=service.AddressPolicy.of(settings),
    )
    response.headers["Cache-Control"] = "no-store"
    return WebhookCreated(**WebhookPublic.of(webhook, owner).model_dump(), secret=secret)


@router.get(
    "",
    summary="The caller's webhooks (an admin sees all)",
    response_model=WebhooksPublic,
    responses=problem_responses(*AUTH_PROBLEMS, 422),
)
def list_webhooks(
    caller: WebhookKey,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> WebhooksPublic:
    rows, count = service.list_webhooks(session, key=caller, limit=limit, offset=offset)
    return WebhooksPublic(data=[WebhookPublic.of(w, k) for w, k in rows], count=count)


@router.get(
    "/{webhook_id}",
    summary="One webhook",
    response_model=WebhookPublic,
    responses=problem_responses(*AUTH_PROBLEMS, 404, 422),
)
def read_webhook(webhook_id: WebhookId, caller: WebhookKey, session: SessionDep) -> WebhookPublic:
    return WebhookPublic.of(*service.get_webhook(session, key=caller, webhook_id=webhook_id))


@router.delete(
    "/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a webhook and its delivery log",
    response_class=Response,
    responses=problem_responses(*AUTH_PROBLEMS, 404, 422),
)
def delete_webhook(webhook_id: WebhookId, caller: WebhookKey, session: SessionDep) -> Response:
    service.delete_webhook(session, key=caller, webhook_id=webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{webhook_id}/enable",
    summary="Enable a disabled webhook: it resumes from the entry it failed on",
    response_model=WebhookPublic,
    responses=problem_responses(*AUTH_PROBLEMS, 404, 409, 422),
)
def enable_webhook(webhook_id: WebhookId, caller: WebhookKey, session: SessionDep) -> WebhookPublic:
    return WebhookPublic.of(*service.enable_webhook(session, key=caller, webhook_id=webhook_id))


@router.get(
    "/{webhook_id}/deliveries",
    summary="The delivery log: each entry's state and its latest attempts (outcome, status "
    "code, error, latency)",
    response_model=DeliveriesPublic,
    responses=problem_responses(*AUTH_PROBLEMS, 404, 422),
)
def list_deliveries(
    webhook_id: WebhookId,
    caller: WebhookKey,
    session: SessionDep,
    state: Annotated[
        DeliveryState | None, Query(description="Only deliveries in this state.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> DeliveriesPublic:
    rows, count = service.list_deliveries(
        session,
        key=caller,
        webhook_id=webhook_id,
        state=state,
        limit=limit,
        offset=offset,
        attempts_per_delivery=RECENT_ATTEMPTS,
    )
    return DeliveriesPublic(
        data=[DeliveryPublic.of(delivery, attempts) for delivery, attempts in rows], count=count
    )
