"""``aeo bench``: each benchmark at a tiny size prints JSON with every key issue 6 fixes.

These tests check the contract (keys, types, zero errors, every certificate confirmed),
never a timing: the figures themselves belong to docs/benchmarks.md.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aeo.bench import report as document
from aeo.bench.common import percentile, start_python, wait_http
from aeo.bench.data import build_verifier_world
from aeo.bench.load import HttpRequest, LoadSpec, run_load
from aeo.cli import app
from contracts.anvil import free_port

# Slow, so not in `make test-fast` (`make test` runs it): benchmarks.
pytestmark = pytest.mark.slow

MACHINE_KEYS = {"cpu_count", "cpu_model", "load_average", "python", "platform", "date", "commit"}


def bench(cli: CliRunner, *args: str) -> dict[str, Any]:
    result = cli.invoke(app, ["bench", *args, "--json"])
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    assert set(report["machine"]) >= MACHINE_KEYS
    assert report["machine"]["cpu_count"] >= 1
    return report


def numbers(report: dict[str, Any], *keys: str) -> None:
    for key in keys:
        assert isinstance(report[key], int | float), key
        assert not isinstance(report[key], bool), key
        assert report[key] >= 0, key


def test_bench_gas_reports_the_baseline_and_the_machine(cli: CliRunner) -> None:
    report = bench(cli, "gas")
    for key in ("key_register", "baseline_hash_registry_issue", "baseline_hash_registry_revoke"):
        assert isinstance(report[key], int)
        assert report[key] > 21_000
    assert report["issue_over_baseline"] == round(
        report["issue"] / report["baseline_hash_registry_issue"], 2
    )


def test_bench_api_loads_status_bare_and_verify_without_errors(cli: CliRunner) -> None:
    report = bench(
        cli, "api", "--seconds", "1", "--concurrency", "4", "--certificates", "200",
        "--client", "python", "--curve", "1,2", "--curve-seconds", "0.5",
    )  # fmt: skip
    numbers(
        report,
        "bare_rps", "status_rps", "ratio", "status_p50_ms", "status_p99_ms", "verify_rps",
        "verify_p99_ms",
    )  # fmt: skip
    assert report["errors"] == 0
    assert report["status_rps"] > 0
    assert report["verify_rps"] > 0
    assert report["client"] == "python"
    assert [p["concurrency"] for p in report["status_latency_by_concurrency"]] == [1, 2]
    # Without --workers: the one process of today, listed as N = 1 with today's figures.
    assert report["workers"] == [
        {
            "n": 1,
            "bare_rps": report["bare_rps"],
            "status_rps": report["status_rps"],
            "ratio": report["ratio"],
            "bare_p99_ms": report["bare_p99_ms"],
            "status_p99_ms": report["status_p99_ms"],
        }
    ]
    assert report["cores"] >= 1
    assert report["load_generator_shares_cores"] is True


def test_bench_api_measures_bare_and_status_at_each_number_of_processes(cli: CliRunner) -> None:
    report = bench(
        cli, "api", "--seconds", "1", "--concurrency", "4", "--certificates", "200",
        "--client", "python", "--workers", "2,1",
    )  # fmt: skip
    assert [point["n"] for point in report["workers"]] == [1, 2]
    assert report["errors"] == 0
    for point in report["workers"]:
        numbers(point, "bare_rps", "status_rps", "ratio", "bare_p99_ms", "status_p99_ms")
        assert point["status_rps"] > 0
        assert point["ratio"] == round(point["status_rps"] / point["bare_rps"], 3)
    assert report["workers"][0]["status_rps"] == report["status_rps"]  # today's keys: N = 1


def test_wrk_load_counts_requests_and_refusals(tmp_path: Path) -> None:
    assert shutil.which("wrk"), "wrk is a Debian package of the Makefile (make system-deps)"
    world = build_verifier_world(tmp_path, 3)
    port = free_port()
    page = start_python(
        "border page",
        ["-m", "aeo.bench.servers", "verifier", "--cache", str(world.cache_path),
         "--port", str(port)],
        tmp_path / "page.log",
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(page, url + "/healthz")
        body = json.dumps({"text": world.texts[0]})
        good = LoadSpec(url, (HttpRequest("POST", "/api/verify", body, "application/json"),))
        answered = run_load(good, concurrency=2, seconds=1, workdir=tmp_path, engine="wrk")
        refused = run_load(
            LoadSpec(url, (HttpRequest("GET", "/api/no-such-route"),)),
            concurrency=2,
            seconds=1,
            workdir=tmp_path,
            engine="wrk",
        )
    finally:
        page.stop()
    assert answered.engine == "wrk"
    assert answered.requests > 0
    assert answered.errors == 0
    assert refused.errors == refused.requests > 0


def test_bench_verify_reports_speed_and_the_qr_symbol(cli: CliRunner) -> None:
    report = bench(cli, "verify", "--seconds", "0.2", "--images", "2", "--certificates", "20")
    numbers(report, "offline_verify_per_s", "image_verdict_median_ms", "image_verdict_p95_ms")
    assert report["offline_verify_per_s"] > 0
    assert isinstance(report["qr_version"], int)
    assert 1 <= report["qr_version"] <= 40
    assert report["qr_ecc"] == "M"


def test_bench_scale_compares_lookups_and_replays_every_event(cli: CliRunner) -> None:
    report = bench(cli, "scale", "--certificates", "2000", "--lookups", "50", "--replay", "250")
    numbers(report, "lookup_p99_ms_10k", "lookup_p99_ms_1m", "ratio", "indexer_replay_events_per_s")
    assert report["certificates_large"] == 2000
    assert report["replay_events"] == 250


def test_bench_kpis_answers_a_year_of_kpis_over_the_seeded_history(
    cli: CliRunner, tmp_path: Path
) -> None:
    report = bench(
        cli,
        "kpis",
        "--certificates",
        "2000",
        "--events",
        "6000",
        "--repeat",
        "2",
        "--cache-dir",
        str(tmp_path),
    )
    numbers(report, "kpis_year_ms", "kpis_year_min_ms", "kpis_year_max_ms")
    assert (report["certificates"], report["events"]) == (2000, 6000)
    assert report["repeat"] == 2
    # The history spreads over three years: a year's answer counts some of it, not all.
    assert 0 < report["events_in_year"] < 6000


def test_bench_kpis_refuses_fewer_events_than_certificates(cli: CliRunner) -> None:
    result = cli.invoke(app, ["bench", "kpis", "--certificates", "10", "--events", "5"])
    assert result.exit_code != 0
    assert "--events must be at least --certificates" in " ".join(result.output.split())


@pytest.mark.anvil
def test_bench_import_confirms_every_certificate(cli: CliRunner) -> None:
    report = bench(cli, "import", "--count", "20", "--chunk", "10")
    numbers(report, "seconds", "certs_per_s", "gas_total", "gas_per_cert")
    assert report["count"] == 20
    assert report["confirmed"] == report["count"]
    assert report["transactions"] == 2
    assert report["gas_total"] == pytest.approx(report["gas_per_cert"] * 20, rel=0.01)


@pytest.mark.anvil
def test_bench_import_on_interval_blocks_reports_the_blocks_its_batches_took(
    cli: CliRunner,
) -> None:
    report = bench(cli, "import", "--count", "20", "--chunk", "10", "--block-time", "1")
    assert report["block_time_s"] == 1
    assert report["confirmed"] == report["count"] == 20
    assert report["transactions"] == 2
    assert 1 <= report["blocks"] <= 2


def test_bench_import_refuses_a_negative_block_time(cli: CliRunner) -> None:
    result = cli.invoke(app, ["bench", "import", "--block-time", "-1"])
    assert result.exit_code == 2
    assert "Invalid value for '--block-time'" in result.output


@pytest.mark.anvil
def test_bench_propagation_sees_each_change(cli: CliRunner) -> None:
    report = bench(
        cli, "propagation", "--samples", "2", "--block-time", "0.25", "--indexer-poll", "0.1"
    )
    numbers(report, "p50_s", "p99_s", "max_s")
    assert report["samples"] == 2
    assert report["p50_s"] <= report["p99_s"] <= report["max_s"]


def test_bench_hostile_measures_each_refusal_of_a_live_server(cli: CliRunner) -> None:
    report = bench(
        cli, "hostile", "--timeout", "30", "--only", "nested", "--only", "30 MB",
        "--only", "1 GiB",
    )  # fmt: skip
    attacks = report["attacks"]
    assert len(attacks) == 6
    for attack in attacks:
        assert set(attack) >= {"attack", "limit", "answer", "peak_rss_mb_above_idle", "cpu_s"}
        numbers(attack, "peak_rss_mb_above_idle", "cpu_s", "wall_s", "sent_mb")
        # Refused, by the server still running: a 4xx with its problem type.
        assert attack["answer"].split()[0] in {"400", "401", "413", "422"}, attack
    chunked = next(a for a in attacks if "1 GiB" in a["attack"])
    assert chunked["answer"] == "413 too-large"
    assert chunked["sent_mb"] < 1024
    numbers(report, "max_peak_rss_mb_above_idle", "max_cpu_s")
    assert set(report["idle_rss_mb"]) == {"registry", "page"}


def test_bench_hostile_refuses_an_attack_name_that_matches_nothing(cli: CliRunner) -> None:
    result = cli.invoke(app, ["bench", "hostile", "--only", "no such attack"])
    assert result.exit_code == 1
    assert "no attack's name contains" in result.output


@pytest.mark.anvil
def test_bench_propagation_on_automine_sees_each_change(cli: CliRunner) -> None:
    report = bench(cli, "propagation", "--samples", "2", "--block-time", "0")
    assert report["samples"] == 2
    assert report["p50_s"] <= report["p99_s"] <= report["max_s"]


def test_bench_rejects_a_malformed_curve(cli: CliRunner) -> None:
    result = cli.invoke(app, ["bench", "api", "--curve", "1,ten"])
    assert result.exit_code == 2
    assert "--curve" in result.output


@pytest.mark.parametrize("workers", ["1,two", "0", "1,65"])
def test_bench_rejects_a_malformed_number_of_processes(cli: CliRunner, workers: str) -> None:
    result = cli.invoke(app, ["bench", "api", "--workers", workers])
    assert result.exit_code == 2
    assert "--workers" in result.output


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([], 99) == 0.0
    assert percentile([5.0], 50) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile(list(map(float, range(101))), 99) == 99.0


def test_written_report_has_a_table_per_benchmark_targets_and_the_plot(tmp_path: Path) -> None:
    machine = {
        "cpu_count": 2, "cpu_model": "AMD EPYC", "load_average": [1.0, 1.0, 1.0],
        "python": "3.11", "platform": "Linux", "date": "2026-01-01T00:00:00Z",
        "commit": "0" * 40,
    }  # fmt: skip
    reports = {
        "api": {
            "bare_rps": 1000.0, "status_rps": 600.0, "ratio": 0.6, "status_p50_ms": 9.0,
            "status_p99_ms": 30.0, "verify_rps": 500.0, "verify_p99_ms": 40.0, "errors": 0,
            "status_latency_by_concurrency": [
                {"concurrency": c, "rps": 100.0 * c, "p50_ms": 1.0 * c, "p99_ms": 2.0 * c}
                for c in (1, 10)
            ],
        },
        "scale": {"lookup_p99_ms_10k": 1.0, "lookup_p99_ms_1m": 1.1, "ratio": 1.1},
    }  # fmt: skip
    path = document.write(reports, machine, tmp_path / "benchmarks.md")
    text = path.read_text(encoding="utf-8")
    assert "`" + "0" * 40 + "`" in text
    assert "| `ratio` | 0.6 | ≥ 0.5 ✓ |" in text
    assert "| `status_p99_ms` | 30 | ≤ 20 ms at 100 concurrent ✗ missed |" in text
    assert "img/status-latency.png" in text
    assert (tmp_path / "img" / "status-latency.png").read_bytes().startswith(b"\x89PNG")


def test_a_rewritten_report_keeps_the_hand_written_blocks_of_the_one_it_replaces(
    tmp_path: Path,
) -> None:
    machine = {
        "cpu_count": 2, "cpu_model": "AMD EPYC", "load_average": [1.0, 1.0, 1.0],
        "python": "3.11", "platform": "Linux", "date": "2026-01-01T00:00:00Z",
        "commit": "0" * 40,
    }  # fmt: skip
    reports = {"scale": {"lookup_p99_ms_10k": 1.0, "lookup_p99_ms_1m": 1.1, "ratio": 1.1}}
    destination = tmp_path / "benchmarks.md"
    block = f"{document.KEPT_BEGIN}\n## Measured apart\n\nA figure.\n{document.KEPT_END}"
    destination.write_text(f"# Old page\n\nstale text\n\n{block}\n\n## Raw reports\n", "utf-8")

    text = document.write(reports, machine, destination).read_text(encoding="utf-8")

    assert "stale text" not in text
    assert text.count(block) == 1
    assert text.index(block) < text.index("## Raw reports")


def test_bench_recognition_answers_batches_of_1000_and_finds_what_the_mra_shares(
    cli: CliRunner, tmp_path: Path
) -> None:
    report = bench(
        cli,
        "recognition",
        "--certificates",
        "600",
        "--batches",
        "3",
        "--cache-dir",
        str(tmp_path),
    )
    numbers(report, "batch_p50_ms", "batch_p99_ms", "items_per_s")
    assert (report["certificates"], report["alias_rows"]) == (600, 1200)
    assert (report["batches"], report["items_per_batch"]) == (3, 1000)
    # Tiers C, S, C+S in turn and an MRA on S: two thirds of the known items are shared.
    assert 0.5 < report["found_share"] < 0.75
