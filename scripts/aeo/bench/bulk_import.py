"""``aeo bench import``: a bulk import through the API on a real anvil, from the upload until
every certificate is confirmed on-chain and indexed back.

The benchmark starts anvil (a block per transaction, or with ``block_time`` one block every
that many seconds and only then, as a QBFT network mines), founds MN, runs MN's registry API
with its workers, uploads one JSON file of ``count`` valid records (``POST /v1/imports``)
and stops the clock when the job is ``completed`` and a search finds ``count`` active
certificates (the indexer has read every ``CertificateIssued`` back). ``gas_total`` sums the
``gas_used`` of the job's ``issue_batch`` operations (their receipts); ``chunk`` is how many
certificates one transaction issues (default: the service's, ``DEFAULT_CHUNK_SIZE``);
``blocks`` is how many blocks those transactions landed in.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from aeo.bench.common import BenchError, Report, rate, stepper
from aeo.bench.consortium import running_consortium
from aeo.bench.data import canonical_record
from registry_api.services.imports import DEFAULT_CHUNK_SIZE

DEFAULT_CHUNK = DEFAULT_CHUNK_SIZE


def import_file(count: int, issuer: str = "MN") -> bytes:
    """``count`` valid records in the import's JSON shape (numbers from 0)."""
    today = datetime.now(UTC).date()
    records = []
    for index in range(count):
        record = canonical_record(
            index, issuer, today - timedelta(days=30), today + timedelta(days=3 * 365)
        )
        del record["schema"]
        records.append(record)
    return json.dumps({"certificates": records}, ensure_ascii=False).encode("utf-8")


def _wait(
    client: httpx.Client,
    job_id: str,
    count: int,
    timeout: float,
    console: Console | None,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with stepper(console, "importing", count) as step:
        while True:
            job: dict[str, Any] = client.get(f"/v1/imports/{job_id}").raise_for_status().json()
            counts = job["counts"]
            step(f"importing ({job['state']})", counts["confirmed"])
            if job["state"] in {"completed", "failed"}:
                break
            if time.monotonic() > deadline:
                raise BenchError(f"the import did not finish within {timeout:g} s: {counts}")
            time.sleep(1.0)  # a progress read counts every row: not too often
        while True:
            active = client.get("/v1/certificates", params={"status": "active", "limit": 1})
            indexed = int(active.raise_for_status().json()["count"])
            step("indexing", indexed)
            if indexed >= count or time.monotonic() > deadline:
                job["indexed"] = indexed
                return job
            time.sleep(0.5)


def run(
    *,
    count: int = 10_000,
    chunk: int = DEFAULT_CHUNK,
    block_time: float = 0.0,
    timeout: float = 1800.0,
    console: Console | None = None,
) -> Report:
    """``block_time`` 0: anvil mines a block per transaction; otherwise seconds per block."""
    if count < 1:
        raise BenchError("count must be at least 1")
    if not 1 <= chunk <= 500:
        raise BenchError("chunk must be 1..500 certificates per transaction")
    if block_time < 0:
        raise BenchError("block time must be 0 (a block per transaction) or positive seconds")
    body = import_file(count)
    with (
        tempfile.TemporaryDirectory(prefix="aeo-bench-import-") as tmp,
        running_consortium(
            Path(tmp),
            ("MN",),
            block_time=block_time or None,
            import_chunk=chunk,
            console=console,
        ) as bench,
        httpx.Client(
            base_url=bench.url("MN"),
            headers={"Authorization": f"Bearer {bench.tokens['MN']}"},
            timeout=120.0,
        ) as client,
    ):
        started = time.perf_counter()
        answer = client.post(
            "/v1/imports",
            content=body,
            headers={"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex},
        )
        if answer.status_code != 202:
            raise BenchError(f"the import was refused ({answer.status_code}): {answer.text}")
        job = _wait(client, answer.json()["id"], count, timeout, console)
        seconds = time.perf_counter() - started
        receipts = [
            client.get(f"/v1/operations/{op['id']}").raise_for_status().json()
            for op in job["operations"]
        ]
        gas = [int(receipt["gas_used"] or 0) for receipt in receipts]
        blocks = {receipt["block_number"] for receipt in receipts} - {None}
        mined_every = bench.anvil.block_time or 0  # what anvil ran with (a test may set it)
    counts = job["counts"]
    confirmed = min(int(counts["confirmed"]), int(job["indexed"]))
    return {
        "count": count,
        "seconds": round(seconds, 2),
        "certs_per_s": rate(confirmed, seconds),
        "gas_total": sum(gas),
        "gas_per_cert": round(sum(gas) / confirmed) if confirmed else 0,
        "confirmed": confirmed,
        "chunk": chunk,
        "transactions": len(gas),
        "blocks": len(blocks),
        "block_time_s": mined_every,
        "job_state": job["state"],
        "invalid": int(counts["invalid"]),
        "failed": int(counts["failed"]),
    }
