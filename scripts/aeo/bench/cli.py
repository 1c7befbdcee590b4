"""The ``aeo bench`` sub-commands. ``scripts/aeo/cli.py`` calls :func:`register` with its bench
sub-app, its error wrapper and its consoles; every command prints its report (a table, or
JSON with ``--json``) with the machine it ran on, and progress on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from aeo.bench.common import Report, machine_info, with_machine
from aeo.bench.load import Engine

JsonFlag = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]


class BenchChain(StrEnum):
    MEMORY = "memory"
    ANVIL = "anvil"


class Client(StrEnum):
    AUTO = "auto"
    WRK = "wrk"
    PYTHON = "python"


def _emit(out: Console, title: str, report: Report, json_output: bool) -> None:
    report = with_machine(report)
    if json_output:
        sys.stdout.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        return
    table = Table("figure", "value", title=title)
    for key, value in report.items():
        if not isinstance(value, dict | list):
            table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
    out.print(table)
    machine = report["machine"]
    out.print(
        f"{machine['cpu_count']} x {machine['cpu_model']}, load {machine['load_average']}, "
        f"{machine['date']}, commit {machine['commit']}"
    )


def register(
    bench_app: typer.Typer,
    guard: Callable[[Callable[..., None]], Callable[..., None]],
    out: Console,
    err: Console,
) -> None:
    """Add the benchmark commands to ``bench_app``; ``guard`` turns errors into one line."""

    @bench_app.command("gas")
    @guard
    def bench_gas(
        json_output: JsonFlag = False,
        chain_kind: Annotated[
            BenchChain,
            typer.Option("--chain", help="Where to measure: in process or a real anvil."),
        ] = BenchChain.MEMORY,
    ) -> None:
        """Gas of every registry operation, from real receipts on a fresh chain, beside a
        bare-hash registry deployed in the same run."""
        from aeo.bench import gas

        with err.status("deploying and measuring every operation..."):
            report = gas.run(chain="anvil" if chain_kind is BenchChain.ANVIL else "memory")
        _emit(out, f"gas on {chain_kind.value}", report, json_output)

    @bench_app.command("api")
    @guard
    def bench_api(
        json_output: JsonFlag = False,
        concurrency: Annotated[int, typer.Option(help="Open connections.", min=1)] = 100,
        seconds: Annotated[float, typer.Option(help="Seconds per phase.", min=0.5)] = 20.0,
        certificates: Annotated[
            int, typer.Option(help="Certificates in the registry database.", min=1)
        ] = 10_000,
        curve: Annotated[
            str,
            typer.Option(help="Also measure the status lookup at these concurrencies (1,10,...)."),
        ] = "",
        curve_seconds: Annotated[
            float, typer.Option(help="Seconds per --curve point.", min=0.5)
        ] = 5.0,
        client: Annotated[
            Client, typer.Option(help="Load generator: wrk if installed, else Python.")
        ] = Client.AUTO,
        workers: Annotated[
            str,
            typer.Option(
                help="Measure bare and status with the API run as each number of HTTP "
                "processes (1,2,4; as aeo serve --workers N)."
            ),
        ] = "1",
    ) -> None:
        """The registry API under load from another process: a bare endpoint, the status
        lookup and the border page's verify, on one machine."""
        from aeo.bench import api

        try:
            counts = tuple(int(n) for n in workers.split(",") if n.strip())
        except ValueError:
            raise typer.BadParameter(
                f"must be whole numbers separated by commas, got {workers!r}",
                param_hint="'--workers'",
            ) from None
        if not counts or any(n < 1 or n > 64 for n in counts):
            raise typer.BadParameter(
                "numbers of processes must be between 1 and 64", param_hint="'--workers'"
            )

        try:
            points = tuple(int(c) for c in curve.split(",") if c.strip())
        except ValueError:
            raise typer.BadParameter(
                f"must be whole numbers separated by commas, got {curve!r}", param_hint="'--curve'"
            ) from None
        if any(c < 1 for c in points):
            raise typer.BadParameter("concurrencies must be at least 1", param_hint="'--curve'")
        engine: Engine = client.value
        report = api.run(
            concurrency=concurrency,
            seconds=seconds,
            certificates=certificates,
            curve=points,
            curve_seconds=curve_seconds,
            workers=counts,
            engine=engine,
            console=err,
        )
        _emit(out, "registry API under load", report, json_output)

    @bench_app.command("verify")
    @guard
    def bench_verify(
        json_output: JsonFlag = False,
        seconds: Annotated[
            float, typer.Option(help="Seconds of offline verification.", min=0.1)
        ] = 5.0,
        images: Annotated[int, typer.Option(help="Photos verified.", min=1)] = 30,
        certificates: Annotated[
            int, typer.Option(help="Different certificates cycled through.", min=1)
        ] = 1000,
    ) -> None:
        """Offline verifications per second (one core), photo-to-verdict time, QR size."""
        from aeo.bench import verify

        report = verify.run(certificates=certificates, seconds=seconds, images=images, console=err)
        _emit(out, "verification", report, json_output)

    @bench_app.command("import")
    @guard
    def bench_import(
        json_output: JsonFlag = False,
        count: Annotated[int, typer.Option(help="Certificates in the file.", min=1)] = 10_000,
        chunk: Annotated[
            int | None,
            typer.Option(
                help="Certificates per transaction [default: the service's, 250].", min=1, max=500
            ),
        ] = None,
        block_time: Annotated[
            float,
            typer.Option(
                help="Seconds per block, mined on the interval like a QBFT network; "
                "0: a block per transaction.",
                min=0,
            ),
        ] = 0,
    ) -> None:
        """A bulk import through the API on a real anvil, until all are confirmed and
        indexed."""
        from aeo.bench import bulk_import

        report = bulk_import.run(
            count=count,
            chunk=chunk or bulk_import.DEFAULT_CHUNK,
            block_time=block_time,
            console=err,
        )
        _emit(out, "bulk import", report, json_output)

    @bench_app.command("propagation")
    @guard
    def bench_propagation(
        json_output: JsonFlag = False,
        samples: Annotated[int, typer.Option(help="Suspensions and reinstatements.", min=1)] = 50,
        block_time: Annotated[
            float,
            typer.Option(
                help="Seconds per block, mined on the interval like a QBFT network; "
                "0: a block per transaction.",
                min=0,
            ),
        ] = 1.0,
        indexer_poll: Annotated[
            float | None,
            typer.Option(
                help="The services' indexer poll interval (s) [default: the service's, 0.25].",
                min=0.05,
            ),
        ] = None,
    ) -> None:
        """Seconds until a partner's verifier and feed see a suspension made through the
        issuer's API."""
        from aeo.bench import propagation

        report = propagation.run(
            samples=samples, block_time=block_time, indexer_poll=indexer_poll, console=err
        )
        _emit(out, "propagation", report, json_output)

    @bench_app.command("scale")
    @guard
    def bench_scale(
        json_output: JsonFlag = False,
        certificates: Annotated[
            int, typer.Option(help="Certificates in the large database.", min=1)
        ] = 1_000_000,
        lookups: Annotated[int, typer.Option(help="Lookups measured per database.", min=1)] = 2000,
        replay: Annotated[
            int, typer.Option(help="Events replayed by the indexer.", min=1)
        ] = 10_000,
    ) -> None:
        """Status-lookup latency at 10k and at a million certificates; indexer replay."""
        from aeo.bench import scale

        report = scale.run(certificates=certificates, lookups=lookups, replay=replay, console=err)
        _emit(out, "scale", report, json_output)

    @bench_app.command("consortium-scale")
    @guard
    def bench_consortium_scale(
        json_output: JsonFlag = False,
        members: Annotated[
            int,
            typer.Option(
                help="Member administrations (all but two admitted by vote).", min=2, max=676
            ),
        ] = 100,
        mras: Annotated[int, typer.Option(help="MRAs in force among them.", min=1)] = 500,
        certificates: Annotated[
            int, typer.Option(help="Certificates, spread evenly over the members.", min=2)
        ] = 1_000_000,
        batch: Annotated[
            int, typer.Option(help="Certificates per issueBatch.", min=1, max=500)
        ] = 250,
        link: Annotated[
            int, typer.Option("--link-bits-per-s", help="The snapshot sync's link rate.", min=1000)
        ] = 1_000_000,
    ) -> None:
        """The consortium of issue 15 on a real anvil: founding with votes, issuance,
        recognition as MRAs grow, indexer backfill, chain growth, snapshot and sync."""
        from aeo.bench import consortium_scale

        pairs = members * (members - 1) // 2
        if mras > pairs:
            raise typer.BadParameter(
                f"{members} members make at most {pairs} two-party MRAs, got {mras}",
                param_hint="'--mras'",
            )
        if certificates < members:
            raise typer.BadParameter(
                f"must be at least --members (one per member), got {certificates}",
                param_hint="'--certificates'",
            )
        report = consortium_scale.run(
            members=members,
            mras=mras,
            certificates=certificates,
            batch=batch,
            link_bits_per_s=link,
            console=err,
        )
        _emit(out, "consortium at scale", report, json_output)

    @bench_app.command("kpis")
    @guard
    def bench_kpis(
        json_output: JsonFlag = False,
        certificates: Annotated[
            int, typer.Option(help="Certificates in the registry.", min=1)
        ] = 1_000_000,
        events: Annotated[
            int,
            typer.Option(help="Certificate events in all (at least one per certificate).", min=1),
        ] = 3_000_000,
        repeat: Annotated[int, typer.Option(help="Measured requests.", min=1)] = 5,
        fresh: Annotated[
            bool, typer.Option("--fresh", help="Fill the registry again, not from the cache.")
        ] = False,
        cache_dir: Annotated[
            Path | None,
            typer.Option(help="Where filled registries are kept (default ~/.cache/aeo-bench)."),
        ] = None,
    ) -> None:
        """GET /v1/kpis for a year over a million certificates and three million events."""
        from aeo.bench import kpis

        report = kpis.run(
            certificates=certificates,
            events=events,
            repeat=repeat,
            console=err,
            fresh=fresh,
            cache_dir=cache_dir,
        )
        _emit(out, "KPIs", report, json_output)

    @bench_app.command("console")
    @guard
    def bench_console(
        json_output: JsonFlag = False,
        certificates: Annotated[
            int, typer.Option(help="Certificates in the database.", min=1)
        ] = 1_000_000,
        requests: Annotated[int, typer.Option(help="Requests measured per page.", min=1)] = 400,
        fresh: Annotated[
            bool, typer.Option("--fresh", help="Fill the registry again, not from the cache.")
        ] = False,
        cache_dir: Annotated[
            Path | None,
            typer.Option(help="Where filled registries are kept (default ~/.cache/aeo-bench)."),
        ] = None,
    ) -> None:
        """Server time of the console's certificate search and a certificate's page."""
        from aeo.bench import console

        report = console.run(
            certificates=certificates,
            requests=requests,
            console=err,
            fresh=fresh,
            cache_dir=cache_dir,
        )
        _emit(out, "console", report, json_output)

    @bench_app.command("recognition")
    @guard
    def bench_recognition(
        json_output: JsonFlag = False,
        certificates: Annotated[
            int, typer.Option(help="Certificates in the registry.", min=1)
        ] = 1_000_000,
        batches: Annotated[int, typer.Option(help="Batches of 1,000 measured.", min=1)] = 200,
        fresh: Annotated[
            bool, typer.Option("--fresh", help="Fill the registry again, not from the cache.")
        ] = False,
        cache_dir: Annotated[
            Path | None,
            typer.Option(help="Where filled registries are kept (default ~/.cache/aeo-bench)."),
        ] = None,
    ) -> None:
        """Batch recognition (issue 13): 1,000 mixed identifiers a batch, server time."""
        from aeo.bench import recognition

        report = recognition.run(
            certificates=certificates,
            batches=batches,
            console=err,
            fresh=fresh,
            cache_dir=cache_dir,
        )
        _emit(out, "batch recognition", report, json_output)

    @bench_app.command("snapshot")
    @guard
    def bench_snapshot(
        json_output: JsonFlag = False,
        administrations: Annotated[int, typer.Option(help="Members.", min=2)] = 100,
        certificates: Annotated[int, typer.Option(help="Certificates.", min=2000)] = 1_000_000,
        link: Annotated[
            int, typer.Option("--link-bits-per-s", help="The simulated link's rate.", min=1000)
        ] = 1_000_000,
    ) -> None:
        """The signed status snapshot (issue 15): size, delta, sync over a slow link, offline
        verification against its cache."""
        from aeo.bench import snapshot

        report = snapshot.run(
            administrations=administrations,
            certificates=certificates,
            link_bits_per_s=link,
            console=err,
        )
        _emit(out, "status snapshot", report, json_output)

    @bench_app.command("hostile")
    @guard
    def bench_hostile(
        json_output: JsonFlag = False,
        timeout: Annotated[
            float,
            typer.Option(help="Seconds an attack may take before it counts as unanswered.", min=1),
        ] = 60.0,
        only: Annotated[
            list[str] | None,
            typer.Option("--only", help="Send only the attacks whose name contains this (repeat)."),
        ] = None,
    ) -> None:
        """What hostile requests (nested JSON, huge and endless bodies, import bombs, image
        bombs) cost the registry API and the border page, each its own process, before
        they are refused: the answer, peak memory above idle, CPU and wall time."""
        from aeo.bench import hostile

        report = hostile.run(timeout=timeout, only=only or (), console=err)
        _emit(out, "hostile requests", report, json_output)

    @bench_app.command("all")
    @guard
    def bench_all(
        write: Annotated[
            Path | None,
            typer.Option(
                "--write", help="Write the report as Markdown (docs/benchmarks.md).", dir_okay=False
            ),
        ] = None,
        json_output: JsonFlag = False,
    ) -> None:
        """Every benchmark at its default size; with --write, docs/benchmarks.md and its
        plot."""
        from aeo.bench import report as document

        machine = machine_info()
        reports = document.run_all(console=err)
        if write is not None:
            path = document.write(reports, machine, write)
            err.print(f"wrote {path}")
        if json_output:
            sys.stdout.write(json.dumps({"machine": machine, **reports}, indent=2) + "\n")
        else:
            for name, report in reports.items():
                _emit(out, name, report, False)
