"""The programme's KPIs: read them (JSON or CSV), set their targets, and take the border
posts' counts of verifications (docs/api.md, "KPIs")."""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import Response

from ..auth import AuthenticatedKey, Role, require_roles
from ..db import utc_now
from ..deps import SessionDep
from ..schemas.kpis import (
    BorderCheckReport,
    BorderCheckReportAccepted,
    KpisPublic,
    KpiTargetPublic,
    KpiTargetSet,
)
from ..schemas.problems import AUTH_PROBLEMS, BODY_PROBLEMS, problem_responses
from ..services import kpis as service

logger = logging.getLogger("registry_api.kpis")

# Tags per route: border posts report into an area of their own (the console's home page
# tells each role what it may do by area).
router = APIRouter(prefix="/kpis")

#: the AEO unit (issuing officers), its managers (admin) and auditors
KpiReader = Annotated[
    AuthenticatedKey,
    Depends(require_roles(Role.ADMIN, Role.AUDITOR, Role.ISSUING_OFFICER)),
]
KpiAdmin = Annotated[AuthenticatedKey, Depends(require_roles(Role.ADMIN))]
BorderOfficer = Annotated[AuthenticatedKey, Depends(require_roles(Role.BORDER_OFFICER))]

CSV_MEDIA_TYPE = "text/csv"
_EXAMPLE_CSV = (
    "kpi,value,baseline,target,target_date\r\n"
    "certificates.status.active,412,,,\r\n"
    "suspensions.median_days,21.5,35,10,2027-12-31\r\n"
    "mra_coverage.KR.share,0.8125,,,\r\n"
)


def _wants_csv(accept: str | None) -> bool:
    """Whether the ``Accept`` header prefers CSV (JSON otherwise, as for any other value)."""
    if not accept:
        return False
    for part in accept.split(","):
        media = part.split(";", 1)[0].strip().lower()
        if media in {CSV_MEDIA_TYPE, "application/csv"}:
            return True
        if media in {"application/json", "*/*", "application/*"}:
            return False
    return False


@router.get(
    "",
    tags=["kpis"],
    summary="The programme's KPIs for a period, each with its target (JSON, or CSV)",
    response_model=KpisPublic,
    responses={
        200: {
            "content": {
                CSV_MEDIA_TYPE: {
                    "schema": {"type": "string"},
                    "example": _EXAMPLE_CSV,
                }
            },
            "description": "JSON, or with `Accept: text/csv` one row per KPI value.",
        },
        **problem_responses(*AUTH_PROBLEMS, 422),
    },
)
def read_kpis(
    request: Request,
    _caller: KpiReader,
    session: SessionDep,
    start: Annotated[
        date | None,
        Query(
            alias="from",
            description="First day (UTC), inclusive; default: a year before `to`, plus a day.",
            examples=["2026-01-01"],
        ),
    ] = None,
    end: Annotated[
        date | None,
        Query(
            alias="to",
            description="Last day (UTC), inclusive; default: today.",
            examples=["2026-12-31"],
        ),
    ] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Any:
    settings = request.app.state.settings
    now = utc_now()
    period = service.period_of(start, end, now.date())
    answer = service.compute(
        session,
        authority=settings.authority,
        period=period,
        now=now,
        indexer=indexer_view(request),
    )
    if _wants_csv(accept):
        return Response(
            service.to_csv(answer),
            media_type=CSV_MEDIA_TYPE,
            headers={
                "content-disposition": (
                    f'attachment; filename="kpis-{settings.authority}-'
                    f'{period.from_}-{period.to}.csv"'
                )
            },
        )
    return answer


def indexer_view(request: Request) -> service.IndexerView | None:
    """The chain head as this process's indexer last saw it (None without an indexer)."""
    workers = getattr(request.app.state, "workers", None)
    indexer = getattr(workers, "indexer", None)
    if indexer is None:
        return None
    return service.IndexerView(head=indexer.status.head)


KpiName = Annotated[
    str,
    Path(
        description="The KPI, as `GET /v1/kpis` names it in `values`.",
        examples=["suspensions.median_days"],
        max_length=64,
    ),
]


@router.put(
    "/targets/{kpi}",
    tags=["kpis"],
    summary="Set a KPI's baseline and its target value with the date to reach it",
    response_model=KpiTargetPublic,
    responses=problem_responses(*AUTH_PROBLEMS, *BODY_PROBLEMS),
)
def set_kpi_target(
    kpi: KpiName,
    body: KpiTargetSet,
    caller: KpiAdmin,
    session: SessionDep,
    request: Request,
) -> KpiTargetPublic:
    target = service.set_target(
        session,
        kpi=kpi,
        request=body,
        key_id=caller.id,
        request_id=getattr(request.state, "request_id", None),
    )
    # The audit trail is the table (a row per setting); the log line ties it to the request.
    logger.info(
        "KPI target set",
        extra={
            "kpi": kpi,
            "baseline": body.baseline,
            "target": body.target,
            "target_date": body.target_date.isoformat(),
            "user": caller.user,
        },
    )
    return target


@router.post(
    "/border-checks",
    tags=["border checks"],
    summary="Report a border post's counts of verifications per day and verdict",
    response_model=BorderCheckReportAccepted,
    responses=problem_responses(*AUTH_PROBLEMS, *BODY_PROBLEMS),
)
def report_border_checks(
    body: BorderCheckReport,
    caller: BorderOfficer,
    session: SessionDep,
) -> BorderCheckReportAccepted:
    stored = service.store_border_checks(
        session, authority=caller.acts_for, report=body, key_id=caller.id
    )
    return BorderCheckReportAccepted(post=body.post, stored=stored)
