"""``aeo bench all``: every benchmark at its default size, one after the other, and
docs/benchmarks.md (a table per benchmark, the machine, date and commit, the targets of
issue 6) with docs/img/status-latency.png (status-lookup latency against load)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from aeo.bench import api, bulk_import, gas, propagation, scale, verify
from aeo.bench.common import PROJECT_DIR, Report, machine_info

CURVE = (1, 10, 50, 100)
#: numbers of HTTP processes the API is measured with (issue 16)
WORKERS = (1, 2, 4)
#: the plot, relative to the Markdown file (docs/img/status-latency.png for docs/benchmarks.md)
PLOT = Path("img/status-latency.png")


@dataclass(frozen=True)
class Target:
    key: str
    text: str
    met: Callable[[Any], bool]


TARGETS: dict[str, tuple[Target, ...]] = {
    "gas": (
        Target("issue", "≤ 48,000", lambda v: v <= 48_000),
        Target("issue_batch_marginal", "≤ 23,000", lambda v: v <= 23_000),
        Target("suspend", "≤ 31,000", lambda v: v <= 31_000),
        Target("reinstate", "≤ 31,000", lambda v: v <= 31_000),
        Target("revoke", "≤ 31,000", lambda v: v <= 31_000),
    ),
    "api": (
        Target("ratio", "≥ 0.5", lambda v: v >= 0.5),
        Target("status_p99_ms", "≤ 20 ms at 100 concurrent", lambda v: v <= 20),
        Target("errors", "= 0", lambda v: v == 0),
    ),
    "verify": (
        Target("offline_verify_per_s", "≥ 5,000 / s", lambda v: v >= 5000),
        Target("image_verdict_median_ms", "≤ 40 ms", lambda v: v <= 40),
        Target("qr_version", "≤ 10 (at ECC M)", lambda v: v <= 10),
    ),
    "import": (
        Target("seconds", "≤ 30 s for 10,000", lambda v: v <= 30),
        Target("confirmed", "= count", lambda v: True),
    ),
    "propagation": (Target("p99_s", "≤ 2 s with 1-second blocks", lambda v: v <= 2),),
    "scale": (Target("ratio", "≤ 1.2 (1M / 10k p99)", lambda v: v <= 1.2),),
}

TITLES = {
    "gas": "Gas per operation (`aeo bench gas`)",
    "api": "Registry API under load (`aeo bench api --concurrency 100 --seconds 20`)",
    "verify": "Verification speed and QR size (`aeo bench verify`)",
    "import": "Bulk import on anvil (`aeo bench import --count 10000`)",
    "propagation": "Propagation to a partner (`aeo bench propagation --samples 50`)",
    "scale": "Lookups at 10k and 1M certificates (`aeo bench scale --certificates 1000000`)",
}


#: What each benchmark measures and what stands in the way of a missed target. Kept free
#: of figures (they are in the tables) so that it stays true from run to run.
NOTES = """\
## How to read these figures, and what stands in the way

- **Gas** comes from receipts on the in-process chain (Paris rules, which charge exactly
  London's gas, the EVM the contracts are compiled for). The baseline is a bare
  OpenAttestation-style hash registry with a role check, deployed in the same run
  (`issue_over_baseline`, `revoke_over_baseline`): a status change can cost less than the
  baseline's revocation because it rewrites a field of the certificate's packed slot
  instead of filling a new one. Where the issue, batch and status-change targets are
  missed, the cost is in the contracts (issue 2): the packed slot, the event with every
  field a partner needs, the authority and reason-code checks.
- **API.** `ratio` compares the status lookup with `GET /bench/bare`, an `async` endpoint
  answering constant JSON through the same app, middleware (request id, metrics, the JSON
  access log) and uvicorn process; `bare_sync_rps` is the same endpoint as a plain `def`,
  run in the thread pool. The status lookup authenticates the key (checked in the
  database, then remembered for 5 s), reads the certificate, its latest indexed event and
  whether operations wait in one query (on the event loop with SQLite, in the thread pool
  with PostgreSQL), takes the record's proof from a cache keyed by the record's own
  values, and validates and serializes the answer: more work than the bare
  endpoint, in one Python process. Under a closed loop of 100 connections latency is
  concurrency divided by throughput (Little's law), so a 20 ms p99 at 100 connections
  needs about 5,000 lookups a second, which one Python worker on two shared cores does
  not reach; the plot shows the latency at 1 connection, where the lookup itself is
  measured. The load generator (wrk) runs on the same two cores as the server.
- **Offline verification** is counted per CPU-second of the verifying thread (one core),
  cycling through different certificates so that nothing per payload is cached. The P-256
  signature check itself (OpenSSL through `cryptography`) takes well under 100 µs of it on
  this machine (`signature_verify_per_s` is the bare check, measured in the same run;
  `offline_verify_signature_ratio` its share); the rest is Python: five decoding layers
  (AEO1's own COSE and claims shapes read byte by byte, anything else through cbor2),
  claim validation, two Keccak hashes, the cache's read and the verdict with every stage.
  5,000 a second leaves 200 µs for all of it.
- **Import** counts from the upload to the last certificate confirmed on-chain *and*
  indexed back, at the service's batch size (`chunk`, `AEO_IMPORT_BATCH_SIZE`). Its time
  goes to three worker threads of one Python process: the import runner (validating every
  row, building the rows and their hashes, one multi-row insert per batch), the indexer
  (one transaction per page, a few queries per page, multi-row inserts of events and feed
  entries) and the outbox sender; anvil mines each batch at once, so the chain is not the
  bottleneck.
- **Propagation** is measured from the moment MN's API is asked to suspend (or
  reinstate) until KR sees it both in its verifier reading the chain and in the event
  feed KR reads with its partner key. The verifier sees the change as soon as the block is
  mined; the feed after MN's indexer has read that block (it looks at the chain head
  every `indexer_poll_s`).
- **Scale** fills the databases straight through the tables (the million-row database's
  hash columns hold stand-in bytes: a lookup never recomputes them) and measures the
  query a status request makes; indexes keep them flat from 10k to 1M rows. The indexer
  replay applies decoded events through `Indexer.apply_events`, exactly as after a fresh
  sync.
"""


def run_all(console: Console | None = None) -> dict[str, Report]:
    """Every benchmark with its default size; each report gets its own run time."""
    steps: list[tuple[str, Callable[[], Report]]] = [
        ("gas", gas.run),
        ("verify", lambda: verify.run(console=console)),
        ("api", lambda: api.run(curve=CURVE, workers=WORKERS, console=console)),
        ("import", lambda: bulk_import.run(console=console)),
        ("propagation", lambda: propagation.run(console=console)),
        ("scale", lambda: scale.run(console=console)),
    ]
    reports: dict[str, Report] = {}
    for name, step in steps:
        if console is not None:
            console.print(f"[bold]bench {name}[/bold]")
        started = time.perf_counter()
        report = step()
        report["run_seconds"] = round(time.perf_counter() - started, 1)
        report["load_average_after"] = machine_info()["load_average"]
        reports[name] = report
    return reports


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.1f}"
    return str(value)


def _table(name: str, report: Report) -> list[str]:
    targets = {t.key: t for t in TARGETS.get(name, ())}
    lines = ["| figure | value | target |", "| --- | ---: | --- |"]
    for key, value in report.items():
        if isinstance(value, dict | list) or key in {"run_seconds", "load_average_after"}:
            continue
        target = targets.get(key)
        mark = ""
        if target is not None:
            met = target.met(value) if key != "confirmed" else value == report.get("count")
            mark = f"{target.text} {'✓' if met else '✗ missed'}"
        lines.append(f"| `{key}` | {_format(value)} | {mark} |")
    lines.append("")
    lines.append(
        f"Run time {report.get('run_seconds')} s; load average after: "
        f"{report.get('load_average_after')}."
    )
    return lines


def _workers_table(report: Report) -> list[str]:
    """The API by number of HTTP processes, against issue 16's goals: status throughput at
    least 0.7 x bare, status p99 at most 2 x bare p99, and 1.6 x throughput from 1 to 2
    processes where the machine has the cores."""
    points = report.get("workers") or []
    if not points:
        return []
    lines = [
        f"By number of HTTP processes (`--workers`; {report.get('cores')} cores, shared with "
        "the load generator):",
        "",
        "| processes | bare rps | status rps | ratio (≥ 0.7) | bare p99 ms | status p99 ms "
        "(≤ 2 × bare) | status rps / 1 process |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    one = points[0]["status_rps"] or 1
    for point in points:
        ratio_mark = "✓" if point["ratio"] >= 0.7 else "✗"
        p99_mark = "✓" if point["status_p99_ms"] <= 2 * point["bare_p99_ms"] else "✗"
        lines.append(
            f"| {point['n']} | {_format(point['bare_rps'])} | {_format(point['status_rps'])} | "
            f"{_format(point['ratio'])} {ratio_mark} | {_format(point['bare_p99_ms'])} | "
            f"{_format(point['status_p99_ms'])} {p99_mark} | "
            f"{_format(round(point['status_rps'] / one, 2))} |"
        )
    return [*lines, ""]


def plot(api_report: Report, path: Path) -> None:
    """Status-lookup latency (p50, p99) and throughput against concurrency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = api_report.get("status_latency_by_concurrency") or []
    if not points:
        return
    concurrency = [p["concurrency"] for p in points]
    figure, latency = plt.subplots(figsize=(7, 4.2), dpi=120)
    latency.plot(concurrency, [p["p50_ms"] for p in points], "o-", label="p50 latency")
    latency.plot(concurrency, [p["p99_ms"] for p in points], "s-", label="p99 latency")
    latency.axhline(20, color="grey", linestyle=":", linewidth=1, label="p99 target (20 ms)")
    latency.set_xscale("log")
    latency.set_yscale("log")
    latency.set_xticks(concurrency, [str(c) for c in concurrency])
    latency.set_xlabel("concurrent connections")
    latency.set_ylabel("latency (ms)")
    throughput = latency.twinx()
    throughput.plot(
        concurrency, [p["rps"] for p in points], "^--", color="tab:green", label="requests/s"
    )
    throughput.set_ylabel("requests per second")
    throughput.set_ylim(bottom=0)
    handles = latency.get_legend_handles_labels()[0] + throughput.get_legend_handles_labels()[0]
    labels = latency.get_legend_handles_labels()[1] + throughput.get_legend_handles_labels()[1]
    latency.legend(handles, labels, loc="upper left", fontsize=8)
    latency.set_title("GET /v1/certificates/{number}: latency against load", fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)


def markdown(reports: dict[str, Report], machine: dict[str, Any], plot_link: Path | None) -> str:
    load = machine.get("load_average")
    changed = ", ".join(f"`{f}`" for f in machine.get("changed_files", [])) or "none"
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`aeo bench all --write docs/benchmarks.md`); every figure",
        "below was measured in one run on the commit named here. Benchmarks measure and print;",
        "they assert nothing. Issue 6 defines each command's JSON keys and the targets.",
        "",
        "| | |",
        "| --- | --- |",
        f"| commit | `{machine['commit']}` |",
        f"| date (UTC) | {machine['date']} |",
        f"| CPU | {machine['cpu_count']} × {machine['cpu_model']} |",
        f"| Python | {machine['python']} on {machine['platform']} |",
        f"| load average at start | {load} |",
        f"| files changed since the commit | {changed} |",
        "",
        "**A shared machine.** These two cores belong to a virtual machine that other work",
        "may share: each table gives the load average after it (above about 2, other work",
        "competed for the cores, and throughput falls while tail latencies grow). Ratios",
        "measured within one run (`ratio`, `issue_over_baseline`) are the figures to compare",
        "across machines. Tracked files that differed from the commit when the run started are",
        "listed above.",
        "",
    ]
    for name in ("gas", "api", "verify", "import", "propagation", "scale"):
        if name not in reports:
            continue
        lines += [f"## {TITLES[name]}", "", *_table(name, reports[name]), ""]
        if name == "api":
            lines += _workers_table(reports[name])
        if name == "api" and plot_link is not None:
            lines += [f"![Status-lookup latency against load]({plot_link.as_posix()})", ""]
    lines += [
        NOTES,
        "## Raw reports",
        "",
        "<details><summary>Every report as JSON</summary>",
        "",
        "```json",
        json.dumps({"machine": machine, **reports}, indent=2, ensure_ascii=False),
        "```",
        "",
        "</details>",
        "",
    ]
    return "\n".join(lines)


#: Hand-written sections of the generated page (measurements made apart, with other options)
#: sit between these markers; a new ``write`` carries them over before the raw reports.
KEPT_BEGIN = "<!-- kept by make bench: hand-written -->"
KEPT_END = "<!-- end of the hand-written part -->"


def kept_sections(text: str) -> str:
    """Every hand-written block of ``text``, markers included, in order."""
    blocks = []
    rest = text
    while KEPT_BEGIN in rest:
        start = rest.index(KEPT_BEGIN)
        end = rest.find(KEPT_END, start)
        if end < 0:
            raise ValueError(f"{KEPT_BEGIN!r} without its {KEPT_END!r}")
        blocks.append(rest[start : end + len(KEPT_END)])
        rest = rest[end + len(KEPT_END) :]
    return "\n\n".join(blocks)


def write(
    reports: dict[str, Report], machine: dict[str, Any], destination: Path, notes: str = ""
) -> Path:
    """Write ``destination`` from ``reports``, and its plot at ``PLOT`` beside it; the
    hand-written blocks of the page it replaces are kept (``KEPT_BEGIN``)."""
    destination = destination if destination.is_absolute() else PROJECT_DIR / destination
    plot_link = None
    if "api" in reports and reports["api"].get("status_latency_by_concurrency"):
        plot(reports["api"], destination.parent / PLOT)
        plot_link = PLOT
    text = markdown(reports, machine, plot_link)
    if destination.exists():
        kept = kept_sections(destination.read_text(encoding="utf-8"))
        if kept:
            notes = f"{notes.strip()}\n\n{kept}" if notes.strip() else kept
    if notes:
        text = text.replace("## Raw reports", f"{notes.strip()}\n\n## Raw reports", 1)
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_text(text, encoding="utf-8")
    return destination
