"""The main paths on a chain that mines like a consortium network: anvil makes a block every
2 seconds (``AEO_TEST_ANVIL_BLOCK_TIME`` when set) and never per transaction, with gas price
and base fee 0, as a Besu or GoQuorum QBFT network does (docs/deployment.md). A real registry
process issues, suspends and imports through its API; its indexer catches up after a stop;
a partner's verifier reads the live chain. ``make test`` runs these; ``make test-interval``
runs every anvil test this way.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from contracts.domain import days
from contracts.domain.enums import Tier
from contracts.reader import RegistryReader
from contracts.writer import RegistryWriter
from verifier.chain_source import ChainStatusSource
from verifier.pipeline import verify
from verifier.verdict import Outcome

from .world import (
    World,
    all_confirmed,
    certificates_csv,
    eventually,
    index_differences,
    operator_of,
    record_body,
    report,
)

pytestmark = [pytest.mark.anvil, pytest.mark.interval_mining]

IMPORTED = 600  # three issueBatch transactions of the service's 250


def write(api: httpx.Client, path: str, body: dict[str, Any]) -> None:
    answer = api.post(path, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert answer.status_code == 202, answer.text


def status(api: httpx.Client, number: str) -> str:
    answer = api.get(f"/v1/certificates/{number}")
    assert answer.status_code == 200, answer.text
    value: str = answer.json()["status"]
    return value


def assert_blocks_come_on_the_interval(world: World) -> None:
    """Blocks keep coming with no transaction sent: the chain mines on its interval (an
    automining anvil makes a block only for a transaction)."""
    assert world.node.block_time is not None
    head = world.chain.block_number()
    eventually(lambda: world.chain.block_number() >= head + 2, "two blocks without transactions")


def kr_verdict(world: World, text: str) -> Outcome:
    """KR's border verifier on the live chain (online)."""
    source = ChainStatusSource(RegistryReader(world.chain, world.deployment))
    clock = datetime.now(UTC) + timedelta(seconds=1)
    return verify(text.encode(), as_authority="KR", clock=clock, source=source).outcome


def test_on_interval_blocks_an_issued_then_suspended_certificate_reaches_the_verifier(
    world: World,
) -> None:
    assert_blocks_come_on_the_interval(world)
    mn = world.registry("MN")
    mn.start()
    number = "MN-INTERVAL-1"
    with mn.client(mn.token()) as api:
        write(api, "/v1/certificates", record_body(number))
        eventually(lambda: status(api, number) == "active", "the issuance indexed")
        text = api.get(f"/v1/certificates/{number}/payload").text
        assert kr_verdict(world, text) is Outcome.RECOGNIZED

        write(api, f"/v1/certificates/{number}/suspend", {"reason_code": 1})
        eventually(lambda: status(api, number) == "suspended", "the suspension indexed")
        assert kr_verdict(world, text) is Outcome.SUSPENDED
        entries = api.get("/v1/feed", params={"limit": 500}).json()["data"]
    kinds = [entry["kind"] for entry in entries if entry.get("number") == number]
    assert kinds == ["certificate.issued", "certificate.suspended"]
    assert all_confirmed(mn, 2)
    assert index_differences(mn) == []
    assert mn.worker_failures() == []


def test_on_interval_blocks_an_import_issues_every_certificate_once(world: World) -> None:
    assert world.node.block_time is not None
    mn = world.registry("MN")
    mn.start()
    numbers = [f"MN-IMP-{n:04d}" for n in range(1, IMPORTED + 1)]
    headers = {"Content-Type": "text/csv", "Idempotency-Key": str(uuid.uuid4())}
    with mn.client(mn.token()) as api:
        accepted = api.post("/v1/imports", content=certificates_csv(numbers), headers=headers)
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["id"]

        def completed() -> dict[str, Any] | None:
            job: dict[str, Any] = api.get(f"/v1/imports/{job_id}").json()
            return job if job["state"] == "completed" else None

        job = eventually(completed, "the import completed")
    assert job["counts"]["confirmed"] == IMPORTED
    assert all_confirmed(mn, 3)
    blocks = {op.block_number for op in mn.operations()}
    eventually(mn.caught_up, "the index reached the chain's head")
    issued = world.issued_counts()
    assert {number: issued.get(number, 0) for number in numbers} == dict.fromkeys(numbers, 1)
    assert index_differences(mn) == []
    assert mn.worker_failures() == []
    report("interval_import", certificates=IMPORTED, transactions=3, blocks=len(blocks))


def test_on_interval_blocks_a_stopped_registry_catches_up_with_the_chain(world: World) -> None:
    """While MN's service is stopped, KR issues on the chain and empty blocks pile up; MN's
    indexer reads them all from its cursor when it is back."""
    assert world.node.block_time is not None
    mn = world.registry("MN")
    mn.start()
    eventually(mn.caught_up, "MN's index at the head")
    mn.stop()
    stopped_at = mn.cursor()
    kr = RegistryWriter(world.chain, world.deployment, operator_of(world.workspace, "KR"))
    today = days.day_of(int(world.chain.w3.eth.get_block("latest")["timestamp"]))
    for n in range(3):
        kr.issue(
            f"KR-WHILE-{n}", Tier.SECURITY_SAFETY, today, today + 365, b"\x01" * 32, b"\x02" * 32
        )
    missed = world.chain.block_number() - stopped_at
    assert missed >= 3  # at least a block per issuance: the chain does not wait for MN

    mn.start()
    eventually(mn.caught_up, "MN's index caught up")
    assert index_differences(mn) == []  # KR's three issuances among them
    assert mn.worker_failures() == []
    report("interval_catch_up", blocks_missed=missed)
