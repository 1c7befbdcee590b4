"""slither on the contracts, as `make slither` runs it: nothing beyond the triaged findings, and
every triaged finding still real and justified in docs/reliability.md.

Each test runs scripts/slither.sh once (12 to 25 s on two shared cores), hence the slow mark.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "slither.sh"
TRIAGE_DATABASE = ROOT / "slither.db.json"
RELIABILITY_DOC = ROOT / "docs" / "reliability.md"
SECTION = "## Static analysis (slither)"

pytestmark = pytest.mark.slow


def run_slither(output: Path, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    """Run the script with JSON output to `output`: exit code, findings, and the log."""
    completed = subprocess.run(
        [str(SCRIPT), "--json", str(output), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    log = completed.stdout + completed.stderr
    assert output.exists(), f"slither wrote no report:\n{log}"
    report = json.loads(output.read_text(encoding="utf-8"))
    assert report["success"], f"slither failed: {report['error']}\n{log}"
    return completed.returncode, report["results"].get("detectors", []), log


def triaged() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(TRIAGE_DATABASE.read_text(encoding="utf-8"))
    return entries


def first_line(finding: dict[str, Any]) -> str:
    return str(finding["description"]).splitlines()[0]


def test_slither_finds_nothing_that_is_not_triaged(tmp_path: Path) -> None:
    code, findings, log = run_slither(tmp_path / "slither.json")
    untriaged = [f"{f['check']}: {first_line(f)}" for f in findings]
    assert untriaged == [], (
        "slither findings not triaged: fix them, or justify them in docs/reliability.md and "
        "add them to slither.db.json (scripts/slither.sh --retriage re-keys moved ones)"
    )
    assert code == 0, log


def test_every_triaged_finding_still_occurs_and_is_justified_in_the_docs(tmp_path: Path) -> None:
    _, findings, _ = run_slither(tmp_path / "all.json", "--show-ignored-findings")
    entries = triaged()
    assert entries, "slither.db.json holds no triaged finding"
    current = {finding["id"] for finding in findings}
    stale = [first_line(entry) for entry in entries if entry["id"] not in current]
    assert stale == [], "triaged findings slither no longer reports (drop them from the db)"

    doc = RELIABILITY_DOC.read_text(encoding="utf-8")
    assert SECTION in doc
    section = doc.split(SECTION, 1)[1].split("\n## ", 1)[0]
    undocumented = []
    for entry in entries:
        # "Contract.function(args) (file#lines) ..." or "Contract.variable (file#line) ..."
        where = re.match(r"[A-Za-z_][\w.]*", entry["description"])
        assert where is not None, entry["description"]
        if f"`{entry['check']}`" not in section or f"`{where[0]}`" not in section:
            undocumented.append(f"{entry['check']}: {where[0]}")
    assert undocumented == []
