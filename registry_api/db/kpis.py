"""What the programme's KPIs need beyond the index: border-check counts reported by the
border posts, and the targets an administration sets per KPI (docs/api.md, "KPIs").

Partner propagation needs no table of its own: every row of ``certificate_events`` holds
the block's timestamp (``block_time``) and the moment the indexer stored it
(``indexed_at``); the index below makes "a partner's events of a period" a range scan.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigIntKey, NulSafeString, utc_now
from .certificates import CertificateEvent

# The KPIs read events by issuer and period (transitions per month, partner propagation);
# the columns after them make those reads index-only on both backends.
sa.Index(
    "ix_certificate_events_kpis",
    CertificateEvent.issuer,
    CertificateEvent.block_time,
    CertificateEvent.kind,
    CertificateEvent.reason_code,
    CertificateEvent.indexed_at,
)


class BorderCheckCount(Base):
    """How many verifications one border post made on one day with one verdict.

    The post reports its local counts (no holder data, no certificate number); a repeated
    report of the same (authority, post, day, verdict) replaces the count, never adds to it.
    """

    __tablename__ = "border_check_counts"

    #: the administration of the reporting key (this one, or a partner's border officers)
    authority: Mapped[str] = mapped_column(NulSafeString(4), primary_key=True)
    #: the post's name as it reports it
    post: Mapped[str] = mapped_column(NulSafeString(64), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    #: one of the verifier's outcomes (verifier.verdict.Outcome)
    verdict: Mapped[str] = mapped_column(NulSafeString(24), primary_key=True)
    count: Mapped[int] = mapped_column()
    reported_at: Mapped[datetime] = mapped_column(default=utc_now)
    reported_by_key_id: Mapped[int] = mapped_column(sa.ForeignKey("api_keys.id"))


class KpiTarget(Base):
    """A baseline and a target set for one KPI. Rows are never changed: each setting adds
    one, so the table is also the audit trail of who set what when; the newest row of a
    KPI is its target."""

    __tablename__ = "kpi_targets"
    __table_args__ = (sa.Index(None, "kpi", "id"),)

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    kpi: Mapped[str] = mapped_column(NulSafeString(64))
    baseline: Mapped[float] = mapped_column(sa.Float)
    target: Mapped[float] = mapped_column(sa.Float)
    target_date: Mapped[date] = mapped_column()
    set_at: Mapped[datetime] = mapped_column(default=utc_now)
    set_by_key_id: Mapped[int] = mapped_column(sa.ForeignKey("api_keys.id"))
    #: the request that set it (the X-Request-ID every log line of that request carries)
    request_id: Mapped[str | None] = mapped_column(NulSafeString(128))
