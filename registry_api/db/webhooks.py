"""Webhooks partners register, and the delivery log of feed entries to them: one delivery
row per (webhook, feed entry), one attempt row per POST of it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigIntKey, NulSafeString, NulSafeText, enum_column, utc_now


class AttemptOutcome(StrEnum):
    DELIVERED = "delivered"
    #: the receiver answered, with something else than a 2xx
    HTTP_ERROR = "http_error"
    TIMEOUT = "timeout"
    #: no answer: connection refused or reset, name not resolved, TLS failure...
    NETWORK_ERROR = "network_error"


class DeliveryError(StrEnum):
    """Why an attempt failed, as the webhook's owner reads it in the delivery log: a class,
    never the exception's text, which names addresses, ports and TLS details of whatever the
    request reached (the text goes to the service's own log only)."""

    #: no answer within ``AEO_WEBHOOK_TIMEOUT`` (connecting, sending or waiting)
    TIMEOUT = "timeout"
    CONNECTION_REFUSED = "connection_refused"
    #: the TLS handshake failed (certificate not valid for the host, protocol error...)
    TLS_ERROR = "tls_error"
    #: the host name did not resolve
    DNS_ERROR = "dns_error"
    #: the host is, or resolves to, an address webhooks must not reach (loopback, private...)
    BLOCKED_ADDRESS = "blocked_address"
    #: the receiver answered with another status than 2xx (the attempt's ``status_code``)
    HTTP_STATUS = "http_status"
    OTHER = "other"

    @classmethod
    def parse(cls, value: str | None) -> DeliveryError | None:
        """The class a stored value names; OTHER for anything else (never raw text)."""
        if value is None:
            return None
        try:
            return cls(value)
        except ValueError:
            return cls.OTHER


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    #: retries exhausted
    FAILED = "failed"


class Webhook(Base):
    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    api_key_id: Mapped[int] = mapped_column(sa.ForeignKey("api_keys.id"), index=True)
    url: Mapped[str] = mapped_column(NulSafeString(2048))
    #: the HMAC key deliveries are signed with, kept because every delivery needs it:
    #: sealed with AES-GCM under a key derived from the service's passphrase
    #: (``services.webhooks.WebhookSecrets``; ``v1:`` + base64url of nonce and ciphertext).
    #: A row from before that (``whsec_...``) is sealed at the next start.
    secret: Mapped[str] = mapped_column(NulSafeString(128))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    disabled_at: Mapped[datetime | None] = mapped_column()


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("webhook_id", "feed_sequence"),
        sa.Index(None, "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(sa.ForeignKey("webhooks.id", ondelete="CASCADE"))
    feed_sequence: Mapped[int] = mapped_column(sa.ForeignKey("feed_entries.sequence"))
    state: Mapped[DeliveryState] = mapped_column(
        enum_column(DeliveryState), default=DeliveryState.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    last_status_code: Mapped[int | None] = mapped_column()
    #: a DeliveryError value
    last_error: Mapped[str | None] = mapped_column(NulSafeText())
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    delivered_at: Mapped[datetime | None] = mapped_column()


class WebhookDeliveryAttempt(Base):
    """One POST of a delivery: when it started, how it ended and how long it took."""

    __tablename__ = "webhook_delivery_attempts"

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column()
    outcome: Mapped[AttemptOutcome] = mapped_column(enum_column(AttemptOutcome))
    status_code: Mapped[int | None] = mapped_column()
    #: a DeliveryError value
    error: Mapped[str | None] = mapped_column(NulSafeText())
    #: from sending the request to the receiver's status line (or the failure)
    latency_ms: Mapped[float] = mapped_column(sa.Float)
