"""Webhooks: ``WebhookCreate`` in; ``WebhookPublic``, ``WebhookCreated`` (with the secret,
once), ``WebhooksPublic``, ``DeliveryPublic`` (with its ``AttemptPublic`` rows) and
``DeliveriesPublic`` out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.config import JsonDict

from ..db import (
    ApiKey,
    AttemptOutcome,
    DeliveryState,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryAttempt,
)
from ..db.webhooks import DeliveryError

MAX_URL_LENGTH = 2048
#: attempts shown per delivery in the log (``attempts`` counts them all)
RECENT_ATTEMPTS = 10

_WEBHOOK_EXAMPLE: JsonDict = {
    "id": 3,
    "url": "https://risk.customs.example.kz/aeo/mn-events",
    "active": True,
    "key_prefix": "3f9a1c0b7d2e",
    "partner_authority": "KZ",
    "created_at": "2025-03-01T08:30:00Z",
    "disabled_at": None,
}
_DELIVERY_EXAMPLE: JsonDict = {
    "id": 118,
    "event_id": 42,
    "state": "delivered",
    "attempts": 3,
    "last_status_code": 200,
    "last_error": None,
    "last_latency_ms": 84.2,
    "next_attempt_at": None,
    "created_at": "2025-03-02T09:12:35Z",
    "delivered_at": "2025-03-02T09:12:52Z",
    "recent_attempts": [
        {
            "attempted_at": "2025-03-02T09:12:52Z",
            "outcome": "delivered",
            "status_code": 200,
            "error": None,
            "latency_ms": 84.2,
        },
        {
            "attempted_at": "2025-03-02T09:12:40Z",
            "outcome": "http_error",
            "status_code": 503,
            "error": "http_status",
            "latency_ms": 41.7,
        },
        {
            "attempted_at": "2025-03-02T09:12:35Z",
            "outcome": "timeout",
            "status_code": None,
            "error": "timeout",
            "latency_ms": 10003.5,
        },
    ],
}


class WebhookCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"url": "https://risk.customs.example.kz/aeo/mn-events"}]},
    )

    url: Annotated[str, StringConstraints(min_length=1, max_length=MAX_URL_LENGTH)] = Field(
        description="Where to POST each feed entry: https (http is accepted outside "
        "production), no user name or password in it (verify our signature instead), on a "
        "host that is and resolves to public addresses only (not loopback, private, "
        "link-local...) unless the operator allows its network."
    )


class WebhookPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_WEBHOOK_EXAMPLE]})

    id: int
    url: str
    active: bool = Field(description="False once disabled (failure streak, revoked key).")
    key_prefix: str = Field(
        description="The API key that registered it (its deliveries carry what that key may see)."
    )
    partner_authority: str | None
    created_at: datetime
    disabled_at: datetime | None

    @classmethod
    def of(cls, webhook: Webhook, key: ApiKey) -> WebhookPublic:
        return cls(
            id=webhook.id,
            url=webhook.url,
            active=webhook.active,
            key_prefix=key.prefix,
            partner_authority=key.partner_authority,
            created_at=webhook.created_at,
            disabled_at=webhook.disabled_at,
        )


class WebhookCreated(WebhookPublic):
    model_config = ConfigDict(
        json_schema_extra={"examples": [_WEBHOOK_EXAMPLE | {"secret": "whsec_" + "x" * 43}]}
    )

    secret: str = Field(
        description="The HMAC key of AEO-Signature. Shown once: store it now (docs/api.md "
        "shows how to verify a delivery)."
    )


class WebhooksPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"data": [_WEBHOOK_EXAMPLE], "count": 1}]}
    )

    data: list[WebhookPublic]
    count: int


class AttemptPublic(BaseModel):
    """One POST of a delivery."""

    attempted_at: datetime = Field(description="When the attempt started.")
    outcome: AttemptOutcome = Field(
        description="delivered (answered 2xx), http_error (answered another status), "
        "timeout, network_error (no answer: refused, reset, unresolved name, TLS, blocked "
        "address; error says which)."
    )
    status_code: int | None = Field(description="The receiver's HTTP status, if it answered.")
    error: DeliveryError | None = Field(
        description="Why the attempt failed: timeout, connection_refused, tls_error, "
        "dns_error, blocked_address (the host is or resolves to an address webhooks may not "
        "reach), http_status (see status_code), other."
    )
    latency_ms: float = Field(
        description="Milliseconds from sending the request to the receiver's status line "
        "(or to the failure)."
    )

    @classmethod
    def of(cls, attempt: WebhookDeliveryAttempt) -> AttemptPublic:
        return cls(
            attempted_at=attempt.attempted_at,
            outcome=attempt.outcome,
            status_code=attempt.status_code,
            error=DeliveryError.parse(attempt.error),
            latency_ms=attempt.latency_ms,
        )


class DeliveryPublic(BaseModel):
    """One feed entry's delivery to one webhook, with its attempts so far."""

    model_config = ConfigDict(json_schema_extra={"examples": [_DELIVERY_EXAMPLE]})

    id: int
    event_id: int = Field(description="The feed entry's sequence (AEO-Event-Id).")
    state: DeliveryState = Field(
        description="pending (being tried), delivered (answered 2xx), failed (the webhook "
        "was disabled on it)."
    )
    attempts: int = Field(description="Attempts so far (since the webhook was last enabled).")
    last_status_code: int | None = Field(description="The last attempt's HTTP status.")
    last_error: DeliveryError | None = Field(
        description="Why the last attempt failed (as an attempt's error)."
    )
    last_latency_ms: float | None = Field(
        description="The last attempt's latency in milliseconds (each is in recent_attempts)."
    )
    next_attempt_at: datetime | None = Field(description="When a pending one is tried next.")
    created_at: datetime
    delivered_at: datetime | None
    recent_attempts: list[AttemptPublic] = Field(
        description=f"The latest attempts, newest first: at most {RECENT_ATTEMPTS}, kept "
        "across a re-enable (attempts counts those since the last one)."
    )

    @classmethod
    def of(
        cls, delivery: WebhookDelivery, attempts: Sequence[WebhookDeliveryAttempt] = ()
    ) -> DeliveryPublic:
        """``attempts``: the delivery's latest attempt rows, newest first."""
        return cls(
            id=delivery.id,
            event_id=delivery.feed_sequence,
            state=delivery.state,
            attempts=delivery.attempts,
            last_status_code=delivery.last_status_code,
            last_error=DeliveryError.parse(delivery.last_error),
            last_latency_ms=attempts[0].latency_ms if attempts else None,
            next_attempt_at=delivery.next_attempt_at,
            created_at=delivery.created_at,
            delivered_at=delivery.delivered_at,
            recent_attempts=[AttemptPublic.of(attempt) for attempt in attempts],
        )


class DeliveriesPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"data": [_DELIVERY_EXAMPLE], "count": 1}]}
    )

    data: list[DeliveryPublic]
    count: int
