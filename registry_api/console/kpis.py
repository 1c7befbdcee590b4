"""The programme's KPIs in the console (``/console/kpis``): the same figures as
``GET /v1/kpis`` (``services.kpis.compute``), for the same roles, as tables that work
without JavaScript and charts drawn over them by the console's bundle (Chart.js, from npm,
served from this registry: no CDN)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from ..auth import require_roles
from ..db import Role
from ..deps import SessionDep
from ..errors import InvalidError
from ..routes.kpis import indexer_view
from ..schemas.kpis import KpisPublic
from ..services import kpis as service
from .csrf import ConsoleRoute
from .deps import SignedInDep, console_of
from .i18n import N_

router = APIRouter(route_class=ConsoleRoute)

#: the roles of GET /v1/kpis
KPI_ROLES = require_roles(Role.ADMIN, Role.AUDITOR, Role.ISSUING_OFFICER)

#: the transitions' chart labels, in the order of services.kpis.TRANSITIONS
TRANSITION_LABELS = {
    "issued": N_("Issued"),
    "amended": N_("Amended"),
    "renewed": N_("Renewed"),
    "suspended": N_("Suspended"),
    "reinstated": N_("Reinstated"),
    "revoked": N_("Revoked"),
}


def chart_data(answer: KpisPublic) -> dict[str, Any]:
    """What the charts draw (the page's tables show the same figures as text); the
    transitions' series are named by their key, which the page's labels translate."""
    verdict_days = sorted({row.day.isoformat() for row in answer.border_checks.per_day})
    per_verdict: dict[str, dict[str, int]] = {}
    for row in answer.border_checks.per_day:
        per_verdict.setdefault(row.verdict, {})[row.day.isoformat()] = row.count
    return {
        "transitions": {
            "labels": [month.month for month in answer.transitions],
            "series": [
                {"key": kind, "data": [getattr(month, kind) for month in answer.transitions]}
                for kind in TRANSITION_LABELS
            ],
        },
        "status": {
            "labels": list(answer.certificates.by_status),
            "data": list(answer.certificates.by_status.values()),
        },
        "border": {
            "labels": verdict_days,
            "series": [
                {"label": verdict, "data": [counts.get(day, 0) for day in verdict_days]}
                for verdict, counts in sorted(per_verdict.items())
            ],
        },
    }


@router.get("/kpis", dependencies=[Depends(KPI_ROLES)])
def kpis_page(
    request: Request,
    db: SessionDep,
    who: SignedInDep,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
) -> Response:
    console = console_of(request)
    now = console.clock()
    errors = []
    try:
        period = service.period_of(start, end, now.date())
    except InvalidError as exc:
        errors = [
            {"field": error.field.removeprefix("query."), "message": error.message}
            for error in exc.errors
        ]
        period = service.default_period(now.date())
    answer = service.compute(
        db,
        authority=console.settings.authority,
        period=period,
        now=now,
        indexer=indexer_view(request),
    )
    targets = {value.kpi: value for value in answer.values if value.target is not None}
    context = {
        "kpis": answer,
        "targets": targets,
        "errors": errors,
        "chart_data": chart_data(answer),
        "transition_labels": TRANSITION_LABELS,
    }
    return console.page(request, "kpis.html", context, status_code=400 if errors else 200)
