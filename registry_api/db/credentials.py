"""W3C Bitstring Status Lists: each certificate's place in them, and the lists themselves.

Kept in tables of their own, not in the certificate record: the place is this registry's
bookkeeping (docs/credentials.md), not part of what the chain's commitment covers.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utc_now


class StatusListEntry(Base):
    """Certificate ``certificate_id`` is bit ``list_index`` of status list ``list_number``,
    in its revocation list and in its suspension list alike."""

    __tablename__ = "status_list_entries"
    __table_args__ = (sa.UniqueConstraint("list_number", "list_index"),)

    certificate_id: Mapped[bytes] = mapped_column(sa.LargeBinary(32), primary_key=True)
    list_number: Mapped[int] = mapped_column()
    list_index: Mapped[int] = mapped_column()
    assigned_at: Mapped[datetime] = mapped_column(default=utc_now)


class StatusList(Base):
    """The encoded bitstrings of list ``list_number`` (multibase base64url of the GZIP of
    the bits), rewritten by the indexer in the transaction that records a status change."""

    __tablename__ = "status_lists"

    list_number: Mapped[int] = mapped_column(primary_key=True)
    revocation: Mapped[str] = mapped_column(sa.Text)
    suspension: Mapped[str] = mapped_column(sa.Text)
    #: bumped at every rewrite: what the signed credentials of the list are cached by
    revision: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
