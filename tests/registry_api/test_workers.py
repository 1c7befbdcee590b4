"""registry_api/workers/: the app's background jobs, on or off (AEO_RUN_WORKERS), each in one
loop; an HTTP-only process answers reads and accepts writes without sending them; a second
process doing background work on a SQLite database does not start."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from registry_api.app import create_app
from registry_api.db import Operation, OperationState, Role
from registry_api.errors import ConfigurationError
from registry_api.workers import run_background

from .certificate_data import issue
from .conftest import ChainAppFactory
from .support import make_settings

PROJECT_DIR = Path(__file__).resolve().parents[2]
JOBS = ["outbox-sender", "indexer", "snapshots", "imports", "webhooks"]
#: a bound for threads to start and passes to happen on two shared cores, not a timing
DEADLINE = 30.0


def running_jobs() -> set[str]:
    return {thread.name for thread in threading.enumerate() if thread.name in JOBS}


def eventually(check: object, what: str) -> None:
    assert callable(check)
    deadline = time.monotonic() + DEADLINE
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {DEADLINE:g} s: {what}")
        time.sleep(0.05)


def test_an_http_only_process_runs_no_job_answers_reads_and_keeps_writes_for_the_workers(
    chain_app: ChainAppFactory,
) -> None:
    mn = chain_app("MN", run_workers=False)
    assert mn.workers.jobs == JOBS
    assert not mn.workers.running
    assert running_jobs() == set()
    officer = mn.headers(Role.ISSUING_OFFICER)

    accepted = issue(mn, officer, "MN-HTTP-ONLY-1")
    assert mn.client.get("/v1/certificates", headers=officer).status_code == 200
    assert mn.client.get("/readyz").status_code == 200
    time.sleep(0.3)  # several sender intervals (0.05 s) in which nothing may send it
    with mn.session() as session:
        operation = session.get(Operation, uuid.UUID(accepted["id"]))
        assert operation is not None
        assert operation.state is OperationState.PENDING

    mn.settle()  # what an aeo worker would do
    with mn.session() as session:
        operation = session.get(Operation, uuid.UUID(accepted["id"]))
        assert operation is not None
        assert operation.state is OperationState.CONFIRMED


def test_with_background_on_every_job_runs_in_its_own_loop(chain_app: ChainAppFactory) -> None:
    mn = chain_app("MN", run_workers=True)
    assert mn.workers.running
    assert running_jobs() == set(JOBS)
    officer = mn.headers(Role.ISSUING_OFFICER)
    accepted = issue(mn, officer, "MN-BACKGROUND-1")

    def confirmed() -> bool:
        with mn.session() as session:
            operation = session.get(Operation, uuid.UUID(accepted["id"]))
            return operation is not None and operation.state is OperationState.CONFIRMED

    eventually(confirmed, "the background sender confirmed the issuance")


def test_adding_a_job_after_the_start_is_refused(chain_app: ChainAppFactory) -> None:
    mn = chain_app("MN", run_workers=True)
    with pytest.raises(RuntimeError, match="added after the workers started"):
        mn.workers.add_job("late", lambda: 0, 1.0)


def test_a_second_background_process_on_a_sqlite_database_does_not_start_and_says_why(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys
            from registry_api.leadership import hold_sqlite_background
            hold_sqlite_background({url!r})
            print("held", flush=True)
            sys.stdin.read()
        """)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT_DIR,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        settings = make_settings(tmp_path, url, run_workers=True)

        with pytest.raises(ConfigurationError, match="another process already runs"):
            run_background(settings, stop=threading.Event())

        http_only = create_app(settings.model_copy(update={"run_workers": False}))
        with TestClient(http_only) as client:  # HTTP-only processes may share the file
            assert client.get("/healthz").status_code == 200
    finally:
        holder.kill()
        holder.communicate(timeout=10)  # also closes its pipes
