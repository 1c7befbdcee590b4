"""Fault 5: 50 issuing officers write at the same instant to one administration's registry
process, each request sent twice at once (a client retrying before its first answer): one
operation per request, every one confirmed, the operator account's nonces contiguous, and
nothing left stuck in the node's pool.

In-process counterpart: tests/registry_api/test_certificates_idempotency.py (concurrent
identical requests through the TestClient get one operation).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from .world import (
    World,
    all_confirmed,
    eventually,
    index_differences,
    record_body,
    report,
)

pytestmark = pytest.mark.anvil

WRITERS = 50


def test_fifty_concurrent_writers_get_fifty_confirmed_operations_with_contiguous_nonces(
    world: World,
) -> None:
    mn = world.registry("MN")
    mn.start()
    tokens = [mn.token() for _ in range(WRITERS)]
    first_nonce = world.operator_nonce("MN")
    released: list[float] = []
    barrier = threading.Barrier(2 * WRITERS, action=lambda: released.append(time.monotonic()))

    def write(writer: int) -> tuple[int, dict[str, Any]]:
        number = f"MN-CONC-{writer % WRITERS:03d}"
        key = f"conc-{writer % WRITERS}"
        with mn.client(tokens[writer % WRITERS], timeout=60.0) as api:
            barrier.wait(30)
            answer = api.post(
                "/v1/certificates", json=record_body(number), headers={"Idempotency-Key": key}
            )
        return answer.status_code, answer.json()

    with ThreadPoolExecutor(2 * WRITERS) as pool:
        answers = list(pool.map(write, range(2 * WRITERS)))
    [started] = released
    answered = time.monotonic() - started
    assert [status for status, _ in answers] == [202] * (2 * WRITERS), answers
    operation_ids = [body["id"] for _, body in answers]
    for writer in range(WRITERS):  # each twin got its first request's operation
        assert operation_ids[writer] == operation_ids[writer + WRITERS]
    assert len(set(operation_ids)) == WRITERS

    eventually(lambda: all_confirmed(mn, WRITERS), "every operation confirmed")
    confirmed = time.monotonic() - started
    eventually(mn.caught_up, "every write indexed")

    nonces = sorted(op.nonce for op in mn.operations() if op.nonce is not None)
    assert nonces == list(range(first_nonce, first_nonce + WRITERS))
    assert world.operator_nonce("MN") == world.operator_nonce("MN", "pending") == nonces[-1] + 1
    pool_status = world.anvil_call("txpool_status")
    assert (int(pool_status["pending"], 16), int(pool_status["queued"], 16)) == (0, 0)
    issued = world.issued_counts()
    numbers = [f"MN-CONC-{n:03d}" for n in range(WRITERS)]
    assert {n: issued.get(n, 0) for n in numbers} == dict.fromkeys(numbers, 1)
    assert index_differences(mn) == []
    assert mn.worker_failures() == []
    report(
        "concurrency",
        writers=WRITERS,
        requests=2 * WRITERS,
        operations=len(set(operation_ids)),
        all_answered_s=round(answered, 1),
        all_confirmed_s=round(confirmed, 1),
        nonce_gaps=0,
        duplicates=sum(issued.get(n, 0) for n in numbers) - WRITERS,
    )
