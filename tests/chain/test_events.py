"""Events decode into dataclasses, in chain order, paged like Besu demands."""

from __future__ import annotations

import os

import pytest

from contracts.artifacts import MRAS, REGISTRY, load_artifact
from contracts.bootstrap import Consortium
from contracts.chain import latest_timestamp, mine
from contracts.domain import days, ids
from contracts.domain.enums import AccountRole, CertificateStatus, ReasonCode, Tier
from contracts.domain.events import (
    EVENT_CLASSES,
    AccountAdded,
    AuthorityAdmitted,
    BootstrapClosed,
    CertificateIssued,
    CertificateStatusChanged,
    MraInForce,
    MraProposed,
    event_fields,
    field_name,
)
from contracts.logs import (
    BESU_MAX_LOG_RANGE,
    fetch_events,
    first_event,
    iter_event_pages,
    receipt_events,
)

# Slow, so not in `make test-fast` (`make test` runs it): mines more than 1000 blocks.
pytestmark = pytest.mark.slow


def test_every_abi_event_has_a_dataclass_with_the_same_fields_in_order() -> None:
    abi_events = {
        element["name"]: [field_name(param["name"]) for param in element["inputs"]]
        for artifact in (REGISTRY, MRAS)
        for element in load_artifact(artifact).abi
        if element["type"] == "event"
    }
    assert set(abi_events) == set(EVENT_CLASSES)
    for name, fields in abi_events.items():
        assert event_fields(EVENT_CLASSES[name]) == fields, name


@pytest.mark.both_chains
def test_an_issue_event_carries_what_was_sent_and_where_it_happened(
    consortium: Consortium,
) -> None:
    chain = consortium.chain
    today = days.day_of(latest_timestamp(chain))
    holder, commitment = os.urandom(32), os.urandom(32)
    operator = consortium.operator("MN")
    receipt = operator.issue("MN-EV-1", Tier.SECURITY_SAFETY, today, today + 30, holder, commitment)

    event = first_event(receipt_events(chain, consortium.deployment, receipt), CertificateIssued)

    block = chain.w3.eth.get_block(receipt["blockNumber"])
    assert event.certificate_id == ids.certificate_id("MN", "MN-EV-1")
    assert event.issuer == "MN"
    assert event.number == "MN-EV-1"
    assert event.tiers is Tier.SECURITY_SAFETY
    assert (event.valid_from, event.valid_until) == (today, today + 30)
    assert (event.holder_ref, event.commitment) == (holder, commitment)
    assert event.operator == operator.address
    assert event.block_number == receipt["blockNumber"]
    assert event.block_hash == bytes(block["hash"])
    assert event.block_timestamp == block["timestamp"]
    assert event.tx_hash == bytes(receipt["transactionHash"])
    assert event.address == consortium.deployment.registry


@pytest.mark.both_chains
def test_the_bootstrap_reads_back_as_events_in_chain_order(consortium: Consortium) -> None:
    events = fetch_events(consortium.chain, consortium.deployment)
    positions = [e.position for e in events]
    assert positions == sorted(positions)
    assert [e.code for e in events if isinstance(e, AuthorityAdmitted)] == ["MN", "KZ", "KR"]
    operators = [
        e for e in events if isinstance(e, AccountAdded) and e.roles is AccountRole.OPERATOR
    ]
    assert [e.account for e in operators] == [
        consortium.member(code).operator.address for code in ("MN", "KZ", "KR")
    ]
    assert isinstance(events[-1], BootstrapClosed)
    assert events[-1].member_count == 3


def test_events_across_more_than_1000_blocks_come_back_complete_and_in_order(
    consortium: Consortium,
) -> None:
    chain = consortium.chain
    operator = consortium.operator("MN")
    today = days.day_of(latest_timestamp(chain))
    start = chain.block_number() + 1
    operator.issue(
        "MN-PAGE-1", Tier.SECURITY_SAFETY, today, today + 9, os.urandom(32), os.urandom(32)
    )
    mine(chain, BESU_MAX_LOG_RANGE + 100)
    operator.issue(
        "MN-PAGE-2", Tier.SECURITY_SAFETY, today, today + 9, os.urandom(32), os.urandom(32)
    )
    mine(chain, 5)
    second = ids.certificate_id("MN", "MN-PAGE-2")
    operator.suspend(second, ReasonCode.NON_COMPLIANCE)
    end = chain.block_number()

    pages = list(iter_event_pages(chain, consortium.deployment, start, end))
    events = fetch_events(chain, consortium.deployment, start, end)

    assert len(pages) == 2
    assert pages[0].from_block == start
    assert all(p.to_block - p.from_block + 1 <= BESU_MAX_LOG_RANGE for p in pages)
    assert [(p.from_block, p.to_block) for p in pages[1:]] == [(pages[0].to_block + 1, end)]
    assert [type(e) for e in events] == [
        CertificateIssued,
        CertificateIssued,
        CertificateStatusChanged,
    ]
    assert [e.position for e in events] == sorted(e.position for e in events)
    assert events[-1].certificate_id == second  # type: ignore[attr-defined]
    assert events[-1].status is CertificateStatus.SUSPENDED  # type: ignore[attr-defined]
    assert events == fetch_events(chain, consortium.deployment, start, end, page_size=7)


@pytest.mark.both_chains
def test_an_mra_signed_by_all_parties_emits_in_force(consortium: Consortium) -> None:
    chain = consortium.chain
    today = days.day_of(latest_timestamp(chain))
    text_hash = os.urandom(32)
    proposed = consortium.operator("MN").propose_mra(
        ["MN", "KZ"], [Tier.SECURITY_SAFETY, Tier.SECURITY_SAFETY], today, 0, text_hash
    )
    proposal = first_event(receipt_events(chain, consortium.deployment, proposed), MraProposed)
    assert proposal.parties == ("MN", "KZ")
    assert proposal.recognized_tiers == (Tier.SECURITY_SAFETY, Tier.SECURITY_SAFETY)
    assert proposal.text_hash == text_hash
    assert proposal.address == consortium.deployment.mras

    signed = consortium.operator("KZ").sign_mra(proposal.mra_id)
    in_force = first_event(receipt_events(chain, consortium.deployment, signed), MraInForce)
    assert (in_force.mra_id, in_force.party, in_force.effective_from) == (
        proposal.mra_id,
        "KZ",
        today,
    )
