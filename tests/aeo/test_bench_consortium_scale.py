"""``aeo bench consortium-scale`` at a tiny size on a real anvil: every figure docs/scale.md
reports is there, and the figures relate as the chain says they must. Never a timing: the
times belong to docs/scale.md."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from aeo.bench import consortium_scale
from aeo.bench.common import BenchError
from aeo.cli import app

# Slow, so not in `make test-fast` (`make test` runs it): benchmarks.
pytestmark = pytest.mark.slow

POSITIVE = (
    "found_s",
    "found_gas",
    "deploy_gas",
    "issue_s",
    "issue_gas",
    "issue_gas_per_certificate",
    "history_bytes_per_1000_certificates",
    "year_history_mb_per_million",
    "year_gas_per_million",
    "recognition_recognized_gas_1_mras",
    "recognition_recognized_ms_1_mras",
    "recognition_no_mra_gas_1_mras",
    "backfill_events_per_s",
    "backfill_blocks_per_s",
    "snapshot_bytes",
    "sync_s",
    "cache_bytes",
)


def test_a_tiny_consortium_reports_every_figure_and_they_agree_with_the_chain() -> None:
    report = consortium_scale.run(
        members=4, mras=2, certificates=300, batch=100, link_bits_per_s=50_000_000
    )
    for key in POSITIVE:
        assert isinstance(report[key], int | float), key
        assert not isinstance(report[key], bool), key
        assert report[key] > 0, key
    # Two founders, two admitted by vote: a majority of two members and of three members
    # are both two approvals (the proposer's and one vote).
    assert report["membership_proposals"] == 2
    assert report["membership_votes"] == 2 + 2
    # 300 certificates over 4 members in batches of 100: one transaction (block) each.
    assert report["issue_blocks"] == 4
    assert report["issue_gas"] == pytest.approx(300 * report["issue_gas_per_certificate"], 0.01)
    # A fresh slot costs 22,100 gas: an issuance costs more, any later change less than one.
    assert report["issue_gas_per_certificate"] > 22_100
    assert all(20_000 < gas < 60_000 for gas in report["gas_per_change"].values())
    assert report["found_gas"] > report["deploy_gas"]
    # Both MRAs are the probe's (with the next two members): only the first recognition
    # point is reachable, and the fourth member, sharing no MRA with it, is the stranger.
    assert report["mras_of_probe"] == 2
    assert "recognition_recognized_gas_10_mras" not in report
    # Both walk the probe's one MRA: the recognized answer then reads the MRA's tiers too.
    assert report["recognition_no_mra_gas_1_mras"] < report["recognition_recognized_gas_1_mras"]
    # The whole history indexed: 300 issuances, 5 sample changes (amend, renew, suspend,
    # reinstate, revoke), and the members', keys' and MRAs' events.
    assert report["backfill_events"] > 300 + 5 + 2 * 2
    assert report["backfill_blocks"] >= report["issue_blocks"]
    assert report["history_bytes_per_1000_certificates"] == (
        report["log_bytes_per_1000_certificates"] + report["calldata_bytes_per_1000_certificates"]
    )
    assert report["year_changes_per_million"]["renew"] == 250_000
    assert report["cache_bytes"] > report["snapshot_bytes"] / 10


def test_the_bench_refuses_sizes_it_cannot_build() -> None:
    with pytest.raises(BenchError, match="--mras"):
        consortium_scale.run(members=3, mras=4, certificates=10)
    with pytest.raises(BenchError, match="--certificates"):
        consortium_scale.run(members=5, mras=1, certificates=4)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--members", "1"], "--members"),
        (["--members", "3", "--mras", "4"], "--mras"),
        (["--members", "5", "--mras", "1", "--certificates", "4"], "--certificates"),
        (["--batch", "501"], "--batch"),
    ],
)
def test_the_command_names_a_bad_argument_and_exits_2(
    cli: CliRunner, args: list[str], named: str
) -> None:
    result = cli.invoke(app, ["bench", "consortium-scale", "--json", *args])
    assert result.exit_code == 2, result.output
    assert named in result.output
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.stdout)
