"""``aeo bench kpis``: how long ``GET /v1/kpis`` takes for a year over a large registry.

A SQLite database is filled straight through the tables (:func:`aeo.bench.data.fill_registry`:
``certificates`` active certificates, each with its ``issued`` event), then given a history
in SQL so that the KPIs have something to count: issue times spread over three years,
validity ends spread over the next three (so expiries fall in every window), one certificate
in 40 suspended (half of them past their remedy deadline), one in 97 revoked, and events
added up to ``events`` in all: amendments, renewals, suspensions and reinstatements with
their reason codes, and one event in a hundred a partner's (KR, for the propagation
percentiles). The registry app is then built in process (``create_app``, no workers) and
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
from aeo.bench.data import fill_registry, reader_token
from registry_api.db import make_engine

GOAL_MS = 500.0
_DAYS_OF_HISTORY = 3 * 365

# Each extra event copies an issued one (same certificate, a new transaction), moved to a
# later day, as one of these transitions with a reason it takes (ReasonCodes.sol).
_EXTRA_KINDS = (
    ("amended", "active", 32),
    ("renewed", "active", 48),
    ("suspended", "suspended", 1),
    ("reinstated", "active", 16),
    ("amended", "active", 33),
    ("suspended", "suspended", 8),
    ("reinstated", "active", 17),
    ("renewed", "active", 48),
)


def _shape_history(db_url: str, certificates: int, events: int) -> None:
    """Turn the filled database into a three-year history (SQLite statements)."""
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "UPDATE certificate_events SET "
                    "block_time = datetime('now', '-' || (id % :span) || ' days'), "
                    "indexed_at = datetime('now', '-' || (id % :span) || ' days', '+2 seconds')"
                ),
                {"span": _DAYS_OF_HISTORY},
            )
            connection.execute(
                sa.text(
                    "UPDATE certificates SET "
                    "valid_until = date('now', '+' || (id % :span) || ' days'), "
                    "status = CASE WHEN id % 97 = 0 THEN 'revoked' "
                    "WHEN id % 40 = 0 THEN 'suspended' ELSE status END, "
                    "remedy_deadline = CASE WHEN id % 40 = 0 AND id % 97 != 0 "
                    "THEN date('now', '+' || ((id % 120) - 60) || ' days') END"
                ),
                {"span": _DAYS_OF_HISTORY},
            )
            connection.execute(
                sa.text(
                    "CREATE TEMP TABLE bench_kinds "
                    "(i INTEGER PRIMARY KEY, kind TEXT, status TEXT, reason INTEGER)"
                )
            )
            connection.execute(
                sa.text("INSERT INTO bench_kinds VALUES (:i, :kind, :status, :reason)"),
                [
                    {"i": i, "kind": kind, "status": status, "reason": reason}
                    for i, (kind, status, reason) in enumerate(_EXTRA_KINDS)
                ],
            )
            extra = max(events - certificates, 0)
            offset = 0
            while offset < extra:
                batch = min(certificates, extra - offset)
                connection.execute(
                    sa.text(
                        "INSERT INTO certificate_events (certificate_id, issuer, number, kind, "
                        "status, reason_code, operator, version, commitment, data, tx_hash, "
                        "block_number, block_hash, log_index, block_time, indexed_at) "
                        "SELECT e.certificate_id, "
                        "CASE WHEN (e.id + :offset) % 100 = 0 THEN 'KR' ELSE e.issuer END, "
                        "e.number, k.kind, k.status, k.reason, e.operator, e.version, "
                        "e.commitment, e.data, randomblob(32), e.block_number + :blocks, "
                        "e.block_hash, e.log_index, "
                        "datetime(e.block_time, '+' || ((e.id + :offset) % 365) || ' days'), "
                        "datetime(e.block_time, '+' || ((e.id + :offset) % 365) || ' days', "
                        "'+' || (1 + (e.id + :offset) % 7) || ' seconds') "
                        "FROM certificate_events AS e JOIN bench_kinds AS k "
                        "ON k.i = (e.id + :offset) % :kinds "
                        "WHERE e.kind = 'issued' AND e.id <= :batch"
                    ),
                    {
                        "offset": offset,
                        "blocks": 100_000 + offset,
                        "batch": batch,
                        "kinds": len(_EXTRA_KINDS),
                    },
                )
                offset += batch
            connection.execute(sa.text("ANALYZE"))
    finally:
        engine.dispose()


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
) -> Report:
    from fastapi.testclient import TestClient

    from registry_api.app import create_app
    from registry_api.settings import ChainKind, Settings

    if events < certificates:
        raise BenchError("--events must be at least --certificates (each has its issue event)")
    with tempfile.TemporaryDirectory(prefix="aeo-bench-kpis-") as tmp:
        directory = Path(tmp)
        db_url = f"sqlite:///{directory / 'registry.db'}"
        started = time.perf_counter()
        with stepper(console, "filling the registry", certificates) as step:
            fill_registry(
                db_url,
                certificates,
                on_progress=lambda done: step("filling the registry", done),
                real_hashes=False,
            )
        with stepper(console, "shaping three years of history", None):
            _shape_history(db_url, certificates, events)
        fill_seconds = time.perf_counter() - started
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
            "fill_s": round(fill_seconds, 1),
        }
