"""What a partner administration may read: this administration's certificates that fall
under an MRA in force with it (:mod:`registry_api.services.mras` says which tiers are
covered), as the certificates' own read shows them."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contracts.domain import days
from contracts.domain.days import Day

from ..db import Certificate
from ..errors import NotFoundError
from . import certificates
from .certificates import CertificateView
from .mras import ON_CHAIN, covered_tiers


def _shared(tiers: int) -> sa.ColumnElement[bool]:
    """Certificates on-chain with a tier in ``tiers`` (what an MRA in force covers)."""
    return sa.and_(
        Certificate.status.in_(ON_CHAIN),
        Certificate.tiers.op("&")(tiers) != 0,
    )


def partner_certificates(
    session: Session,
    *,
    own: str,
    partner: str,
    day: Day,
    limit: int = 50,
    offset: int = 0,
    search: str | None = None,
) -> tuple[list[CertificateView], int]:
    """This administration's certificates ``partner`` recognizes under an MRA in force on
    ``day`` (any status: a partner must see suspensions and revocations), by number.
    ``search``: only those with that number or holder identification number, or whose
    holder's name contains it (case-insensitive)."""
    tiers = covered_tiers(session, own=own, partner=partner, day=day)
    if not tiers:
        return [], 0
    where = _shared(tiers)
    if search:
        folded = search.casefold()
        escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where = sa.and_(
            where,
            sa.or_(
                Certificate.number == search,
                Certificate.holder_id_number == search,
                Certificate.holder_name_folded.like(f"%{escaped}%", escape="\\"),
            ),
        )
    count = session.scalar(sa.select(sa.func.count(Certificate.id)).where(where)) or 0
    numbers = session.scalars(
        sa.select(Certificate.number)
        .where(where)
        .order_by(Certificate.number)
        .limit(limit)
        .offset(offset)
    ).all()
    today = days.from_day(day)
    return [certificates.read_certificate(session, number, today) for number in numbers], count


def partner_certificate(
    session: Session, *, own: str, partner: str, day: Day, number: str
) -> CertificateView:
    """One certificate ``partner`` may read; NotFoundError both when it does not exist and
    when it is not shared, so a partner learns nothing about the others."""
    tiers = covered_tiers(session, own=own, partner=partner, day=day)
    row = None
    if tiers:
        row = session.scalars(
            sa.select(Certificate).where(Certificate.number == number, _shared(tiers))
        ).one_or_none()
    if row is None:
        raise NotFoundError(f"no certificate {number} is shared with {partner}")
    return certificates.read_certificate(session, number, days.from_day(day))
