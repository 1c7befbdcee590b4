"""``aeo bench console`` at a tiny size: the keys issue 12 fixes, all numbers, no error.
Never a timing: the figures belong to docs/benchmarks.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aeo.cli import app

pytestmark = pytest.mark.slow


def test_bench_console_prints_the_search_and_certificate_page_times(
    cli: CliRunner, tmp_path: Path
) -> None:
    command = ["bench", "console", "--certificates", "300", "--requests", "10", "--json"]
    result = cli.invoke(app, [*command, "--cache-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    for key in (
        "search_p95_ms",
        "certificate_page_p95_ms",
        "search_p50_ms",
        "certificate_page_p50_ms",
        "search_holder_name_rare_p95_ms",
        "dashboard_figures_median_ms",
        "seed_seconds",
    ):
        assert isinstance(report[key], int | float), key
        assert report[key] > 0, key
    assert report["rows"] == 300
    assert report["requests"] == 10
    assert report["seed_reused"] is False
    assert report["machine"]["cpu_count"] >= 1

    again = json.loads(cli.invoke(app, [*command, "--cache-dir", str(tmp_path)]).stdout)
    assert (again["seed_reused"], again["seed_seconds"]) == (True, 0)


def test_bench_console_refuses_a_size_below_one(cli: CliRunner) -> None:
    result = cli.invoke(app, ["bench", "console", "--certificates", "0", "--json"])
    assert result.exit_code == 2
    assert "--certificates" in result.output
