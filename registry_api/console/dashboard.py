"""The console's home page figures: certificates by status and by tier, the writes waiting
for the chain, what expires within 30 days, and the latest changes to partner
administrations' certificates. Read from the index (no chain call), each a query the
indexes answer; the programme KPI work can add to :class:`Dashboard`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from contracts.domain.enums import TIER_NAMES

from ..db import OPEN_OPERATION_STATES, Certificate, CertificateEvent, LocalStatus, Operation
from ..deps import SessionDep
from ..services import certificates as service
from .certificates import READERS, STATUS_LABELS
from .csrf import ConsoleRoute
from .deps import SignedInDep, console_of

router = APIRouter(route_class=ConsoleRoute)

EXPIRING_DAYS = 30
PARTNER_CHANGES = 10


@dataclass(frozen=True, slots=True)
class Dashboard:
    by_status: dict[str, int]
    #: tier short name -> certificates (active or suspended) holding that tier bit
    by_tier: dict[str, int]
    pending_operations: int
    expiring: int
    expiring_until: date
    partner_changes: list[CertificateEvent]


def expiring_conditions(today: date, within: int = EXPIRING_DAYS) -> list[sa.ColumnElement[bool]]:
    """Valid today (renewals counted) and no longer valid ``within`` days from now."""
    last_day = today + timedelta(days=within)
    valid_today = service.search_conditions(service.SearchFilters(status="active"), today)
    still_valid = service.search_conditions(
        service.SearchFilters(valid_from=last_day + timedelta(days=1)), today
    )
    renewed = sa.select(CertificateEvent.certificate_id).where(CertificateEvent.kind == "renewed")
    # First a cheap test that only candidates pass (their stored end is near, or they were
    # renewed; the IN list is built once), so the per-row renewal look-ups run for few.
    candidates = sa.or_(
        Certificate.valid_until <= last_day, Certificate.certificate_id.in_(renewed)
    )
    return [candidates, *valid_today, sa.not_(sa.and_(*still_valid))]


def dashboard(db: Session, authority: str, today: date | None = None) -> Dashboard:
    today = today or datetime.now(UTC).date()
    by_status = {status.value: 0 for status in LocalStatus}
    for status, count in db.execute(
        sa.select(Certificate.status, sa.func.count()).group_by(Certificate.status)
    ):
        by_status[status.value] = count
    in_force = Certificate.status.in_((LocalStatus.ACTIVE, LocalStatus.SUSPENDED))
    tier_counts = db.execute(
        sa.select(
            *(
                sa.func.sum(sa.case((Certificate.tiers.op("&")(1 << bit) != 0, 1), else_=0))
                for bit in range(len(TIER_NAMES))
            )
        ).where(in_force)
    ).one()
    by_tier = {name: int(tier_counts[bit] or 0) for bit, name in enumerate(TIER_NAMES)}
    pending = db.scalar(
        sa.select(sa.func.count())
        .select_from(Operation)
        .where(Operation.state.in_(OPEN_OPERATION_STATES))
    )
    expiring = db.scalar(
        sa.select(sa.func.count()).select_from(Certificate).where(*expiring_conditions(today))
    )
    partner_changes = list(
        db.scalars(
            sa.select(CertificateEvent)
            .where(CertificateEvent.issuer != authority)
            .order_by(CertificateEvent.block_number.desc(), CertificateEvent.log_index.desc())
            .limit(PARTNER_CHANGES)
        )
    )
    return Dashboard(
        by_status=by_status,
        by_tier=by_tier,
        pending_operations=pending or 0,
        expiring=expiring or 0,
        expiring_until=today + timedelta(days=EXPIRING_DAYS),
        partner_changes=partner_changes,
    )


@router.get("/dashboard", dependencies=[Depends(READERS)])
def dashboard_page(request: Request, db: SessionDep, who: SignedInDep) -> Response:
    """The figures: a fragment for the home page's htmx request, else a page of its own."""
    fragment = request.headers.get("hx-request") == "true"
    context = {
        "dashboard": dashboard(db, who.key.authority),
        "STATUS_LABELS": STATUS_LABELS,
        "fragment": fragment,
    }
    return console_of(request).page(request, "dashboard.html", context)
