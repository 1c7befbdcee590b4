"""``aeo bench recognition``: a partner's batch of 1,000 mixed identifiers against a registry
of ``certificates`` (a million by default), server time.

An SQLite database is filled straight through the tables (:func:`aeo.bench.data.fill_registry`:
each certificate with its indexed ``issued`` event; tiers C, S and C+S in turn), then given
what batch recognition reads besides: the lookup rows of ``certificate_aliases`` (the
holder's TIN, which the records carry, and one EORI alias per certificate), the members MN
and KR, and an MRA in force between them covering MN's security tier.

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
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from sqlalchemy.orm import Session

from aeo.bench.common import BenchError, Report, ms, percentile, rate, stepper
from aeo.bench.data import ISSUER, VERIFIER_AS, fill_registry, number_of
from contracts.domain import days
from contracts.domain.enums import Tier
from registry_api.db import Authority, Certificate, Mra, MraParty, make_engine
from registry_api.db.certificates import CertificateAlias
from registry_api.db.chain_index import mra_key
from registry_api.schemas.recognition import RecognitionBatch
from registry_api.services.recognition import MAX_BATCH_ITEMS

_WARM_UP = 5
_CHUNK = 20_000
#: the TIN fill_registry gives certificate ``index`` (scripts/aeo/bench/data.py)
_TIN_BASE = 5_000_000


def eori_of(index: int) -> str:
    return f"MN{index:012d}"


def _add_lookup_rows(db_url: str, count: int, console: Console | None) -> None:
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection, stepper(console, "alias rows", count) as step:
            ids_of = connection.execute(
                sa.select(Certificate.number, Certificate.certificate_id)
            ).all()
            by_number = dict(ids_of)
            for start in range(0, count, _CHUNK):
                rows: list[dict[str, Any]] = []
                for index in range(start, min(start + _CHUNK, count)):
                    certificate_id = by_number[number_of(index)]
                    rows.append(
                        {
                            "certificate_id": certificate_id,
                            "scheme": "TIN",
                            "value": str(_TIN_BASE + index),
                        }
                    )
                    rows.append(
                        {
                            "certificate_id": certificate_id,
                            "scheme": "EORI",
                            "value": eori_of(index),
                        }
                    )
                connection.execute(sa.insert(CertificateAlias), rows)
                step("alias rows", min(start + _CHUNK, count))
            block = 1
            for code, name in ((ISSUER, "Mongolia Customs"), (VERIFIER_AS, "Korea Customs")):
                connection.execute(
                    sa.insert(Authority),
                    [{"code": code, "name": name, "status": "active", "updated_block": block}],
                )
            today = datetime.now(UTC).date()
            connection.execute(
                sa.insert(Mra),
                [
                    {
                        "mra_id": mra_key(1),
                        "status": "in_force",
                        "proposer": ISSUER,
                        "effective_from": today - timedelta(days=365),
                        "ends_on": None,
                        "text_hash": b"\x01" * 32,
                        "updated_block": block,
                    }
                ],
            )
            signed = datetime.now(UTC)
            connection.execute(
                sa.insert(MraParty),
                [
                    {
                        "mra_id": mra_key(1),
                        "authority": ISSUER,
                        "recognized_tiers": int(Tier.SECURITY_SAFETY),
                        "signed_at": signed,
                    },
                    {
                        "mra_id": mra_key(1),
                        "authority": VERIFIER_AS,
                        "recognized_tiers": int(Tier.SECURITY_SAFETY),
                        "signed_at": signed,
                    },
                ],
            )
    finally:
        engine.dispose()


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
            tin = str(_TIN_BASE + (count + index if unknown else index))
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
    *, certificates: int = 1_000_000, batches: int = 200, console: Console | None = None
) -> Report:
    if certificates < 1 or batches < 1:
        raise BenchError("certificates and batches must be at least 1")
    with tempfile.TemporaryDirectory(prefix="aeo-bench-recognition-") as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'registry.db'}"
        started = time.perf_counter()
        with stepper(console, f"filling {certificates:,} certificates", certificates) as step:
            fill_registry(
                db_url,
                certificates,
                on_progress=lambda done: step("certificates", done),
                real_hashes=False,
            )
        _add_lookup_rows(db_url, certificates, console)
        fill_seconds = time.perf_counter() - started
        with stepper(console, "batches", None):
            latencies, found, answer_bytes = _measure(db_url, certificates, batches)
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
        "fill_seconds": round(fill_seconds, 1),
    }
