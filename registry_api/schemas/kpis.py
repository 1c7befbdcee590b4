"""The programme's KPIs (``GET /v1/kpis``), their targets and the border posts' reports."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

#: the longest list a KPI answer carries (past remedy deadline, expiries); the totals count all
LIST_LIMIT = 1000
#: the most (day, verdict) counts one border-check report may carry
MAX_REPORTED_COUNTS = 5000
#: the verdicts a border post counts (verifier.verdict.Outcome's values)
VERDICTS = (
    "recognized",
    "not_recognized",
    "suspended",
    "revoked",
    "expired",
    "not_yet_valid",
    "superseded",
    "unknown_certificate",
    "untrusted_key",
    "bad_signature",
    "commitment_mismatch",
    "malformed",
    "check_unavailable",
)

_SEGMENT = r"[A-Za-z0-9_-]{1,32}"
#: the KPI names a target may be set for: each family of docs/api.md ("KPIs"), with the
#: partner, tier, role, month, verdict or number it is about as a segment of the name
KPI_NAME_PATTERNS = tuple(
    re.compile(pattern)
    for pattern in (
        rf"certificates\.(status|tier|role)\.{_SEGMENT}",
        rf"transitions\.\d{{4}}-\d{{2}}\.{_SEGMENT}",
        rf"reason_codes\.{_SEGMENT}\.{_SEGMENT}",
        r"suspensions\.(open|median_days|p90_days|past_remedy_deadline)",
        r"expiries\.within_(30|60|90)_days",
        r"mra_coverage\.[A-Z]{2,4}\.(share|ours_recognized|theirs_recognized)",
        r"propagation\.[A-Z]{2,4}\.(changes|p50_seconds|p99_seconds)",
        rf"border_checks\.(total|verdict\.{_SEGMENT})",
        r"operational\.(outbox_pending|outbox_failed|indexer_lag_blocks|indexer_lag_seconds)",
    )
)


def is_kpi_name(name: str) -> bool:
    return len(name) <= 64 and any(pattern.fullmatch(name) for pattern in KPI_NAME_PATTERNS)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Period(_Frozen):
    #: first day, inclusive (UTC)
    from_: date = Field(alias="from", serialization_alias="from")
    #: last day, inclusive (UTC)
    to: date

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    @classmethod
    def of(cls, start: date, end: date) -> Period:
        return cls.model_validate({"from": start, "to": end})


class CertificateCounts(_Frozen):
    """This administration's certificates today: every one by effective status; the active
    ones by tier (a certificate with two tiers counts under both) and by business role."""

    by_status: dict[str, int]
    by_tier: dict[str, int]
    by_business_role: dict[str, int]


class MonthTransitions(_Frozen):
    month: str = Field(examples=["2026-03"])
    issued: int = 0
    amended: int = 0
    renewed: int = 0
    suspended: int = 0
    reinstated: int = 0
    revoked: int = 0


class ReasonCount(_Frozen):
    transition: str = Field(examples=["suspended"])
    reason: str = Field(examples=["FAILED_AUDIT"])
    code: int = Field(examples=[1])
    count: int


class OverdueSuspension(_Frozen):
    number: str
    remedy_deadline: date
    days_overdue: int


class Suspensions(_Frozen):
    """Open: suspended today. Median and p90: days in suspension of the suspensions that
    began in the period, up to their reinstatement or revocation, or up to now if open."""

    open: int
    median_days: float | None
    p90_days: float | None
    past_remedy_deadline: int
    overdue: list[OverdueSuspension] = Field(description=f"Oldest deadline first; ≤ {LIST_LIMIT}.")


class Expiry(_Frozen):
    number: str
    valid_until: date
    days_left: int
    status: str


class Expiries(_Frozen):
    within_30_days: int
    within_60_days: int
    within_90_days: int
    due: list[Expiry] = Field(description=f"Soonest first; ≤ {LIST_LIMIT}.")


class MraCoverage(_Frozen):
    partner: str
    #: our active certificates
    ours_active: int
    #: of them, those the partner recognizes today under an MRA in force
    ours_recognized: int
    share: float | None
    #: the partner's certificates (as indexed) that we recognize today
    theirs_recognized: int


class Propagation(_Frozen):
    """From the block that recorded a partner's certificate change to our index having it."""

    partner: str
    changes: int
    p50_seconds: float | None
    p99_seconds: float | None


class BorderCheckDay(_Frozen):
    day: date
    verdict: str
    count: int


class BorderChecks(_Frozen):
    total: int
    verdict_mix: dict[str, int]
    per_day: list[BorderCheckDay]


class Operational(_Frozen):
    outbox_pending: int
    #: operations created in the period that failed
    outbox_failed: int
    indexer_block: int | None
    #: None when this process runs no indexer (it cannot see the chain's head)
    indexer_lag_blocks: int | None
    #: seconds since the index last caught up, while it is behind (0 when not behind)
    indexer_lag_seconds: float | None


_TARGET_EXAMPLE: dict[str, Any] = {
    "kpi": "suspensions.median_days",
    "baseline": 35.0,
    "target": 10.0,
    "target_date": "2027-12-31",
    "set_at": "2026-07-02T09:14:03Z",
    "set_by": "programme manager",
}
_KPIS_EXAMPLE: dict[str, Any] = {
    "authority": "MN",
    "period": {"from": "2025-07-03", "to": "2026-07-02"},
    "today": "2026-07-02",
    "as_of": "2026-07-02T09:15:00Z",
    "certificates": {
        "by_status": {"active": 412, "expired": 3, "revoked": 2, "suspended": 9},
        "by_tier": {"C": 120, "S": 388},
        "by_business_role": {"IM": 301, "EX": 250, "WH": 40},
    },
    "transitions": [
        {"month": "2026-01", "issued": 31, "amended": 4, "renewed": 2, "suspended": 1,
         "reinstated": 0, "revoked": 0},
    ],
    "reason_codes": [{"transition": "suspended", "reason": "FAILED_AUDIT", "code": 1, "count": 3}],
    "suspensions": {
        "open": 9, "median_days": 21.5, "p90_days": 64.0, "past_remedy_deadline": 1,
        "overdue": [{"number": "MN-AEO-2025-0031", "remedy_deadline": "2026-06-20",
                     "days_overdue": 12}],
    },
    "expiries": {
        "within_30_days": 1, "within_60_days": 1, "within_90_days": 2,
        "due": [{"number": "MN-AEO-2023-0007", "valid_until": "2026-07-20", "days_left": 18,
                 "status": "active"}],
    },
    "mra_coverage": [{"partner": "KR", "ours_active": 412, "ours_recognized": 388,
                      "share": 0.9417, "theirs_recognized": 1210}],
    "propagation": [{"partner": "KR", "changes": 57, "p50_seconds": 2.1, "p99_seconds": 6.8}],
    "border_checks": {"total": 8, "verdict_mix": {"recognized": 7, "suspended": 1},
                      "per_day": [{"day": "2026-07-01", "verdict": "recognized", "count": 7},
                                  {"day": "2026-07-01", "verdict": "suspended", "count": 1}]},
    "operational": {"outbox_pending": 0, "outbox_failed": 1, "indexer_block": 5120,
                    "indexer_lag_blocks": 0, "indexer_lag_seconds": 0.0},
    "targets": [_TARGET_EXAMPLE],
    "values": [
        {"kpi": "certificates.status.active", "value": 412, "baseline": None, "target": None,
         "target_date": None},
        {"kpi": "suspensions.median_days", "value": 21.5, "baseline": 35.0, "target": 10.0,
         "target_date": "2027-12-31"},
    ],
}  # fmt: skip


class KpiTargetPublic(_Frozen):
    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [_TARGET_EXAMPLE]})

    kpi: str
    baseline: float
    target: float
    target_date: date
    set_at: datetime
    set_by: str


class KpiValue(_Frozen):
    """One KPI value (one row of the CSV form), with its target when one is set."""

    kpi: str = Field(examples=["suspensions.median_days"])
    value: float | None
    baseline: float | None = None
    target: float | None = None
    target_date: date | None = None


class KpisPublic(_Frozen):
    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [_KPIS_EXAMPLE]})

    authority: str
    period: Period
    today: date
    as_of: datetime
    certificates: CertificateCounts
    transitions: list[MonthTransitions]
    reason_codes: list[ReasonCount]
    suspensions: Suspensions
    expiries: Expiries
    mra_coverage: list[MraCoverage]
    propagation: list[Propagation]
    border_checks: BorderChecks
    operational: Operational
    targets: list[KpiTargetPublic]
    values: list[KpiValue]


class KpiTargetSet(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"baseline": 35.0, "target": 10.0, "target_date": "2027-12-31"}]
        },
    )

    baseline: float = Field(allow_inf_nan=False, examples=[35.0])
    target: float = Field(allow_inf_nan=False, examples=[10.0])
    target_date: date = Field(examples=["2027-12-31"])


PostName = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$", strip_whitespace=True)
]


class BorderCheckCountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: date
    verdict: str = Field(examples=["recognized"])
    count: int = Field(ge=0, le=1_000_000_000)

    @field_validator("verdict")
    @classmethod
    def _known_verdict(cls, value: str) -> str:
        if value not in VERDICTS:
            raise ValueError(f"must be one of: {', '.join(VERDICTS)}")
        return value


class BorderCheckReport(BaseModel):
    """A border post's counts per day and verdict; a count reported again replaces the
    stored one (a post reports its running totals, never increments)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "post": "Zamyn-Uud road",
                    "counts": [
                        {"day": "2026-07-01", "verdict": "recognized", "count": 7},
                        {"day": "2026-07-01", "verdict": "suspended", "count": 1},
                    ],
                }
            ]
        },
    )

    post: PostName = Field(examples=["Zamyn-Uud road"])
    counts: list[BorderCheckCountIn] = Field(max_length=MAX_REPORTED_COUNTS)

    @field_validator("counts")
    @classmethod
    def _one_count_per_day_and_verdict(
        cls, value: list[BorderCheckCountIn]
    ) -> list[BorderCheckCountIn]:
        seen: set[tuple[date, str]] = set()
        for item in value:
            key = (item.day, item.verdict)
            if key in seen:
                raise ValueError(f"{item.day} {item.verdict} is counted twice")
            seen.add(key)
        return value


class BorderCheckReportAccepted(_Frozen):
    model_config = ConfigDict(
        frozen=True, json_schema_extra={"examples": [{"post": "Zamyn-Uud road", "stored": 2}]}
    )

    post: str
    stored: int
