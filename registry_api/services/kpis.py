"""The programme's KPIs, computed by SQL aggregation over the registry's own tables.

Every figure is one aggregate query (or a part of one): no query loads all certificates or
events into Python; lists (overdue suspensions, expiries) are capped at ``LIST_LIMIT`` beside
their totals. The same SQL runs on SQLite and PostgreSQL; where they spell a function
differently (a month, seconds between two times, a JSON array or member) the ``_Dialect``
helpers below hold both spellings. Percentiles use the nearest-rank method (the value at
rank ⌈p·n⌉), computed with window functions, which both backends have.

What each KPI means is documented in docs/api.md ("KPIs"); the status rules are the domain
core's (``contracts.domain.rules``): revoked > expired > suspended > not yet valid > active.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from contracts.domain import days, enums
from contracts.domain.enums import reason_name, tier_names

from ..db import (
    OPEN_OPERATION_STATES,
    ApiKey,
    BorderCheckCount,
    Certificate,
    CertificateEvent,
    IndexerCursor,
    KpiTarget,
    LocalStatus,
    Operation,
    OperationState,
    UTCDateTime,
    utc_now,
)
from ..errors import FieldError, InvalidError, NotFoundError
from ..schemas.kpis import (
    LIST_LIMIT,
    BorderCheckDay,
    BorderCheckReport,
    BorderChecks,
    CertificateCounts,
    Expiries,
    Expiry,
    KpisPublic,
    KpiTargetPublic,
    KpiTargetSet,
    KpiValue,
    MonthTransitions,
    MraCoverage,
    Operational,
    OverdueSuspension,
    Period,
    Propagation,
    ReasonCount,
    Suspensions,
    is_kpi_name,
)
from . import mras

#: the longest period one answer covers (a border-check day list grows with it)
MAX_PERIOD_DAYS = 3660
#: the transitions counted per month, in the order the answer lists them
TRANSITIONS = ("issued", "amended", "renewed", "suspended", "reinstated", "revoked")
#: roles listed (most certificates first); a registry has a handful
MAX_ROLES = 100
_SECONDS_PER_DAY = 86400.0
_CSV_COLUMNS = ("kpi", "value", "baseline", "target", "target_date")

#: (effective status, tiers, certificates) of every certificate, as one GROUP BY counts them
StatusTiers = Sequence[tuple[str, int, int]]


# ---------------------------------------------------------------- the period


def default_period(today: date) -> Period:
    """The last twelve months, today included."""
    try:
        year_ago = today.replace(year=today.year - 1)
    except ValueError:  # 29 February
        year_ago = today.replace(year=today.year - 1, day=28)
    return Period.of(year_ago + timedelta(days=1), today)


def period_of(start: date | None, end: date | None, today: date) -> Period:
    """The period a request asks for (each bound defaults to the last twelve months'); an
    InvalidError naming the parameter when it is reversed or too long."""
    default = default_period(end or today)
    period = Period.of(start or default.from_, end or default.to)
    if period.from_ > period.to:
        raise InvalidError(
            "the period ends before it begins",
            errors=[FieldError("query.to", f"must be on or after from ({period.from_})")],
        )
    if (period.to - period.from_).days >= MAX_PERIOD_DAYS:
        raise InvalidError(
            "the period is too long",
            errors=[
                FieldError("query.from", f"the period may span at most {MAX_PERIOD_DAYS} days")
            ],
        )
    return period


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


# ---------------------------------------------------------------- dialects


@dataclass(frozen=True, slots=True)
class _Dialect:
    name: str

    def month(self, column: Any) -> sa.ColumnElement[str]:
        if self.name == "postgresql":
            return sa.func.to_char(column, "YYYY-MM")
        return sa.func.strftime("%Y-%m", column)

    def seconds(self, start: Any, end: Any) -> sa.ColumnElement[float]:
        """Seconds from ``start`` to ``end`` (two UTC datetimes)."""
        if self.name == "postgresql":
            return sa.cast(sa.extract("epoch", end - start), sa.Float)
        # SQLite keeps datetimes as ISO text; julianday reads it.
        return (sa.func.julianday(end) - sa.func.julianday(start)) * _SECONDS_PER_DAY

    def json_int(self, column: Any, *path: str) -> sa.ColumnElement[int]:
        if self.name == "postgresql":
            json_path = sa.literal(list(path), postgresql.ARRAY(sa.Text()))
            return sa.cast(column.op("#>>")(json_path), sa.Integer)
        return sa.cast(sa.func.json_extract(column, "$." + ".".join(path)), sa.Integer)

    def role_rows(self, where: sa.ColumnElement[bool]) -> sa.Select[Any]:
        """(role, count) over the certificates ``where`` selects, most first."""
        if self.name == "postgresql":
            roles = sa.func.jsonb_array_elements_text(Certificate.business_roles).table_valued(
                "value"
            )
        else:
            roles = sa.func.json_each(Certificate.business_roles).table_valued("value")
        count = sa.func.count().label("n")
        return (
            sa.select(roles.c.value, count)
            .select_from(Certificate)
            .join(roles, sa.true())
            .where(where)
            .group_by(roles.c.value)
            .order_by(count.desc(), roles.c.value)
            .limit(MAX_ROLES)
        )


def _dialect(session: Session) -> _Dialect:
    return _Dialect(session.get_bind().dialect.name)


def _percentiles(rows: sa.Subquery, percents: Sequence[int]) -> sa.Select[Any]:
    """(group, n, value at each of ``percents``) over ``rows`` (columns ``g`` and ``v``),
    nearest rank: the value at rank ⌈p·n/100⌉ (integer arithmetic on both backends)."""
    ranked = sa.select(
        rows.c.g,
        rows.c.v,
        sa.func.row_number().over(partition_by=rows.c.g, order_by=rows.c.v).label("rn"),
        sa.func.count().over(partition_by=rows.c.g).label("n"),
    ).subquery()
    picks = [
        sa.func.max(sa.case((ranked.c.rn == (ranked.c.n * p + 99) // 100, ranked.c.v)))
        for p in percents
    ]
    return sa.select(ranked.c.g, sa.func.max(ranked.c.n), *picks).group_by(ranked.c.g)


# ---------------------------------------------------------------- effective status


def effective_status(today: date) -> sa.ColumnElement[str]:
    """A certificate row's status on ``today`` (contracts.domain.rules.effective_status, with
    this registry's own ``pending`` and ``failed``)."""
    return sa.case(
        (Certificate.status == LocalStatus.PENDING, "pending"),
        (Certificate.status == LocalStatus.FAILED, "failed"),
        (Certificate.status == LocalStatus.REVOKED, "revoked"),
        (
            sa.and_(Certificate.valid_until.is_not(None), Certificate.valid_until < today),
            "expired",
        ),
        (Certificate.status == LocalStatus.SUSPENDED, "suspended"),
        (Certificate.valid_from > today, "not_yet_valid"),
        else_="active",
    )


def _effectively_active(today: date) -> sa.ColumnElement[bool]:
    return sa.and_(
        Certificate.status == LocalStatus.ACTIVE,
        Certificate.valid_from <= today,
        sa.or_(Certificate.valid_until.is_(None), Certificate.valid_until >= today),
    )


def _not_expired(today: date) -> sa.ColumnElement[bool]:
    # One expression, not "IS NULL OR >=": with an OR SQLite reads both halves through the
    # valid_until index (nearly every row) instead of the far narrower status index that
    # the other conditions of these queries use.
    return sa.func.coalesce(Certificate.valid_until, date.max) >= today


# ---------------------------------------------------------------- the KPIs


@dataclass(frozen=True, slots=True)
class IndexerView:
    """What the running indexer knows that the database does not: the chain's head."""

    head: int | None


def compute(
    session: Session,
    *,
    authority: str,
    period: Period,
    now: datetime | None = None,
    indexer: IndexerView | None = None,
) -> KpisPublic:
    """Every KPI of ``authority``'s programme for ``period``, as of ``now`` (UTC)."""
    now = now or utc_now()
    today = now.astimezone(UTC).date()
    dialect = _dialect(session)
    start, end = _start_of(period.from_), _start_of(period.to + timedelta(days=1))

    status_tiers = session.execute(
        sa.select(effective_status(today).label("s"), Certificate.tiers, sa.func.count()).group_by(
            "s", Certificate.tiers
        )
    ).all()
    counts = _certificate_counts(session, dialect, status_tiers, today)
    coverage = _mra_coverage(session, dialect, authority, status_tiers, today)
    transitions, reasons = _transitions(session, dialect, authority, start, end)
    suspensions = _suspensions(session, dialect, authority, start, end, now, today)
    expiries = _expiries(session, today)
    propagation = _propagation(session, dialect, authority, start, end)
    border = _border_checks(session, period)
    operational = _operational(session, start, end, now, indexer)
    targets = current_targets(session)

    answer = KpisPublic(
        authority=authority,
        period=period,
        today=today,
        as_of=now,
        certificates=counts,
        transitions=transitions,
        reason_codes=reasons,
        suspensions=suspensions,
        expiries=expiries,
        mra_coverage=coverage,
        propagation=propagation,
        border_checks=border,
        operational=operational,
        targets=targets,
        values=[],
    )
    return answer.model_copy(update={"values": _values(answer, targets)})


def _certificate_counts(
    session: Session,
    dialect: _Dialect,
    status_tiers: StatusTiers,
    today: date,
) -> CertificateCounts:
    by_status: dict[str, int] = defaultdict(int)
    by_tier: dict[str, int] = defaultdict(int)
    for status, tiers, count in status_tiers:
        by_status[status] += count
        if status == "active":
            for name in tier_names(tiers):
                by_tier[name] += count
    roles = session.execute(dialect.role_rows(_effectively_active(today))).all()
    return CertificateCounts(
        by_status=dict(sorted(by_status.items())),
        by_tier=dict(by_tier),
        by_business_role={str(role): count for role, count in roles},
    )


def _own_events(authority: str, start: datetime, end: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        CertificateEvent.issuer == authority,
        CertificateEvent.block_time >= start,
        CertificateEvent.block_time < end,
    )


def _transitions(
    session: Session, dialect: _Dialect, authority: str, start: datetime, end: datetime
) -> tuple[list[MonthTransitions], list[ReasonCount]]:
    month = dialect.month(CertificateEvent.block_time).label("month")
    rows = session.execute(
        sa.select(month, CertificateEvent.kind, sa.func.count())
        .where(_own_events(authority, start, end))
        .group_by(month, CertificateEvent.kind)
    ).all()
    months: dict[str, dict[str, int]] = defaultdict(dict)
    for name, kind, count in rows:
        if kind in TRANSITIONS:
            months[name][kind] = count
    reasons = session.execute(
        sa.select(CertificateEvent.kind, CertificateEvent.reason_code, sa.func.count())
        .where(_own_events(authority, start, end), CertificateEvent.reason_code.is_not(None))
        .group_by(CertificateEvent.kind, CertificateEvent.reason_code)
        .order_by(CertificateEvent.kind, CertificateEvent.reason_code)
    ).all()
    return (
        [MonthTransitions(month=name, **months[name]) for name in sorted(months)],
        [
            ReasonCount(transition=kind, reason=reason_name(code), code=code, count=count)
            for kind, code, count in reasons
            if code is not None
        ],
    )


def _suspensions(
    session: Session,
    dialect: _Dialect,
    authority: str,
    start: datetime,
    end: datetime,
    now: datetime,
    today: date,
) -> Suspensions:
    suspended = sa.and_(Certificate.status == LocalStatus.SUSPENDED, _not_expired(today))
    open_count = session.scalar(sa.select(sa.func.count()).where(suspended)) or 0
    overdue_where = sa.and_(suspended, Certificate.remedy_deadline < today)
    overdue_total = session.scalar(sa.select(sa.func.count()).where(overdue_where)) or 0
    overdue = session.execute(
        sa.select(Certificate.number, Certificate.remedy_deadline)
        .where(overdue_where)
        .order_by(Certificate.remedy_deadline, Certificate.number)
        .limit(LIST_LIMIT)
    ).all()

    # Each suspension that began in the period lasts until the certificate's next status
    # change (reinstated or revoked) from the period's start on, or until now while it is
    # open. The next change is one probe of the (certificate, chain order) index per
    # suspension: a window over every status event of the period sorted them all.
    event, later = CertificateEvent, aliased(CertificateEvent)
    ended = (
        sa.select(later.block_time)
        .where(
            later.certificate_id == event.certificate_id,
            sa.or_(
                later.block_number > event.block_number,
                sa.and_(
                    later.block_number == event.block_number, later.log_index > event.log_index
                ),
            ),
            later.issuer == authority,
            later.block_time >= start,
            later.kind.in_(("suspended", "reinstated", "revoked")),
        )
        .order_by(later.block_number, later.log_index)
        .limit(1)
        .correlate(event)
        .scalar_subquery()
    )
    stop = sa.func.coalesce(ended, sa.literal(now, UTCDateTime()))
    durations = (
        sa.select(
            sa.literal(0).label("g"),
            (dialect.seconds(event.block_time, stop) / _SECONDS_PER_DAY).label("v"),
        )
        .where(
            event.issuer == authority,
            event.kind == "suspended",
            event.block_time >= start,
            event.block_time < end,
        )
        .subquery()
    )
    row = session.execute(_percentiles(durations, (50, 90))).first()
    median, p90 = (row[2], row[3]) if row is not None else (None, None)
    return Suspensions(
        open=open_count,
        median_days=_rounded(median),
        p90_days=_rounded(p90),
        past_remedy_deadline=overdue_total,
        overdue=[
            OverdueSuspension(
                number=number, remedy_deadline=deadline, days_overdue=(today - deadline).days
            )
            for number, deadline in overdue
            if deadline is not None
        ],
    )


def _expiries(session: Session, today: date) -> Expiries:
    horizon = {n: today + timedelta(days=n) for n in (30, 60, 90)}
    # Certificates that still count: not revoked, on-chain, not yet expired.
    due = sa.and_(
        Certificate.status.in_((LocalStatus.ACTIVE, LocalStatus.SUSPENDED)),
        Certificate.valid_until >= today,
        Certificate.valid_until <= horizon[90],
    )
    within = session.execute(
        sa.select(
            *(
                sa.func.coalesce(
                    sa.func.sum(sa.case((Certificate.valid_until <= horizon[n], 1), else_=0)), 0
                )
                for n in (30, 60, 90)
            )
        ).where(due)
    ).one()
    rows = session.execute(
        sa.select(Certificate.number, Certificate.valid_until, effective_status(today))
        .where(due)
        .order_by(Certificate.valid_until, Certificate.number)
        .limit(LIST_LIMIT)
    ).all()
    return Expiries(
        within_30_days=int(within[0]),
        within_60_days=int(within[1]),
        within_90_days=int(within[2]),
        due=[
            Expiry(number=number, valid_until=until, days_left=(until - today).days, status=status)
            for number, until, status in rows
            if until is not None
        ],
    )


def _partners(session: Session, authority: str) -> list[str]:
    """Every authority that shares an indexed MRA (of any status) with ``authority``."""
    from ..db import MraParty

    ours = sa.select(MraParty.mra_id).where(MraParty.authority == authority)
    return list(
        session.scalars(
            sa.select(MraParty.authority)
            .where(MraParty.mra_id.in_(ours), MraParty.authority != authority)
            .distinct()
            .order_by(MraParty.authority)
        )
    )


def _mra_coverage(
    session: Session,
    dialect: _Dialect,
    authority: str,
    status_tiers: StatusTiers,
    today: date,
) -> list[MraCoverage]:
    day = days.to_day(today)
    ours_active = sum(count for status, _tiers, count in status_tiers if status == "active")
    we_are_active = mras.authority_status(session, authority) is enums.AuthorityStatus.ACTIVE
    answer = []
    for partner in _partners(session, authority):
        # What the partner recognizes of ours, and we of theirs (rules.recognize: an MRA in
        # force, a covered tier, an active issuer and an effectively active certificate).
        mask = covered = 0
        if we_are_active:
            mask = mras.covered_tiers(session, own=authority, partner=partner, day=day)
            covered = sum(
                count
                for status, tiers, count in status_tiers
                if status == "active" and tiers & mask
            )
        theirs = 0
        their_mask = mras.covered_tiers(session, own=partner, partner=authority, day=day)
        if their_mask and (mras.authority_status(session, partner) is enums.AuthorityStatus.ACTIVE):
            theirs = _recognized_of(session, dialect, partner, their_mask, day)
        answer.append(
            MraCoverage(
                partner=partner,
                ours_active=ours_active,
                ours_recognized=covered,
                share=round(covered / ours_active, 4) if ours_active else None,
                theirs_recognized=theirs,
            )
        )
    return answer


def _recognized_of(session: Session, dialect: _Dialect, issuer: str, mask: int, day: int) -> int:
    """How many of ``issuer``'s certificates, as of their latest indexed event (whose
    ``data.state`` holds status, tiers and validity as day numbers), are active on ``day``
    with a tier in ``mask``."""
    latest = (
        sa.select(
            CertificateEvent.status,
            dialect.json_int(CertificateEvent.data, "state", "tiers").label("tiers"),
            dialect.json_int(CertificateEvent.data, "state", "valid_from").label("valid_from"),
            dialect.json_int(CertificateEvent.data, "state", "valid_until").label("valid_until"),
            sa.func.row_number()
            .over(
                partition_by=CertificateEvent.certificate_id,
                order_by=(CertificateEvent.block_number.desc(), CertificateEvent.log_index.desc()),
            )
            .label("rn"),
        )
        .where(CertificateEvent.issuer == issuer)
        .subquery()
    )
    return (
        session.scalar(
            sa.select(sa.func.count()).where(
                latest.c.rn == 1,
                latest.c.status == "active",
                latest.c.valid_from <= day,
                latest.c.valid_until >= day,
                latest.c.tiers.op("&")(mask) != 0,
            )
        )
        or 0
    )


def _propagation(
    session: Session, dialect: _Dialect, authority: str, start: datetime, end: datetime
) -> list[Propagation]:
    delays = (
        sa.select(
            CertificateEvent.issuer.label("g"),
            dialect.seconds(CertificateEvent.block_time, CertificateEvent.indexed_at).label("v"),
        )
        .where(
            CertificateEvent.issuer != authority,
            CertificateEvent.block_time >= start,
            CertificateEvent.block_time < end,
        )
        .subquery()
    )
    rows = sorted(session.execute(_percentiles(delays, (50, 99))).all())
    return [
        Propagation(
            partner=partner, changes=n, p50_seconds=_rounded(p50), p99_seconds=_rounded(p99)
        )
        for partner, n, p50, p99 in rows
    ]


def _border_checks(session: Session, period: Period) -> BorderChecks:
    in_period = sa.and_(BorderCheckCount.day >= period.from_, BorderCheckCount.day <= period.to)
    total = sa.func.sum(BorderCheckCount.count)
    per_day = session.execute(
        sa.select(BorderCheckCount.day, BorderCheckCount.verdict, total)
        .where(in_period)
        .group_by(BorderCheckCount.day, BorderCheckCount.verdict)
        .order_by(BorderCheckCount.day, BorderCheckCount.verdict)
    ).all()
    mix: dict[str, int] = defaultdict(int)
    for _day, verdict, count in per_day:
        mix[verdict] += int(count)
    return BorderChecks(
        total=sum(mix.values()),
        verdict_mix=dict(sorted(mix.items())),
        per_day=[
            BorderCheckDay(day=day, verdict=verdict, count=int(count))
            for day, verdict, count in per_day
        ],
    )


def _operational(
    session: Session,
    start: datetime,
    end: datetime,
    now: datetime,
    indexer: IndexerView | None,
) -> Operational:
    pending, failed = session.execute(
        sa.select(
            sa.func.coalesce(
                sa.func.sum(sa.case((Operation.state.in_(OPEN_OPERATION_STATES), 1), else_=0)), 0
            ),
            sa.func.coalesce(
                sa.func.sum(
                    sa.case(
                        (
                            sa.and_(
                                Operation.state == OperationState.FAILED,
                                Operation.created_at >= start,
                                Operation.created_at < end,
                            ),
                            1,
                        ),
                        else_=0,
                    )
                ),
                0,
            ),
        )
    ).one()
    cursor = session.scalars(sa.select(IndexerCursor).limit(1)).first()
    block = cursor.block_number if cursor is not None else None
    lag_blocks: int | None = None
    lag_seconds: float | None = None
    if indexer is not None and indexer.head is not None and block is not None:
        lag_blocks = max(indexer.head - block, 0)
        lag_seconds = 0.0
        if lag_blocks and cursor is not None:
            lag_seconds = round(max((now - cursor.updated_at).total_seconds(), 0.0), 3)
    return Operational(
        outbox_pending=int(pending),
        outbox_failed=int(failed),
        indexer_block=block,
        indexer_lag_blocks=lag_blocks,
        indexer_lag_seconds=lag_seconds,
    )


def _rounded(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


# ---------------------------------------------------------------- the flat form


def _values(answer: KpisPublic, targets: Iterable[KpiTargetPublic]) -> list[KpiValue]:
    """Every KPI value under its name (docs/api.md), with its target when one is set."""
    pairs: list[tuple[str, float | int | None]] = []
    counts = answer.certificates
    pairs += [(f"certificates.status.{k}", v) for k, v in counts.by_status.items()]
    pairs += [(f"certificates.tier.{k}", v) for k, v in counts.by_tier.items()]
    pairs += [(f"certificates.role.{k}", v) for k, v in counts.by_business_role.items()]
    for month in answer.transitions:
        pairs += [(f"transitions.{month.month}.{k}", getattr(month, k)) for k in TRANSITIONS]
    pairs += [(f"reason_codes.{r.transition}.{r.reason}", r.count) for r in answer.reason_codes]
    s = answer.suspensions
    pairs += [
        ("suspensions.open", s.open),
        ("suspensions.median_days", s.median_days),
        ("suspensions.p90_days", s.p90_days),
        ("suspensions.past_remedy_deadline", s.past_remedy_deadline),
    ]
    pairs += [(f"suspensions.overdue.{o.number}", o.days_overdue) for o in s.overdue]
    e = answer.expiries
    pairs += [
        ("expiries.within_30_days", e.within_30_days),
        ("expiries.within_60_days", e.within_60_days),
        ("expiries.within_90_days", e.within_90_days),
    ]
    pairs += [(f"expiries.due.{x.number}", x.days_left) for x in e.due]
    for c in answer.mra_coverage:
        pairs += [
            (f"mra_coverage.{c.partner}.share", c.share),
            (f"mra_coverage.{c.partner}.ours_recognized", c.ours_recognized),
            (f"mra_coverage.{c.partner}.theirs_recognized", c.theirs_recognized),
        ]
    for p in answer.propagation:
        pairs += [
            (f"propagation.{p.partner}.changes", p.changes),
            (f"propagation.{p.partner}.p50_seconds", p.p50_seconds),
            (f"propagation.{p.partner}.p99_seconds", p.p99_seconds),
        ]
    b = answer.border_checks
    pairs.append(("border_checks.total", b.total))
    pairs += [(f"border_checks.verdict.{k}", v) for k, v in b.verdict_mix.items()]
    pairs += [(f"border_checks.day.{d.day}.{d.verdict}", d.count) for d in b.per_day]
    o = answer.operational
    pairs += [
        ("operational.outbox_pending", o.outbox_pending),
        ("operational.outbox_failed", o.outbox_failed),
        ("operational.indexer_lag_blocks", o.indexer_lag_blocks),
        ("operational.indexer_lag_seconds", o.indexer_lag_seconds),
    ]
    by_name = {t.kpi: t for t in targets}
    values = []
    for name, value in pairs:
        target = by_name.get(name)
        values.append(
            KpiValue(
                kpi=name,
                value=value,
                baseline=target.baseline if target else None,
                target=target.target if target else None,
                target_date=target.target_date if target else None,
            )
        )
    return values


def to_csv(answer: KpisPublic) -> str:
    """The answer's values, one row per KPI value (with the target columns)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(_CSV_COLUMNS)
    for value in answer.values:
        writer.writerow(
            [
                value.kpi,
                _csv_number(value.value),
                _csv_number(value.baseline),
                _csv_number(value.target),
                value.target_date.isoformat() if value.target_date else "",
            ]
        )
    return buffer.getvalue()


def _csv_number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


# ---------------------------------------------------------------- targets


def check_kpi_name(kpi: str) -> str:
    if not is_kpi_name(kpi):
        raise InvalidError(
            f"{kpi[:80]!r} is not a KPI name",
            errors=[
                FieldError(
                    "path.kpi",
                    "must name a KPI as GET /v1/kpis lists it, such as suspensions.median_days "
                    "or mra_coverage.KR.share",
                )
            ],
        )
    return kpi


def current_targets(session: Session) -> list[KpiTargetPublic]:
    """The newest target of each KPI."""
    newest = sa.select(sa.func.max(KpiTarget.id)).group_by(KpiTarget.kpi)
    rows = session.execute(
        sa.select(KpiTarget, ApiKey)
        .join(ApiKey, ApiKey.id == KpiTarget.set_by_key_id)
        .where(KpiTarget.id.in_(newest))
        .order_by(KpiTarget.kpi)
    ).all()
    return [_target_public(target, key) for target, key in rows]


def _target_public(target: KpiTarget, key: ApiKey) -> KpiTargetPublic:
    return KpiTargetPublic(
        kpi=target.kpi,
        baseline=target.baseline,
        target=target.target,
        target_date=target.target_date,
        set_at=target.set_at,
        set_by=key.user.name,
    )


def set_target(
    session: Session,
    *,
    kpi: str,
    request: KpiTargetSet,
    key_id: int,
    request_id: str | None,
) -> KpiTargetPublic:
    """Record a new baseline and target for ``kpi`` (a row of its own: the history stays)."""
    check_kpi_name(kpi)
    row = KpiTarget(
        kpi=kpi,
        baseline=request.baseline,
        target=request.target,
        target_date=request.target_date,
        set_at=utc_now(),
        set_by_key_id=key_id,
        request_id=request_id,
    )
    session.add(row)
    session.commit()
    key = session.get(ApiKey, key_id)
    if key is None:  # pragma: no cover - the key authenticated this very request
        raise NotFoundError("the calling key disappeared")
    return _target_public(row, key)


def target_history(session: Session, kpi: str) -> list[KpiTarget]:
    """Every target set for ``kpi``, oldest first (the audit trail)."""
    check_kpi_name(kpi)
    return list(
        session.scalars(sa.select(KpiTarget).where(KpiTarget.kpi == kpi).order_by(KpiTarget.id))
    )


# ---------------------------------------------------------------- border checks


def store_border_checks(
    session: Session, *, authority: str, report: BorderCheckReport, key_id: int
) -> int:
    """Store a post's counts: each (authority, post, day, verdict) replaces what an earlier
    report said, so a report sent twice (a retry, a resend after a lost answer) changes
    nothing, and a later one with higher running totals updates them."""
    now = utc_now()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    rows = [
        {
            "authority": authority,
            "post": report.post,
            "day": item.day,
            "verdict": item.verdict,
            "count": item.count,
            "reported_at": now,
            "reported_by_key_id": key_id,
        }
        for item in report.counts
    ]
    # 7 parameters a row: chunks stay far below every backend's parameter limit.
    for at in range(0, len(rows), 500):
        statement = insert(BorderCheckCount).values(rows[at : at + 500])
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["authority", "post", "day", "verdict"],
                set_={
                    "count": statement.excluded.count,
                    "reported_at": statement.excluded.reported_at,
                    "reported_by_key_id": statement.excluded.reported_by_key_id,
                },
            )
        )
    session.commit()
    return len(report.counts)


__all__ = [
    "MAX_PERIOD_DAYS",
    "TRANSITIONS",
    "IndexerView",
    "compute",
    "current_targets",
    "default_period",
    "effective_status",
    "period_of",
    "set_target",
    "store_border_checks",
    "target_history",
    "to_csv",
]
