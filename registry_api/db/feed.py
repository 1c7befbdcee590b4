"""The partner feed: one entry per change, numbered in the order the indexer saw them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigIntKey, NulSafeString, utc_now


class FeedEntry(Base):
    """``sequence`` is the feed cursor: strictly increasing and never reused.

    Only the indexer writes entries, one transaction at a time, so a reader that saw
    sequence N will never later find a committed entry below N (a cursor cannot skip).
    """

    __tablename__ = "feed_entries"
    # SQLite AUTOINCREMENT: never reuse the id of a deleted last row.
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 -- SQLAlchemy reads it once

    sequence: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    event_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("certificate_events.id"), unique=True
    )
    kind: Mapped[str] = mapped_column(NulSafeString(32))
    certificate_id: Mapped[bytes | None] = mapped_column(sa.LargeBinary(32), index=True)
    number: Mapped[str | None] = mapped_column(NulSafeString(32))
    #: a certificate entry's tier bit set after the event, and before it (None for an
    #: issuance): a partner sees the entry when either holds a tier its MRAs cover, so it
    #: also sees the amendment that takes the certificate out of cover, and nothing after
    tiers: Mapped[int | None] = mapped_column()
    previous_tiers: Mapped[int | None] = mapped_column()
    payload: Mapped[dict[str, Any]] = mapped_column()
    block_number: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
