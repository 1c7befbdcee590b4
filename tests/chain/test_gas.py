"""The gas report measures every operation from real receipts."""

from __future__ import annotations

import json

import pytest

from contracts.chain import Chain
from contracts.gas import REPORT_KEYS, gas_report, main

# Slow, so not in `make test-fast` (`make test` runs it): the gas report exercises every
# operation.
pytestmark = pytest.mark.slow


def test_the_gas_report_has_every_key_with_a_positive_figure(memory_chain: Chain) -> None:
    report = gas_report(memory_chain)
    assert tuple(report) == REPORT_KEYS
    for key, value in report.items():
        assert isinstance(value, int), key
        assert value > 0, key
    # Every transaction pays the 21,000 intrinsic gas; the marginal batch figure does not.
    assert all(report[k] > 21_000 for k in REPORT_KEYS if k != "issue_batch_marginal")
    assert report["issue_batch_marginal"] < report["issue"]


def test_the_command_prints_the_report_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--chain", "memory"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == set(REPORT_KEYS)
