"""``aeo bench api``: the registry API under load, beside its own ceiling.

One uvicorn process serves the registry API over a database of ``certificates`` issued and
indexed certificates (filled through the tables: a status read needs no chain), with the
benchmark's bare endpoint (``aeo.bench.servers``). Another serves the border
officer's page on an offline cache. A third process, the load generator
(:mod:`aeo.bench.load`), keeps ``concurrency`` connections busy for ``seconds`` on:

1. ``GET /bench/bare``: constant JSON, same app, middleware and server (``bare_rps``), and
   ``GET /bench/bare-sync``, the same from a plain ``def`` (``bare_sync_rps``: what the
   thread-pool hop of every database route costs);
2. ``GET /v1/certificates/{number}`` with an auditor's key, numbers spread over the whole
   database: the status lookup (``status_rps``, ``status_p50_ms``, ``status_p99_ms``);
3. ``POST /api/verify`` with a QR text: a verdict from the offline cache (``verify_rps``,
   ``verify_p99_ms``).

``ratio`` is ``status_rps / bare_rps`` from the same run. ``errors`` counts every non-2xx
answer or broken connection over all phases. With ``curve`` concurrencies the status
lookup is measured again at each (the latency-against-load plot of docs/benchmarks.md).

With ``workers`` (``--workers 1,2,4``) the registry API is started again with each number of
HTTP processes (uvicorn's workers, as ``aeo serve --workers N``) and the bare endpoint and
the status lookup are measured at each: ``workers`` in the report lists ``n``,
``bare_rps``, ``status_rps``, ``ratio``, ``bare_p99_ms`` and ``status_p99_ms`` per N. The
keys above are always those of N = 1 (measured even when not listed). ``cores`` is the
machine's CPU count: the load generator runs on the same machine and shares those cores
with the servers (``load_generator_shares_cores``), so on a small machine more processes
compete with the load for the same cores.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from aeo.bench.common import (
    BenchError,
    Report,
    ratio,
    start_python,
    stepper,
    wait_http,
)
from aeo.bench.data import build_verifier_world, fill_registry, number_of, reader_token
from aeo.bench.load import Engine, HttpRequest, LoadResult, LoadSpec, run_load
from aeo.bench.servers import BARE_ENDPOINT_ENV, BARE_PATH, BARE_SYNC_PATH
from contracts.anvil import free_port

#: distinct request paths / bodies the load generator cycles through
_DISTINCT_REQUESTS = 5000
_WARM_UP_SECONDS = 2.0


def run(
    *,
    concurrency: int = 100,
    seconds: float = 20.0,
    certificates: int = 10_000,
    verify_certificates: int = 1000,
    curve: Sequence[int] = (),
    curve_seconds: float = 5.0,
    workers: Sequence[int] = (1,),
    engine: Engine = "auto",
    console: Console | None = None,
) -> Report:
    if concurrency < 1 or seconds <= 0 or certificates < 1 or verify_certificates < 1:
        raise BenchError("concurrency, seconds and certificates must be positive")
    if any(n < 1 for n in workers):
        raise BenchError("numbers of worker processes must be at least 1")
    # N = 1 first (today's keys come from it), then the others in the order given.
    counts = [1, *dict.fromkeys(n for n in workers if n != 1)]
    with tempfile.TemporaryDirectory(prefix="aeo-bench-api-") as tmp:
        folder = Path(tmp)
        db_url = f"sqlite:///{folder / 'registry.db'}"
        with stepper(console, "filling the registry database", certificates) as step:
            fill_registry(
                db_url,
                certificates,
                on_progress=lambda done: step("filling the registry database", done),
            )
        token = reader_token(db_url)
        world = build_verifier_world(folder, verify_certificates)
        page_port = free_port()
        page = start_python(
            "border page",
            [
                "-m", "aeo.bench.servers", "verifier", "--cache", str(world.cache_path),
                "--port", str(page_port), "--as", world.as_authority,
            ],
            folder / "page.log",
        )  # fmt: skip
        try:
            wait_http(page, f"http://127.0.0.1:{page_port}/healthz")
            report: Report = {}
            by_workers: list[Report] = []
            for n in counts:
                registry_port = free_port()
                registry = start_python(
                    f"registry API ({n} processes)",
                    [
                        "-m", "aeo.bench.servers", "registry", "--db-url", db_url,
                        "--data-dir", str(folder / "mn"), "--port", str(registry_port),
                        "--workers", str(n),
                    ],
                    folder / f"registry-{n}.log",
                    env={BARE_ENDPOINT_ENV: "1"},
                )  # fmt: skip
                try:
                    # N processes import the app at once on the same cores: more time.
                    wait_http(
                        registry,
                        f"http://127.0.0.1:{registry_port}/healthz",
                        timeout=90.0 + 60.0 * n,
                    )
                    registry_url = f"http://127.0.0.1:{registry_port}"
                    if n == 1:
                        report = _measure(
                            folder,
                            registry_url=registry_url,
                            page_url=f"http://127.0.0.1:{page_port}",
                            token=token,
                            certificates=certificates,
                            texts=world.texts,
                            concurrency=concurrency,
                            seconds=seconds,
                            curve=curve,
                            curve_seconds=curve_seconds,
                            engine=engine,
                            console=console,
                        )
                        point = _workers_point(1, report)
                    else:
                        point = _measure_workers(
                            folder, n, registry_url, token, certificates, concurrency, seconds,
                            engine, console,
                        )  # fmt: skip
                        report["errors"] += point.pop("errors")
                    by_workers.append(point)
                finally:
                    registry.stop()
            report["workers"] = by_workers
            report["cores"] = os.cpu_count() or 1
            report["load_generator_shares_cores"] = True
            return report
        finally:
            page.stop()


def _workers_point(n: int, measured: Report) -> Report:
    return {
        "n": n,
        "bare_rps": measured["bare_rps"],
        "status_rps": measured["status_rps"],
        "ratio": measured["ratio"],
        "bare_p99_ms": measured["bare_p99_ms"],
        "status_p99_ms": measured["status_p99_ms"],
    }


def _measure_workers(
    folder: Path,
    n: int,
    registry_url: str,
    token: str,
    certificates: int,
    concurrency: int,
    seconds: float,
    engine: Engine,
    console: Console | None,
) -> Report:
    """The bare endpoint and the status lookup of a registry run as ``n`` processes."""
    bare_spec = LoadSpec(registry_url, (HttpRequest("GET", BARE_PATH),))
    status_spec = _status_spec(registry_url, token, certificates)
    warm = min(_WARM_UP_SECONDS, seconds)
    with stepper(console, f"{n} processes", 2) as step:
        for spec in (bare_spec, status_spec):
            run_load(spec, concurrency=concurrency, seconds=warm, workdir=folder, engine=engine)
        step(f"loading: bare x{concurrency}, {n} processes", 0)
        bare = run_load(
            bare_spec, concurrency=concurrency, seconds=seconds, workdir=folder, engine=engine
        )
        step(f"loading: status x{concurrency}, {n} processes", 1)
        status = run_load(
            status_spec, concurrency=concurrency, seconds=seconds, workdir=folder, engine=engine
        )
    return {
        "n": n,
        "bare_rps": bare.rps,
        "status_rps": status.rps,
        "ratio": ratio(status.rps, bare.rps),
        "bare_p99_ms": bare.p99_ms,
        "status_p99_ms": status.p99_ms,
        "errors": bare.errors + status.errors,
    }


def _status_spec(url: str, token: str, certificates: int) -> LoadSpec:
    picker = random.Random(6)  # noqa: S311 - spreading reads, not security
    numbers = [
        number_of(picker.randrange(certificates))
        for _ in range(min(certificates, _DISTINCT_REQUESTS))
    ]
    return LoadSpec(
        url,
        tuple(HttpRequest("GET", f"/v1/certificates/{n}") for n in numbers),
        {"Authorization": f"Bearer {token}"},
    )


def _verify_spec(url: str, texts: Sequence[str]) -> LoadSpec:
    return LoadSpec(
        url,
        tuple(
            HttpRequest("POST", "/api/verify", json.dumps({"text": t}), "application/json")
            for t in texts[:_DISTINCT_REQUESTS]
        ),
    )


def _measure(
    folder: Path,
    *,
    registry_url: str,
    page_url: str,
    token: str,
    certificates: int,
    texts: Sequence[str],
    concurrency: int,
    seconds: float,
    curve: Sequence[int],
    curve_seconds: float,
    engine: Engine,
    console: Console | None,
) -> Report:
    bare_spec = LoadSpec(registry_url, (HttpRequest("GET", BARE_PATH),))
    bare_sync_spec = LoadSpec(registry_url, (HttpRequest("GET", BARE_SYNC_PATH),))
    status_spec = _status_spec(registry_url, token, certificates)
    verify_spec = _verify_spec(page_url, texts)
    phases = [
        ("bare", bare_spec, concurrency, seconds),
        ("bare_sync", bare_sync_spec, concurrency, seconds),
        ("status", status_spec, concurrency, seconds),
        ("verify", verify_spec, concurrency, seconds),
        *((f"status@{c}", status_spec, c, curve_seconds) for c in curve),
    ]
    results: dict[str, LoadResult] = {}
    warm = min(_WARM_UP_SECONDS, seconds)
    with stepper(console, "warming up", len(phases)) as step:
        for spec in (bare_spec, status_spec, verify_spec):
            run_load(spec, concurrency=concurrency, seconds=warm, workdir=folder, engine=engine)
        for done, (name, spec, connections, duration) in enumerate(phases):
            step(f"loading: {name} x{connections}", done)
            results[name] = run_load(
                spec, concurrency=connections, seconds=duration, workdir=folder, engine=engine
            )
    bare, status, verify = results["bare"], results["status"], results["verify"]
    report: Report = {
        "bare_rps": bare.rps,
        "status_rps": status.rps,
        "ratio": ratio(status.rps, bare.rps),
        "status_p50_ms": status.p50_ms,
        "status_p99_ms": status.p99_ms,
        "verify_rps": verify.rps,
        "verify_p99_ms": verify.p99_ms,
        "errors": sum(r.errors for r in results.values()),
        "concurrency": concurrency,
        "seconds": seconds,
        "certificates": certificates,
        "client": bare.engine,
        "bare_p99_ms": bare.p99_ms,
        "bare_sync_rps": results["bare_sync"].rps,
        "ratio_to_bare_sync": ratio(status.rps, results["bare_sync"].rps),
        "verify_p50_ms": verify.p50_ms,
        "phases": {name: result.to_json() for name, result in results.items()},
    }
    if curve:
        report["status_latency_by_concurrency"] = [
            {
                "concurrency": c,
                "rps": results[f"status@{c}"].rps,
                "p50_ms": results[f"status@{c}"].p50_ms,
                "p99_ms": results[f"status@{c}"].p99_ms,
            }
            for c in curve
        ]
    return report
