"""``aeo bench kpis``: how long ``GET /v1/kpis`` takes for a year over a large registry.

The registry is the shared bench registry (:func:`aeo.bench.data.bench_registry`, filled
once into a cache directory and copied for each run): ``certificates`` certificates with
three years of history (issue times spread over three years, validity ends over the next
three, so expiries fall in every window; one in 40 suspended, half of them past their
remedy deadline; one in 97 revoked) and ``events`` events in all: each certificate's
``issued`` event and then amendments, renewals, suspensions and reinstatements with their
reason codes, one event in a hundred a partner's (KR, for the propagation percentiles). The
registry app is then built in process (``create_app``, no workers) and
``GET /v1/kpis`` for the last twelve months is asked ``repeat`` times through Starlette's
test client after one warm-up; ``kpis_year_ms`` is the median, ``kpis_year_max_ms`` the
slowest. The goal (issue 13) is ≤ 500 ms.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console

from aeo.bench.common import BenchError, Report, ms, stepper
from aeo.bench.data import bench_registry, reader_token
from registry_api.db import make_engine

GOAL_MS = 500.0


def _count(db_url: str, table: str) -> int:
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608 - a fixed table name
    finally:
        engine.dispose()


def run(
    *,
    certificates: int = 1_000_000,
    events: int = 3_000_000,
    repeat: int = 5,
    console: Console | None = None,
    fresh: bool = False,
    cache_dir: Path | None = None,
) -> Report:
    from fastapi.testclient import TestClient

    from registry_api.app import create_app
    from registry_api.settings import ChainKind, Settings

    if events < certificates:
        raise BenchError("--events must be at least --certificates (each has its issue event)")
    with tempfile.TemporaryDirectory(prefix="aeo-bench-kpis-") as tmp:
        directory = Path(tmp)
        label = "filling the registry"
        with stepper(console, label, certificates) as step:
            registry = bench_registry(
                directory,
                certificates,
                events,
                cache_dir=cache_dir,
                fresh=fresh,
                on_progress=lambda done: step(label, done),
            )
        db_url = registry.url
        token = reader_token(db_url)
        settings = Settings(
            authority="MN",
            data_dir=directory / "data",
            database_url=db_url,
            chain=ChainKind.MEMORY,
            run_workers=False,
            rate_limit_per_minute=1_000_000_000,
            rate_limit_burst=1_000_000_000,
        )
        timings: list[float] = []
        body: dict[str, Any] = {}
        with TestClient(create_app(settings)) as client:
            headers = {"Authorization": f"Bearer {token}"}
            for attempt in range(repeat + 1):
                began = time.perf_counter()
                answer = client.get("/v1/kpis", headers=headers)
                took = time.perf_counter() - began
                if answer.status_code != 200:
                    raise BenchError(f"GET /v1/kpis answered {answer.status_code}: {answer.text}")
                if attempt:  # the first one warms the page cache
                    timings.append(took)
                body = answer.json()
        median = statistics.median(timings)
        return {
            "certificates": _count(db_url, "certificates"),
            "events": _count(db_url, "certificate_events"),
            "repeat": repeat,
            "kpis_year_ms": ms(median),
            "kpis_year_min_ms": ms(min(timings)),
            "kpis_year_max_ms": ms(max(timings)),
            "goal_ms": GOAL_MS,
            "within_goal": ms(median) <= GOAL_MS,
            "kpi_values": len(body.get("values", [])),
            "events_in_year": sum(
                sum(v for k, v in month.items() if k != "month")
                for month in body.get("transitions", [])
            ),
            "seed_seconds": round(registry.seed_seconds, 1),
            "seed_reused": registry.reused,
        }
