"""Fault 2: the chain node crashes (``kill -9`` anvil) under a stream of writes to a real
registry process and stays down for 30 seconds; and a node that comes back from an older
state, having lost the last writes.

In-process counterparts: tests/registry_api/test_certificates_anvil.py
(``test_a_crashed_node_delays_writes_and_loses_none``: the app in the test process, two
writes, anvil killed and restarted at once) and tests/registry_api/test_outbox_sender.py
(``test_writes_are_accepted_while_the_chain_is_down_and_applied_when_it_is_back``,
``test_when_the_chain_loses_its_last_blocks_the_stored_transaction_is_sent_again``).
"""

from __future__ import annotations

import shutil
import time
import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from registry_api.db import FeedEntry

from .world import (
    Registry,
    World,
    Writers,
    all_confirmed,
    assert_each_accepted_write_applied_once,
    confirmed,
    eventually,
    index_differences,
    record_body,
    report,
)

pytestmark = pytest.mark.anvil

OUTAGE_SECONDS = 30.0


def readiness(registry: Registry) -> tuple[int, dict[str, Any]]:
    answer = httpx.get(registry.url + "/readyz", timeout=20.0)
    return answer.status_code, answer.json()


def not_ready(registry: Registry) -> dict[str, Any] | None:
    """The 503 problem /readyz answers, or None while it answers 200."""
    status, body = readiness(registry)
    return body if status == 503 else None


@pytest.mark.slow
def test_writes_during_a_30_second_node_outage_are_accepted_and_applied_once(
    world: World,
) -> None:
    mn = world.registry("MN")
    mn.start()
    with Writers(mn, mn.token()) as writers:
        eventually(lambda: confirmed(mn) >= 5, "writes confirmed before the crash")
        writers.phase = "outage"
        world.kill_node()
        down_at = time.monotonic()

        body = eventually(lambda: not_ready(mn), "readiness reports the outage")
        assert body["type"].endswith(":not-ready")
        assert body["checks"]["chain"]["ok"] is False
        assert body["checks"]["chain"]["detail"].startswith("the chain node does not answer")
        assert body["checks"]["sender"]["ok"] is False
        assert body["checks"]["database"]["ok"] is True
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
        during = len(writers.accepted("outage"))
        assert confirmed(mn) < len(writers.accepted())  # they wait in the outbox

        writers.phase = "after"
        world.start_node()
        back_at = time.monotonic()
        eventually(lambda: len(writers.accepted("after")) >= 5, "writes after the restart")
    accepted = writers.accepted()
    eventually(lambda: all_confirmed(mn, len(accepted)), "every accepted write confirmed")
    applied = time.monotonic() - back_at
    eventually(mn.caught_up, "the index reached the chain's head")
    eventually(lambda: readiness(mn)[0] == 200, "ready again")

    refused = [a for a in writers.answers if a.status != 202]
    for answer in refused:  # the only other answer allowed is a clear 503 problem
        assert answer.status == 503, answer
        assert answer.content_type == "application/problem+json"
        assert answer.body is not None
        assert answer.body["detail"]
    assert_each_accepted_write_applied_once(world, mn, accepted)
    report(
        "chain_outage",
        outage_s=OUTAGE_SECONDS,
        writes_accepted=len(accepted),
        accepted_while_down=during,
        refused_503=len(refused),
        node_restart_to_all_confirmed_s=round(applied, 1),
        resent_after_lost_blocks=mn.log_count("is no longer on the chain"),
        duplicates=0,
    )


def test_a_node_restarted_from_an_older_state_gets_the_lost_writes_again(world: World) -> None:
    mn = world.registry("MN")
    mn.start()
    officer = mn.token()
    kept = [f"MN-KEPT-{n}" for n in range(1, 6)]
    lost = [f"MN-LOST-{n}" for n in range(1, 6)]
    with mn.client(officer) as api:

        def write(path: str, body: dict[str, Any]) -> None:
            answer = api.post(path, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
            assert answer.status_code == 202, answer.text

        for number in kept:
            write("/v1/certificates", record_body(number))
        eventually(lambda: all_confirmed(mn, len(kept)), "the first writes confirmed")
        eventually(mn.caught_up, "the first writes indexed")
        world.stop_node()  # a clean stop writes the state file: the older copy
        older = world.state_file.with_name("state.older.json")
        shutil.copyfile(world.state_file, older)
        world.start_node()

        for number in lost:
            write("/v1/certificates", record_body(number))
        for number in kept[:2]:
            write(f"/v1/certificates/{number}/suspend", {"reason_code": 1})
        writes = len(kept) + len(lost) + 2
        eventually(lambda: all_confirmed(mn, writes), "the later writes confirmed")
        eventually(mn.caught_up, "the later writes indexed")
        hashes = {op.id: op.tx_hash for op in mn.operations()}

        world.kill_node()
        shutil.copyfile(older, world.state_file)  # the node comes back from the older state
        world.start_node()
        back_at = time.monotonic()
        eventually(
            lambda: mn.log_count("is no longer on the chain") == len(lost) + 2,
            "the sender noticed every lost transaction",
        )
        eventually(lambda: all_confirmed(mn, writes), "the lost writes confirmed again")
        eventually(lambda: mn.caught_up() and not index_differences(mn), "the index re-applied")
        recovered = time.monotonic() - back_at

        for number in kept[:2]:
            assert api.get(f"/v1/certificates/{number}").json()["status"] == "suspended"
    assert {op.id: op.tx_hash for op in mn.operations()} == hashes  # the stored bytes again
    with mn.session() as session:
        rewound = session.scalars(sa.select(FeedEntry).where(FeedEntry.kind == "chain.rewound"))
        markers = list(rewound)
    # A re-sent transaction mined in the same second as before lands in the very block the
    # index holds (same parent, transactions, timestamp: same hash), whose entries stay
    # true; the indexer rolls back from the first block that differs, if any. So 0 to 7
    # entries are retracted, by timing; the index must equal the chain either way
    # (checked above and below). See docs/reliability.md.
    assert len(markers) <= 1
    assert mn.log_count("rolling back to block") == len(markers)
    retracted = len(markers[0].payload["retracted"]) if markers else 0
    assert 0 <= retracted <= len(lost) + 2
    assert_each_accepted_write_applied_once(world, mn, kept + lost)
    report(
        "chain_lost_state",
        writes_lost_by_the_node=len(lost) + 2,
        resent_from_the_outbox=mn.log_count("is no longer on the chain"),
        feed_entries_retracted=retracted,
        node_restart_to_index_equal_s=round(recovered, 1),
        duplicates=0,
    )
