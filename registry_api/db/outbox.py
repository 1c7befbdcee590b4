"""The outbox: every chain write the API accepted, and how far it got.

A row is written in the same transaction as the off-chain change it belongs to; the
sender moves it through ``pending -> signed -> submitted -> confirmed | failed``. The
signed raw transaction is stored before it is broadcast, so after a crash the sender
rebroadcasts the very same transaction (same nonce, same hash) instead of signing anew.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, NulSafeString, NulSafeText, enum_column, utc_now


class OperationState(StrEnum):
    PENDING = "pending"
    SIGNED = "signed"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in {OperationState.CONFIRMED, OperationState.FAILED}


#: the states the sender still has work to do in (the "outbox depth")
OPEN_OPERATION_STATES = (OperationState.PENDING, OperationState.SIGNED, OperationState.SUBMITTED)


class Operation(Base):
    __tablename__ = "operations"
    __table_args__ = (
        # A retried request (same caller, same Idempotency-Key) finds its first operation.
        sa.UniqueConstraint("api_key_id", "idempotency_key"),
        sa.Index(None, "state", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    api_key_id: Mapped[int] = mapped_column(sa.ForeignKey("api_keys.id"))
    idempotency_key: Mapped[str] = mapped_column(NulSafeString(255))
    #: SHA-256 of the request that created the operation; a reuse of the key with a
    #: different request is refused rather than answered with the wrong operation
    request_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    #: issue, issue_batch, amend, renew, suspend, reinstate, revoke, mra_propose, ...
    kind: Mapped[str] = mapped_column(NulSafeString(32))
    payload: Mapped[dict[str, Any]] = mapped_column()
    #: the certificate number the operation is about, when it is about one
    certificate_number: Mapped[str | None] = mapped_column(NulSafeString(32), index=True)
    state: Mapped[OperationState] = mapped_column(
        enum_column(OperationState), default=OperationState.PENDING
    )
    sender: Mapped[str | None] = mapped_column(NulSafeString(42))
    nonce: Mapped[int | None] = mapped_column(sa.BigInteger)
    signed_raw_tx: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    tx_hash: Mapped[bytes | None] = mapped_column(sa.LargeBinary(32), index=True)
    block_number: Mapped[int | None] = mapped_column(sa.BigInteger)
    error: Mapped[str | None] = mapped_column(NulSafeText())
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)
    submitted_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
