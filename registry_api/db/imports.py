"""Bulk-load jobs (CSV or JSON lists of existing certificates) and their per-row results."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, NulSafeString, NulSafeText, enum_column, utc_now


class ImportState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class RowOutcome(StrEnum):
    PENDING = "pending"
    ISSUED = "issued"
    #: already issued (by this file earlier, or otherwise): nothing done twice
    SKIPPED = "skipped"
    FAILED = "failed"


class ImportJob(Base):
    __tablename__ = "import_jobs"
    __table_args__ = (sa.UniqueConstraint("api_key_id", "idempotency_key"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    api_key_id: Mapped[int] = mapped_column(sa.ForeignKey("api_keys.id"))
    idempotency_key: Mapped[str] = mapped_column(NulSafeString(255))
    file_sha256: Mapped[bytes] = mapped_column(sa.LargeBinary(32), index=True)
    filename: Mapped[str | None] = mapped_column(NulSafeString(255))
    format: Mapped[str] = mapped_column(NulSafeString(8))
    state: Mapped[ImportState] = mapped_column(enum_column(ImportState), default=ImportState.QUEUED)
    total_rows: Mapped[int] = mapped_column(default=0)
    processed_rows: Mapped[int] = mapped_column(default=0)
    issued_rows: Mapped[int] = mapped_column(default=0)
    skipped_rows: Mapped[int] = mapped_column(default=0)
    failed_rows: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(NulSafeText())
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)
    finished_at: Mapped[datetime | None] = mapped_column()


class ImportRow(Base):
    __tablename__ = "import_rows"
    __table_args__ = (sa.UniqueConstraint("job_id", "row_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("import_jobs.id", ondelete="CASCADE"))
    #: 1-based data row (CSV: not counting the header; JSON: array position + 1)
    row_number: Mapped[int] = mapped_column()
    certificate_number: Mapped[str | None] = mapped_column(NulSafeString(32))
    outcome: Mapped[RowOutcome] = mapped_column(enum_column(RowOutcome), default=RowOutcome.PENDING)
    #: [{"field": ..., "message": ...}] for a failed row
    errors: Mapped[list[Any]] = mapped_column(default=list)
    operation_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("operations.id"))
