"""Reading the partner feed: who may see which entries, and cursor pages over them.

This administration's staff see every entry. A partner (a key with role ``partner`` and a
``partner_authority``) sees:

- ``certificate.*`` entries whose certificate, as of that entry, falls under an MRA in
  force today between this administration and the partner: the tiers in force after the
  entry, or before it, include a tier those MRAs cover. So the partner sees the amendment
  that takes a certificate out of cover (its tiers before it were covered), nothing of the
  certificate after it, and again everything from an amendment that brings it back;
- ``mra.*`` entries of MRAs the partner is a party to;
- ``chain.rewound`` entries, which retract earlier entries by sequence.

Visibility is decided when an entry is read, against the MRAs as indexed then: an MRA that
enters into force makes its certificates' earlier entries visible to cursors that start
before them; a partner that has already moved past them reads the certificates themselves
(``/v1/partner/certificates``) when it sees ``mra.in_force``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contracts.domain.days import Day

from ..db import FeedEntry, Role
from ..schemas.feed import FeedEntryPublic, FeedPage
from ..settings import Settings
from . import mras

#: the kinds a partner may see besides its certificates' and MRAs'
PARTNER_KINDS = ("chain.rewound",)
CERTIFICATE_KIND_PREFIX = "certificate."
MRA_KIND_PREFIX = "mra."
MAX_PAGE = 500


def _setting_default(name: str) -> float:
    value = Settings.model_fields[name].default
    assert isinstance(value, float)
    return value


@dataclass(frozen=True, slots=True)
class FeedStreamSettings:
    """How the live stream polls the index: the ``feed_stream_*`` settings
    (``AEO_FEED_STREAM_*``). Tests that need a quicker stream on a running app set
    ``app.state.feed_stream`` to one of these."""

    stream_poll_interval: float = _setting_default("feed_stream_poll_interval")
    stream_heartbeat: float = _setting_default("feed_stream_heartbeat")
    stream_max_seconds: float = _setting_default("feed_stream_max_seconds")

    @classmethod
    def of(cls, settings: Settings) -> FeedStreamSettings:
        return cls(
            stream_poll_interval=settings.feed_stream_poll_interval,
            stream_heartbeat=settings.feed_stream_heartbeat,
            stream_max_seconds=settings.feed_stream_max_seconds,
        )


@dataclass(frozen=True, slots=True)
class Audience:
    """What one reader may see: everything, or a partner's share of the feed."""

    #: the partner administration; None for this administration's own staff
    partner: str | None = None
    #: this administration's tiers the partner recognizes under MRAs in force
    covered_tiers: int = 0
    #: the MRAs the partner is a party to
    mra_ids: tuple[int, ...] = field(default=())

    @property
    def everything(self) -> bool:
        return self.partner is None


def audience_of(
    session: Session, *, role: Role, partner_authority: str | None, own: str, day: Day
) -> Audience:
    """The share of the feed a key with ``role`` may read on ``day``."""
    if role is not Role.PARTNER:
        return Audience()
    if partner_authority is None:
        # A partner key always names its administration; a row that does not shows nothing.
        return Audience(partner="", covered_tiers=0)
    return Audience(
        partner=partner_authority,
        covered_tiers=mras.covered_tiers(session, own=own, partner=partner_authority, day=day),
        mra_ids=tuple(mras.mra_ids_of(session, partner_authority)),
    )


def visible(audience: Audience) -> sa.ColumnElement[bool] | None:
    """The SQL condition on ``FeedEntry`` rows ``audience`` may see; None for all of them."""
    if audience.everything:
        return None
    clauses: list[sa.ColumnElement[bool]] = [FeedEntry.kind.in_(PARTNER_KINDS)]
    if audience.covered_tiers:
        covered = audience.covered_tiers
        clauses.append(
            sa.and_(
                FeedEntry.kind.startswith(CERTIFICATE_KIND_PREFIX, autoescape=True),
                FeedEntry.certificate_id.is_not(None),
                # Each entry on its own tiers (NULL & n is NULL: not visible on that side).
                sa.or_(
                    FeedEntry.tiers.op("&")(covered) != 0,
                    FeedEntry.previous_tiers.op("&")(covered) != 0,
                ),
            )
        )
    if audience.mra_ids:
        clauses.append(
            sa.and_(
                FeedEntry.kind.startswith(MRA_KIND_PREFIX, autoescape=True),
                FeedEntry.payload[("mra", "mra_id")].as_integer().in_(audience.mra_ids),
            )
        )
    return sa.or_(*clauses)


def head(session: Session) -> int:
    """The newest entry's sequence (0 for an empty feed)."""
    return session.scalar(sa.select(sa.func.max(FeedEntry.sequence))) or 0


def read_page(session: Session, audience: Audience, *, after: int, limit: int) -> FeedPage:
    """Up to ``limit`` entries ``audience`` may see with ``sequence > after``, ascending.

    The head is read first and bounds the page: on PostgreSQL each statement sees the
    latest commits, and an entry committed between the two statements would otherwise be
    skipped by a cursor moved to the head.
    """
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be 1..{MAX_PAGE}; got {limit}")
    top = head(session)
    query = sa.select(FeedEntry).where(FeedEntry.sequence > after, FeedEntry.sequence <= top)
    condition = visible(audience)
    if condition is not None:
        query = query.where(condition)
    rows = list(session.scalars(query.order_by(FeedEntry.sequence).limit(limit + 1)).all())
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = rows[-1].sequence if has_more else max(after, top)
    return FeedPage(
        data=[FeedEntryPublic.of(row) for row in rows], next_cursor=next_cursor, has_more=has_more
    )


def next_entry(
    session: Session, audience: Audience, *, after: int, not_before: datetime | None = None
) -> FeedEntry | None:
    """The first entry ``audience`` may see after sequence ``after`` (recorded at or after
    ``not_before`` when given), or None."""
    query = sa.select(FeedEntry).where(FeedEntry.sequence > after)
    if not_before is not None:
        query = query.where(FeedEntry.created_at >= not_before)
    condition = visible(audience)
    if condition is not None:
        query = query.where(condition)
    return session.scalars(query.order_by(FeedEntry.sequence).limit(1)).first()


def entry_json(entry: FeedEntry) -> str:
    """The JSON of one entry, as the feed, the stream and the webhooks carry it."""
    return FeedEntryPublic.of(entry).model_dump_json()
