"""Operational endpoints for orchestrators and Prometheus. They carry no registry data
and need no API key; expose them on the internal network only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ..errors import PROBLEM_TYPE_PREFIX, problem_response
from ..metrics import Metrics
from ..readiness import ReadinessCheck, run_checks
from ..schemas.problems import Problem

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: str = Field(description="Always 'ok' when the process answers.")


class CheckPublic(BaseModel):
    ok: bool
    detail: str


class Readiness(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"status": "ready", "checks": {"database": {"ok": True, "detail": "ok"}}}]
        }
    )

    status: str
    checks: dict[str, CheckPublic]


@router.get(
    "/healthz",
    summary="The process answers",
    response_model=Health,
)
def healthz() -> Health:
    return Health(status="ok")


_NOT_READY_EXAMPLE = {
    "type": PROBLEM_TYPE_PREFIX + "not-ready",
    "title": "Not ready",
    "status": 503,
    "detail": "not ready: database",
    "instance": "/readyz",
    "request_id": "5f0c6b1e9a2d4c3b8e7f6a5b4c3d2e1f",
    "checks": {"database": {"ok": False, "detail": "OperationalError: unable to open database"}},
}


@router.get(
    "/readyz",
    summary="The service can serve requests (database, and the chain and indexer once wired)",
    response_model=Readiness,
    responses={
        503: {
            "model": Problem,
            "description": "A dependency is not ready; `checks` says which.",
            "content": {"application/problem+json": {"example": _NOT_READY_EXAMPLE}},
        }
    },
)
async def readyz(request: Request) -> Any:
    checks: dict[str, ReadinessCheck] = request.app.state.readiness_checks
    results = await run_in_threadpool(run_checks, dict(checks))
    body = {name: {"ok": r.ok, "detail": r.detail} for name, r in results.items()}
    failed = [name for name, r in results.items() if not r.ok]
    if failed:
        return problem_response(
            request,
            status=503,
            title="Not ready",
            detail="not ready: " + ", ".join(failed),
            slug="not-ready",
            extra={"checks": body},
        )
    return JSONResponse({"status": "ready", "checks": body})


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format.",
            "content": {
                CONTENT_TYPE_LATEST: {
                    "example": "# TYPE aeo_outbox_depth gauge\n"
                    'aeo_outbox_depth{state="pending"} 0.0\n'
                }
            },
        }
    },
)
async def metrics(request: Request) -> Response:
    registry_metrics: Metrics = request.app.state.metrics
    # The outbox collector queries the database: keep it off the event loop.
    payload = await run_in_threadpool(generate_latest, registry_metrics.registry)
    return Response(payload, media_type=CONTENT_TYPE_LATEST)
