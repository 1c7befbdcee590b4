"""``aeo bench snapshot`` at a tiny size: every figure issue 15 names is there, of the right
kind, and the world it measures verifies (the bench refuses to report otherwise). Never a
timing: the figures belong to docs/snapshot.md."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from aeo.bench import snapshot
from aeo.bench.common import BenchError
from aeo.cli import app

# Slow, so not in `make test-fast` (`make test` runs it): benchmarks.
pytestmark = pytest.mark.slow

FIGURES = (
    "snapshot_bytes",
    "delta_1000_bytes",
    "sync_1mbit_s",
    "offline_verify_per_s",
    "cache_bytes",
    "build_s",
    "build_peak_rss_mb",
    "offline_pipeline_verify_per_s",
    "delta_sync_1mbit_s",
)


def test_bench_snapshot_reports_every_figure_of_issue_15() -> None:
    report = snapshot.run(
        administrations=5, certificates=4000, link_bits_per_s=50_000_000, seconds=0.2
    )
    for key in FIGURES:
        assert isinstance(report[key], int | float), key
        assert not isinstance(report[key], bool), key
        assert report[key] > 0, key
    assert report["certificates"] == 4000
    assert report["delta_1000_bytes"] < report["snapshot_bytes"]
    # A thousand changes to 4,000 certificates: more than half a full snapshot's bytes.
    assert report["delta_rule_prefers_full"] is (
        report["delta_1000_bytes"] > report["snapshot_bytes"] / 2
    )
    assert 0 < report["false_positive_rate"] < report["membership_false_positive_rate"]


def test_bench_snapshot_refuses_a_consortium_too_small_to_measure() -> None:
    with pytest.raises(BenchError, match="certificates at least"):
        snapshot.run(administrations=5, certificates=1999)


def test_the_command_prints_json_and_refuses_bad_sizes(cli: CliRunner) -> None:
    result = cli.invoke(app, ["bench", "snapshot", "--certificates", "10"])
    assert result.exit_code == 2
    assert "--certificates" in result.output
    result = cli.invoke(
        app,
        ["bench", "snapshot", "--json", "--administrations", "3", "--certificates", "2000",
         "--link-bits-per-s", "50000000"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["administrations"] == 3
