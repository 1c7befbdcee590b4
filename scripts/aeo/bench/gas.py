"""``aeo bench gas``: the gas of every contract operation, from receipts on a fresh chain
(``contracts.gas.gas_report``), with the bare-hash baseline deployed in the same run."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

from aeo.bench.common import Report, ratio
from contracts.chain import ChainSettings, connect
from contracts.gas import REPORT_KEYS, TARGETS, gas_report


def run(*, chain: Literal["memory", "anvil"] = "memory") -> Report:
    with (
        tempfile.TemporaryDirectory(prefix="aeo-bench-gas-") as tmp,
        connect(ChainSettings(kind=chain, data_dir=Path(tmp))) as connected,
    ):
        gas = gas_report(connected)
    report: Report = {key: gas[key] for key in REPORT_KEYS}
    report["chain"] = chain
    report["issue_over_baseline"] = ratio(gas["issue"], gas["baseline_hash_registry_issue"], 2)
    report["revoke_over_baseline"] = ratio(gas["revoke"], gas["baseline_hash_registry_revoke"], 2)
    report["targets"] = dict(TARGETS)
    return report
