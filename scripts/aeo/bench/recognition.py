"""``aeo bench recognition``: a partner's batch of 1,000 mixed identifiers against a registry
of ``certificates`` (a million by default), server time.

The registry is the shared bench registry (:func:`aeo.bench.data.bench_registry`, filled
once into a cache directory and copied for each run): each certificate with three events
and three years of history (one in 40 suspended, one in 97 revoked), tiers C, S and C+S in
turn, its lookup rows in ``certificate_aliases`` (the holder's TIN and one EORI), the
members MN and KR, and an MRA in force between them covering MN's security tier.

Each batch holds 1,000 items, a third each certificate numbers, TINs and EORIs (written with
spaces and dashes, as a declaration might), one in twenty unknown. It is timed from the JSON
body's bytes to the JSON answer's bytes in process, for a KR partner key: validating the
body (normalising every identifier), :func:`registry_api.services.recognition.recognize_batch`
on a pooled connection's session, and serializing the answer; HTTP and authentication are
not in it (``aeo bench api`` measures those). ``batch_p50_ms`` and ``batch_p99_ms`` are
over ``batches`` batches after a warm-up; the goal is p50 <= 50 ms and p99 <= 150 ms.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from rich.console import Console
from sqlalchemy.orm import Session

from aeo.bench.common import BenchError, Report, ms, percentile, rate, stepper
from aeo.bench.data import (
    ISSUER,
    TIN_BASE,
    VERIFIER_AS,
    bench_registry,
    eori_of,
    number_of,
)
from contracts.domain import days
from registry_api.db import make_engine
from registry_api.schemas.recognition import RecognitionBatch
from registry_api.services.recognition import MAX_BATCH_ITEMS

_WARM_UP = 5


def batch_body(picker: random.Random, count: int) -> bytes:
    """A request body of ``MAX_BATCH_ITEMS`` mixed items over ``count`` certificates."""
    items: list[dict[str, str]] = []
    for position in range(MAX_BATCH_ITEMS):
        index = picker.randrange(count)
        unknown = picker.randrange(20) == 0
        kind = position % 3
        if kind == 0:
            items.append({"number": f"MN-NOPE-{index}" if unknown else number_of(index)})
        elif kind == 1:
            tin = str(TIN_BASE + (count + index if unknown else index))
            items.append({"scheme": "TIN", "value": f"{tin[:3]} {tin[3:]}"})
        else:
            eori = eori_of(count + index if unknown else index)
            items.append({"scheme": "eori", "value": f"{eori[:2]}-{eori[2:8]}-{eori[8:]}"})
    return json.dumps({"items": items}).encode()


def _serve(session: Session, body: bytes, today: date) -> tuple[bytes, int]:
    """The route's work for a KR partner key, without HTTP: body in, answer out."""
    # The route module is imported here: it imports FastAPI, which the fill does not need.
    from registry_api.routes.recognition import _item, _public
    from registry_api.schemas.recognition import RecognitionAsOf, RecognitionBatchPublic
    from registry_api.services.recognition import recognize_batch

    request = RecognitionBatch.model_validate_json(body)
    result = recognize_batch(
        session,
        [_item(item) for item in request.items],
        own=ISSUER,
        authority=VERIFIER_AS,
        partner=True,
        day=days.to_day(today),
    )
    answer = RecognitionBatchPublic(
        authority=result.authority,
        as_of=RecognitionAsOf(block=result.block, indexed_at=result.indexed_at, day=today),
        data=[_public(i, a) for i, a in zip(request.items, result.answers, strict=True)],
        count=len(result.answers),
    )
    return answer.model_dump_json().encode(), sum(a.found for a in result.answers)


def _measure(db_url: str, count: int, batches: int) -> tuple[list[float], int, int]:
    engine = make_engine(db_url)
    picker = random.Random(count)  # noqa: S311 - spreading reads, not security
    bodies = [batch_body(picker, count) for _ in range(batches + _WARM_UP)]
    today = datetime.now(UTC).date()
    latencies: list[float] = []
    found = size = 0
    try:
        for i, body in enumerate(bodies):
            started = time.perf_counter()
            with Session(engine) as session:
                answer, hits = _serve(session, body, today)
            if i >= _WARM_UP:
                latencies.append(time.perf_counter() - started)
                found += hits
                size = len(answer)
    finally:
        engine.dispose()
    return latencies, found, size


def run(
    *,
    certificates: int = 1_000_000,
    batches: int = 200,
    console: Console | None = None,
    fresh: bool = False,
    cache_dir: Path | None = None,
) -> Report:
    if certificates < 1 or batches < 1:
        raise BenchError("certificates and batches must be at least 1")
    with tempfile.TemporaryDirectory(prefix="aeo-bench-recognition-") as tmp:
        label = f"filling {certificates:,} certificates"
        with stepper(console, label, certificates) as step:
            registry = bench_registry(
                Path(tmp),
                certificates,
                3 * certificates,
                cache_dir=cache_dir,
                fresh=fresh,
                on_progress=lambda done: step(label, done),
            )
        with stepper(console, "batches", None):
            latencies, found, answer_bytes = _measure(registry.url, certificates, batches)
    items = batches * MAX_BATCH_ITEMS
    return {
        "batch_p50_ms": ms(percentile(latencies, 50)),
        "batch_p99_ms": ms(percentile(latencies, 99)),
        "batch_max_ms": ms(max(latencies)),
        "items_per_s": rate(items, sum(latencies)),
        "certificates": certificates,
        "alias_rows": 2 * certificates,
        "batches": batches,
        "items_per_batch": MAX_BATCH_ITEMS,
        # Unknown items and those whose tier the MRA does not cover (C only) are not found.
        "found_share": round(found / items, 3),
        "answer_kb": round(answer_bytes / 1024, 1),
        "seed_seconds": round(registry.seed_seconds, 1),
        "seed_reused": registry.reused,
    }
