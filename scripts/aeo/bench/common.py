"""What every benchmark shares: the machine it ran on, percentiles, timing helpers, the
report envelope, progress bars and child processes.

A report is a flat ``dict`` of the benchmark's figures (the keys issue 6 fixes, plus any
others) with ``machine`` (:func:`machine_info`) added, so a figure never travels without
the machine, date and commit it was measured on.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from aeo.errors import ScriptError

PROJECT_DIR = Path(__file__).resolve().parents[3]

Report = dict[str, Any]


class BenchError(ScriptError):
    """A benchmark could not run (a child failed, a figure could not be measured)."""


# ---------------------------------------------------------------- the machine


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what platform knows."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def _git(directory: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=directory, capture_output=True, text=True, check=True, timeout=10
    ).stdout


def changed_files(directory: Path = PROJECT_DIR) -> list[str]:
    """Tracked files that differ from the checked-out commit (what ``-dirty`` means)."""
    try:
        status = _git(directory, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return []
    return [line[3:] for line in status.splitlines() if line.strip()]


def git_commit(directory: Path = PROJECT_DIR) -> str:
    """The checked-out commit, with ``-dirty`` when tracked files differ from it."""
    try:
        commit = _git(directory, "rev-parse", "HEAD").strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("-dirty" if changed_files(directory) else "")


def machine_info() -> dict[str, Any]:
    """Where and when a figure was measured. The load average is there because these
    machines are shared: a figure taken under load says so."""
    load: list[float] | None = None
    with contextlib.suppress(OSError, AttributeError):
        load = [round(x, 2) for x in os.getloadavg()]
    return {
        "cpu_count": os.cpu_count() or 1,
        "cpu_model": cpu_model(),
        "load_average": load,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": git_commit(),
        "changed_files": changed_files(),
    }


def with_machine(report: Report) -> Report:
    return {**report, "machine": machine_info()}


# ---------------------------------------------------------------- statistics


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0..100) by linear interpolation between closest ranks
    (numpy's default); 0.0 for no values."""
    if not values:
        return 0.0
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be 0..100, got {p}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ms(seconds: float, digits: int = 3) -> float:
    return round(seconds * 1000, digits)


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


def ratio(numerator: float, denominator: float, digits: int = 3) -> float:
    return round(numerator / denominator, digits) if denominator else 0.0


@dataclass(frozen=True)
class Timing:
    """Throughput of a repeated operation: wall-clock and the process's own CPU time. On a
    shared machine the CPU figure is the one that says what one core can do."""

    count: int
    wall_seconds: float
    cpu_seconds: float

    @property
    def per_second_wall(self) -> float:
        return rate(self.count, self.wall_seconds)

    @property
    def per_second_cpu(self) -> float:
        return rate(self.count, self.cpu_seconds)


def time_loop(step: Callable[[], object], *, min_seconds: float, min_count: int = 1) -> Timing:
    """Run ``step`` until both ``min_seconds`` and ``min_count`` are reached."""
    count = 0
    wall0, cpu0 = time.perf_counter(), time.thread_time()
    deadline = wall0 + min_seconds
    while count < min_count or time.perf_counter() < deadline:
        step()
        count += 1
    return Timing(count, time.perf_counter() - wall0, time.thread_time() - cpu0)


# ---------------------------------------------------------------- output


def progress(console: Console) -> Progress:
    """The progress bar every long benchmark step shows (on stderr, gone when done)."""
    return Progress(
        TextColumn("[bold]{task.description:<34}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


Step = Callable[[str, float | None], None]


@contextlib.contextmanager
def stepper(console: Console | None, description: str, total: float | None) -> Iterator[Step]:
    """A progress task driven by ``step(description, completed)``; silent without console."""
    if console is None:
        yield lambda _description, _completed: None
        return
    with progress(console) as bar:
        task = bar.add_task(description, total=total)

        def step(new_description: str, completed: float | None) -> None:
            bar.update(task, description=new_description, completed=completed)

        yield step


# ---------------------------------------------------------------- child processes


@dataclass
class ChildProcess:
    """A process a benchmark started (a server, a load generator); stopped by the bench."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            text = self.log.read_text(encoding="utf-8", errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return "(no log)"

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def start_python(
    name: str, args: Sequence[str], log: Path, env: dict[str, str] | None = None
) -> ChildProcess:
    """Start ``python args`` (this interpreter) from the project root, output to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AEO_")}
    environment.update(env or {})
    with log.open("ab") as handle:
        popen = subprocess.Popen(
            [sys.executable, *args],
            cwd=PROJECT_DIR,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=environment,
        )
    return ChildProcess(name, popen, log)


def wait_http(child: ChildProcess, url: str, timeout: float = 60.0) -> None:
    """Poll ``url`` until it answers 200; fail with the child's log if it dies or stalls."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        while True:
            if not child.alive():
                raise BenchError(
                    f"{child.name} exited with code {child.popen.returncode} while starting:\n"
                    + child.log_tail()
                )
            with contextlib.suppress(httpx.HTTPError):
                if client.get(url).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise BenchError(
                    f"{child.name} did not answer {url} within {timeout:g} s:\n" + child.log_tail()
                )
            time.sleep(0.1)
