"""Fault 3: the indexer of a real registry process killed in the middle of a backfill,
handed every event a second time, and facing a chain that rewinds (anvil's evm_snapshot /
evm_revert) while its own writes are in it. Each ends with the index equal to the chain:
the same events, and every certificate's status, version and record digest as
``getCertificate`` answers.

In-process counterparts: tests/registry_api/test_indexer.py
(``test_events_delivered_twice_are_stored_once``,
``test_an_indexer_restarted_mid_backfill_ends_where_one_pass_would``,
``test_a_chain_rewind_rolls_the_index_back_and_retracts_feed_entries``, on the memory chain
with the indexer called by hand).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from registry_api.db import CertificateEvent, FeedEntry, IndexerCursor, OperationState

from .world import Registry, World, eventually, index_differences, record_body, report

pytestmark = pytest.mark.anvil

#: empty blocks between writes: the history spans several of the indexer's 1,000-block pages
GAP = 1500


def write(api: httpx.Client, path: str, body: dict[str, Any]) -> str:
    answer = api.post(path, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert answer.status_code == 202, answer.text
    operation_id: str = answer.json()["id"]
    return operation_id


def settled(registry: Registry) -> bool:
    operations = registry.operations()
    return all(op.state is OperationState.CONFIRMED for op in operations) and registry.caught_up()


def feed(registry: Registry) -> list[tuple[int, str, str]]:
    with registry.session() as session:
        return [
            (entry.sequence, entry.kind, str(entry.payload.get("chain")))
            for entry in session.scalars(sa.select(FeedEntry).order_by(FeedEntry.sequence))
        ]


def event_count(registry: Registry) -> int:
    with registry.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(CertificateEvent)) or 0


def amended(number: str) -> dict[str, Any]:
    body = record_body(number)
    body.pop("number")
    body["holder"]["legal_name"] = f"Renamed holder of {number}"
    return body | {"reason_code": 32}


@pytest.mark.slow
def test_an_indexer_killed_mid_backfill_and_fed_every_event_twice_ends_equal_to_the_chain(
    world: World,
) -> None:
    mn = world.registry("MN")
    mn.start()
    numbers = [f"MN-IDX-{n:03d}" for n in range(1, 31)]
    with mn.client(mn.token()) as api:
        for number in numbers[:20]:
            write(api, "/v1/certificates", record_body(number))
        eventually(lambda: settled(mn), "the first certificates indexed")
        world.anvil_call("anvil_mine", hex(GAP))
        for number in numbers[:6]:
            write(api, f"/v1/certificates/{number}/suspend", {"reason_code": 1})
        eventually(lambda: settled(mn), "the suspensions indexed")
        world.anvil_call("anvil_mine", hex(GAP))
        for number in numbers[:2]:
            write(api, f"/v1/certificates/{number}/revoke", {"reason_code": 5})
        write(api, f"/v1/certificates/{numbers[10]}/amend", amended(numbers[10]))
        eventually(lambda: settled(mn), "the revocations indexed")
        world.anvil_call("anvil_mine", hex(GAP))
        for number in numbers[20:]:
            write(api, "/v1/certificates", record_body(number))
        eventually(lambda: settled(mn), "the history indexed")
    head = world.chain.block_number()
    start = world.deployment.start_block

    # KR, a partner, starts afresh: its indexer backfills the whole history, page by page,
    # and is killed after its second page.
    kr = world.registry("KR")
    kr.start(crash_at="after_index_page:2")
    kr.wait_crashed()
    halfway = kr.cursor()
    assert start < halfway < head
    assert 0 < event_count(kr) < event_count(mn)
    restarted = time.monotonic()
    kr.start()
    eventually(kr.caught_up, "KR's backfill finished")
    backfill = time.monotonic() - restarted
    assert index_differences(kr) == []

    # Every event again: MN's cursor goes back to before the deployment, as a restored
    # backup of the cursor alone would leave it.
    events, entries = event_count(mn), feed(mn)
    mn.kill()
    with mn.session() as session:
        cursor = session.get(IndexerCursor, "registry")
        assert cursor is not None
        cursor.block_number, cursor.block_hash = start - 1, None
        session.commit()
    mn.start()
    eventually(mn.caught_up, "MN read the whole chain again")
    assert event_count(mn) == events
    assert feed(mn) == entries
    assert index_differences(mn) == []
    for registry in (mn, kr):
        assert registry.worker_failures() == []
    report(
        "indexer_backfill",
        blocks=head - start + 1,
        certificate_events=events,
        killed_at_block=halfway,
        restart_to_caught_up_s=round(backfill, 1),
        redelivered_events=events,
        duplicates=event_count(mn) - events,
    )


def test_a_chain_rewind_under_the_indexers_ends_with_the_index_equal_to_the_chain(
    world: World,
) -> None:
    mn, kr = world.registry("MN"), world.registry("KR")
    mn.start()
    kr.start()
    kept = [f"MN-RW-KEPT-{n}" for n in range(1, 6)]
    lost = [f"MN-RW-LOST-{n}" for n in range(1, 6)]
    with mn.client(mn.token()) as api:
        for number in kept:
            write(api, "/v1/certificates", record_body(number))
        eventually(lambda: settled(mn) and kr.caught_up(), "the first certificates indexed")
        snapshot = world.anvil_call("evm_snapshot")

        for number in lost:
            write(api, "/v1/certificates", record_body(number))
        write(api, f"/v1/certificates/{kept[0]}/suspend", {"reason_code": 1})
        write(api, f"/v1/certificates/{kept[1]}/amend", amended(kept[1]))
        eventually(lambda: settled(mn) and kr.caught_up(), "the later writes indexed")
        before = {op.id: op.tx_hash for op in mn.operations()}

        assert world.anvil_call("evm_revert", snapshot) is True
        world.anvil_call("anvil_mine", "0x2")  # the chain goes on without those blocks
        reverted = time.monotonic()
        eventually(lambda: mn.log_count("rolling back to block") >= 1, "MN noticed the rewind")
        eventually(lambda: kr.log_count("rolling back to block") >= 1, "KR noticed the rewind")
        eventually(
            lambda: settled(mn) and kr.caught_up() and not index_differences(mn),
            "MN's outbox re-applied its lost writes",
        )
        recovered = time.monotonic() - reverted
        assert api.get(f"/v1/certificates/{kept[0]}").json()["status"] == "suspended"
        renamed = api.get(f"/v1/certificates/{kept[1]}").json()
        assert (renamed["version"], renamed["proof"]["matches"]) == (2, True)
        assert renamed["record"]["holder"]["legal_name"] == f"Renamed holder of {kept[1]}"

    assert {op.id: op.tx_hash for op in mn.operations()} == before  # sent again, not re-signed
    issued = world.issued_counts()
    assert {n: issued.get(n, 0) for n in kept + lost} == dict.fromkeys(kept + lost, 1)
    assert index_differences(mn) == []
    assert index_differences(kr) == []
    with mn.session() as session:
        markers = list(
            session.scalars(sa.select(FeedEntry).where(FeedEntry.kind == "chain.rewound"))
        )
    assert len(markers) == 1
    for registry in (mn, kr):
        assert registry.worker_failures() == []
    report(
        "indexer_rewind",
        writes_rewound=len(lost) + 2,
        resent_from_the_outbox=mn.log_count("is no longer on the chain"),
        feed_entries_retracted=len(markers[0].payload["retracted"]),
        revert_to_index_equal_s=round(recovered, 1),
        duplicates=sum(issued.values()) - len(kept + lost),
    )
