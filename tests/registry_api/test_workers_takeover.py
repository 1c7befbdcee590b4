"""Separate processes on PostgreSQL and a real anvil: one HTTP-only ``aeo serve`` and two
``aeo worker`` processes of MN. The first worker leads every job; an import of 1,000
certificates runs; the leader gets ``kill -9``; the other worker takes every job over within
seconds, and each certificate is on the chain, in the outbox and in the index exactly once.

The data directory is the fault tests' founded consortium (tests/faults/world.py); MN's
settings come from its ``registry.env`` with the database moved to PostgreSQL.
"""

from __future__ import annotations

import contextlib
import math
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from aeo.services import Child, log_tail, start_child
from contracts.domain.events import CertificateIssued
from contracts.logs import fetch_events
from registry_api.db import Certificate, ImportJob, LocalStatus, OperationState
from tests.faults.world import (
    FAST_WORKERS,
    PROJECT_DIR,
    Registry,
    World,
    certificates_csv,
    eventually,
    found_template,
    index_differences,
    open_world,
    report,
)

from .conftest import new_database_url

pytestmark = [pytest.mark.postgresql_only, pytest.mark.anvil, pytest.mark.slow]

CERTIFICATES = 1000
BATCH = 25
NUMBERS = [f"MN-AEO-2024-{n:04d}" for n in range(1, CERTIFICATES + 1)]
JOBS = ("outbox-sender", "indexer", "imports", "webhooks")
#: what a process logs when it becomes a job's leader (registry_api.leadership)
LEADS = "this process now runs the job {}"
#: a bound for the takeover (a follower asks every second), not a timing assertion
TAKEOVER_BOUND = 20.0


@pytest.fixture(scope="module")
def founded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("founded") / "data"
    found_template(data_dir)
    return data_dir


@pytest.fixture
def world(founded: Path, tmp_path: Path) -> Iterator[World]:
    with open_world(founded, tmp_path / "data") as world:
        yield world


def leads(log: Path, job: str) -> bool:
    return log.is_file() and LEADS.format(job) in log.read_text(encoding="utf-8", errors="replace")


def start_worker(world: World, name: str, env: dict[str, str]) -> Child:
    return start_child(
        f"MN worker {name}",
        ["-m", "aeo.cli", "worker", "--authority", "MN", "--data-dir", str(world.data_dir)],
        url="",
        log=world.data_dir / "logs" / f"worker-{name}.log",
        env=env,
        unset_prefix="AEO_",
        cwd=PROJECT_DIR,
    )


def import_state(mn: Registry, job_id: str) -> str:
    with mn.session() as session:
        job = session.get(ImportJob, uuid.UUID(job_id))
        assert job is not None
        return job.state.value


def test_two_workers_on_postgresql_the_leader_killed_the_other_takes_over_and_nothing_is_lost(
    world: World, tmp_path: Path
) -> None:
    database_url = new_database_url(tmp_path)
    env = {
        **FAST_WORKERS,
        "AEO_DATABASE_URL": database_url,
        "AEO_IMPORT_BATCH_SIZE": str(BATCH),
    }
    mn = world.registry("MN", **env)
    mn.settings = mn.settings.model_copy(update={"database_url": database_url})
    first_nonce = world.operator_nonce("MN")
    workers: list[Child] = []
    try:
        # The HTTP process (no background work) migrates the database and answers.
        mn.child = start_child(
            "MN registry API",
            ["-m", "aeo.cli", "serve", "--authority", "MN", "--data-dir",
             str(world.data_dir), "--port", str(mn.port), "--no-background"],
            url=mn.url,
            log=mn.log,
            env=mn.env,
            unset_prefix="AEO_",
            cwd=PROJECT_DIR,
        )  # fmt: skip
        mn.child.wait_until_answering(timeout=60)
        first = start_worker(world, "a", mn.env)
        workers.append(first)
        for job in JOBS:
            eventually(lambda job=job: leads(first.log, job), f"worker a leads {job}")
        second = start_worker(world, "b", mn.env)
        workers.append(second)
        eventually(lambda: "background work of MN" in log_tail(second.log, 40), "worker b follows")

        officer = mn.token()
        upload = certificates_csv(NUMBERS)
        headers = {"Content-Type": "text/csv", "Idempotency-Key": f"import-{uuid.uuid4()}"}
        with mn.client(officer) as api:
            accepted = api.post("/v1/imports", content=upload, headers=headers)
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["id"]

        def some_confirmed() -> bool:
            states = [op.state for op in mn.operations()]
            return states.count(OperationState.CONFIRMED) >= 3

        eventually(some_confirmed, "the leader confirmed a few batches")
        first.popen.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        first.popen.wait(10)
        open_at_kill = [op for op in mn.operations() if op.state is not OperationState.CONFIRMED]
        state_at_kill = import_state(mn, job_id)
        assert state_at_kill != "completed", "the import ended before the kill: nothing to prove"

        takeover: dict[str, float] = {}
        for job in JOBS:
            eventually(
                lambda job=job: leads(second.log, job),
                f"worker b took over {job}",
                timeout=TAKEOVER_BOUND,
            )
            takeover[job] = round(time.monotonic() - killed_at, 2)
        eventually(lambda: import_state(mn, job_id) == "completed", "the import completed")
        eventually(mn.caught_up, "the index reached the chain's head")

        with mn.client(officer) as api:
            job = api.get(f"/v1/imports/{job_id}").json()
        assert job["counts"]["confirmed"] == CERTIFICATES
        assert job["counts"]["failed"] == 0
        operations = mn.operations()
        assert [op.state for op in operations] == [OperationState.CONFIRMED] * len(operations)
        assert len(operations) == math.ceil(CERTIFICATES / BATCH)  # one per batch, none twice
        nonces = sorted(op.nonce for op in operations if op.nonce is not None)
        assert nonces == list(range(first_nonce, first_nonce + len(operations)))
        assert world.operator_nonce("MN") == first_nonce + len(operations)  # no extra tx

        issued = [
            event.number
            for event in fetch_events(world.chain, world.deployment)
            if isinstance(event, CertificateIssued) and event.number.startswith("MN-AEO-2024-")
        ]
        assert sorted(issued) == NUMBERS  # each exactly once on the chain
        with mn.session() as session:
            rows = session.execute(sa.select(Certificate.number, Certificate.status)).all()
        assert sorted(rows) == [(number, LocalStatus.ACTIVE) for number in NUMBERS]
        assert index_differences(mn) == []
        for child in workers:
            text = child.log.read_text(encoding="utf-8", errors="replace")
            assert "failed a pass" not in text, log_tail(child.log, 40)
        with mn.client(officer) as api:  # the HTTP-only process serves what the workers did
            assert api.get("/v1/certificates/MN-AEO-2024-0001").json()["status"] == "active"

        report(
            "worker_takeover",
            certificates=CERTIFICATES,
            operations=len(operations),
            open_operations_at_kill=len(open_at_kill),
            import_state_at_kill=state_at_kill,
            takeover_s=takeover,
            duplicates=len(issued) - CERTIFICATES,
        )
    finally:
        for child in workers:
            with contextlib.suppress(Exception):
                child.stop(10)
        if mn.child is not None:
            with contextlib.suppress(Exception):
                mn.child.stop(10)
