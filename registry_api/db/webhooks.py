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
    #: the HMAC key deliveries are signed with; kept because every delivery needs it
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
    error: Mapped[str | None] = mapped_column(NulSafeText())
    #: from sending the request to the receiver's status line (or the failure)
    latency_ms: Mapped[float] = mapped_column(sa.Float)
