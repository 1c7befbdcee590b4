"""Fault 1: a 1,000-certificate import through the API of a real registry process on a real
anvil, the process killed with SIGKILL at every step an operation goes through; after the
last restart each certificate is on the chain and in the database exactly once.

In-process counterparts: tests/registry_api/test_outbox_sender.py
(``test_a_sender_killed_at_any_step_leaves_exactly_one_transaction``, one operation, the
sender raising at each fail point) and tests/registry_api/test_imports_api.py (an import
re-run issues nothing twice).
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from registry_api.db import Certificate, ImportJob, LocalStatus, Operation, OperationState
from registry_api.services.imports import DEFAULT_CHUNK_SIZE

from .world import Registry, World, certificates_csv, eventually, index_differences, report

pytestmark = [pytest.mark.anvil, pytest.mark.slow]

CERTIFICATES = 1000
NUMBERS = [f"MN-AEO-2024-{n:04d}" for n in range(1, CERTIFICATES + 1)]


def import_state(mn: Registry, job_id: str) -> str:
    with mn.session() as session:
        job = session.get(ImportJob, uuid.UUID(job_id))
        assert job is not None
        return job.state.value


# What the database and the chain show right after a crash at each step: each proves the
# process died exactly there.


def died_before_signing(mn: Registry) -> str:
    operations = mn.operations()
    signed = [op for op in operations if op.nonce is not None]
    assert all(mn.world.receipt(op.tx_hash) for op in signed)
    assert not [op for op in operations if op.state is OperationState.SIGNED]
    waiting = [op for op in operations if op.state is OperationState.PENDING]
    assert waiting, "an operation was about to be signed"
    return f"{len(waiting)} operations accepted, not signed"


def died_between_signing_and_broadcast(mn: Registry) -> str:
    [stored] = [op for op in mn.operations() if op.state is OperationState.SIGNED]
    assert stored.tx_hash is not None
    assert not mn.world.knows(stored.tx_hash)
    assert mn.world.operator_nonce("MN", "pending") == stored.nonce
    return f"operation nonce {stored.nonce} signed and stored, the chain never saw it"


def died_after_broadcast(mn: Registry) -> str:
    [stored] = [op for op in mn.operations() if op.state is OperationState.SIGNED]
    # The node has it: mined at once by an automining anvil, at the next block on interval
    # blocks (make test-interval), with the process that sent it already dead.
    receipt = eventually(lambda: mn.world.receipt(stored.tx_hash), "the broadcast mined")
    assert receipt["status"] == 1
    return f"operation nonce {stored.nonce} mined, still recorded as signed"


def died_before_the_receipt(mn: Registry) -> str:
    submitted = [op for op in mn.operations() if op.state is OperationState.SUBMITTED]
    mined = [op for op in submitted if mn.world.receipt(op.tx_hash)]
    assert mined, "a mined transaction whose receipt is not recorded"
    return f"{len(mined)} operations mined, recorded as submitted"


CRASHES: list[tuple[str, Callable[[Registry], str]]] = [
    ("before_sign:1", died_before_signing),
    ("after_sign:2", died_between_signing_and_broadcast),
    ("after_broadcast:2", died_after_broadcast),
    ("before_receipt:1", died_before_the_receipt),
]


def test_an_import_killed_at_every_step_holds_each_certificate_exactly_once(
    world: World,
) -> None:
    mn = world.registry("MN")
    first_nonce = world.operator_nonce("MN")
    mn.start()
    officer = mn.token()
    key = f"import-{uuid.uuid4()}"
    upload = certificates_csv(NUMBERS)
    headers = {"Content-Type": "text/csv", "Idempotency-Key": key}
    with mn.client(officer) as api:
        accepted = api.post("/v1/imports", content=upload, headers=headers)
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["id"]
    started = time.monotonic()

    # A kill -9 from outside at once: the job may be queued, validating or issuing.
    mn.kill()
    crashes = [f"outside kill -9 with the job {import_state(mn, job_id)}"]
    resent = 0
    for hook, check in CRASHES:
        mn.start(crash_at=hook)
        if hook == "before_sign:1":
            # The client never saw an answer it trusts and sends the file again: same job.
            with mn.client(officer) as api:
                again = api.post("/v1/imports", content=upload, headers=headers)
            assert (again.status_code, again.json()["id"]) == (202, job_id)
        mn.wait_crashed()
        crashes.append(f"{hook}: {check(mn)}")
        # Stored bytes the chain never saw: the next process must broadcast them.
        resent += sum(
            1
            for op in mn.operations()
            if op.state is OperationState.SIGNED and op.tx_hash and not world.knows(op.tx_hash)
        )

    restarted = time.monotonic()
    mn.start()
    eventually(lambda: import_state(mn, job_id) == "completed", "the import completed")
    eventually(mn.caught_up, "the index reached the chain's head")
    recovered = time.monotonic() - restarted

    with mn.client(officer) as api:
        job = api.get(f"/v1/imports/{job_id}").json()
    assert job["counts"] | {"total": CERTIFICATES} == {
        "total": CERTIFICATES,
        "valid": CERTIFICATES,
        "invalid": 0,
        "skipped": 0,
        "queued": 0,
        "confirmed": CERTIFICATES,
        "failed": 0,
    }
    operations = mn.operations()
    assert [op.state for op in operations] == [OperationState.CONFIRMED] * len(operations)
    assert len(operations) == math.ceil(CERTIFICATES / DEFAULT_CHUNK_SIZE)  # one per batch
    nonces = sorted(op.nonce for op in operations if op.nonce is not None)
    assert nonces == list(range(first_nonce, first_nonce + len(operations)))
    assert world.operator_nonce("MN") == world.operator_nonce("MN", "pending") == nonces[-1] + 1

    issued = world.issued_counts()
    assert {number: issued.get(number, 0) for number in NUMBERS} == dict.fromkeys(NUMBERS, 1)
    with mn.session() as session:
        rows = session.execute(sa.select(Certificate.number, Certificate.status)).all()
        hashes = set(session.scalars(sa.select(Operation.tx_hash)))
    assert sorted(rows) == [(number, LocalStatus.ACTIVE) for number in NUMBERS]
    receipts = [world.receipt(tx_hash) for tx_hash in hashes]
    assert all(receipt is not None and receipt["status"] == 1 for receipt in receipts)
    assert index_differences(mn) == []
    assert mn.worker_failures() == []

    report(
        "import_crash",
        certificates=CERTIFICATES,
        operations=len(operations),
        process_starts=mn.starts,
        crashes=crashes,
        stored_transactions_resent=resent,
        last_restart_to_done_s=round(recovered, 1),
        total_s=round(time.monotonic() - started, 1),
        duplicates=sum(issued.values()) - CERTIFICATES,
    )
