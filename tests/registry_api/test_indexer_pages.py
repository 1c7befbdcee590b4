"""The indexer applies a page of events in bulk (one read of what the page needs, one
insert per run of certificate events): a whole history in one page must end exactly where
indexing it event by event ended."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from contracts.domain.enums import ReasonCode
from contracts.logs import fetch_events
from registry_api.db import (
    Certificate,
    CertificateEvent,
    FeedEntry,
    IndexerCursor,
    LocalStatus,
    Mra,
    Role,
)
from registry_api.workers.indexer import Indexer

from .certificate_data import assert_index_equals_chain, issue, post
from .conftest import ChainApp, ChainAppFactory

# Slow, so not in `make test-fast` (`make test` runs it): long chains, indexed page by page.
pytestmark = pytest.mark.slow


def sorted_parties(payload: dict[str, Any]) -> dict[str, Any]:
    """An MRA entry lists its parties in the order the session holds them: proposal order
    within one session, table order once reloaded (independent of the bulk path)."""
    if "mra" not in payload:
        return payload
    return payload | {"mra": payload["mra"] | {"parties": sorted(payload["mra"]["parties"])}}


def index_contents(service: ChainApp) -> dict[str, Any]:
    """What the indexer wrote, without ids, sequences and timestamps of the writing."""
    with service.session() as session:
        events = [
            (e.number, e.kind, e.status, e.reason_code, e.version, e.data, e.block_number)
            for e in session.scalars(
                sa.select(CertificateEvent).order_by(
                    CertificateEvent.block_number, CertificateEvent.log_index
                )
            )
        ]
        feed = [
            (entry.kind, entry.number, sorted_parties(entry.payload), entry.event_id is not None)
            for entry in session.scalars(sa.select(FeedEntry).order_by(FeedEntry.sequence))
        ]
        certificates = [
            (c.number, c.status, c.version, c.status_reason, c.remedy_deadline)
            for c in session.scalars(sa.select(Certificate).order_by(Certificate.number))
        ]
    return {"events": events, "feed": feed, "certificates": certificates}


def forget_index(service: ChainApp) -> None:
    """Back to a database that has accepted the operations but indexed nothing."""
    with service.session() as session:
        session.execute(sa.delete(FeedEntry))
        session.execute(sa.delete(CertificateEvent))
        for mra in session.scalars(sa.select(Mra)).all():
            session.delete(mra)
        session.execute(sa.delete(IndexerCursor))
        session.execute(
            sa.update(Certificate).values(status=LocalStatus.PENDING, version=1, status_reason=None)
        )
        session.commit()


def reason(code: ReasonCode) -> dict[str, int]:
    return {"reason_code": int(code)}


@pytest.fixture
def mn(chain_app: ChainAppFactory) -> ChainApp:
    return chain_app("MN")


def test_a_whole_history_in_one_page_ends_as_indexing_it_event_by_event(mn: ChainApp) -> None:
    officer = mn.headers(Role.ISSUING_OFFICER)
    consortium = mn.consortium
    for number in ("MN-1", "MN-2", "MN-3"):
        issue(mn, officer, number)
    mn.settle()
    consortium.operator("MN").propose_mra(["MN", "KZ"], [2, 3], 20000, text_hash=b"\x07" * 32)
    mn.settle()
    for number in ("MN-1", "MN-3"):
        post(
            mn.client,
            f"/v1/certificates/{number}/suspend",
            reason(ReasonCode.FAILED_AUDIT),
            officer,
        )
    mn.settle()
    consortium.operator("KZ").sign_mra(1)
    post(
        mn.client,
        "/v1/certificates/MN-3/reinstate",
        reason(ReasonCode.REMEDIED),
        officer,
    )
    post(mn.client, "/v1/certificates/MN-2/revoke", reason(ReasonCode.FRAUD), officer)
    mn.settle()
    event_by_event = index_contents(mn)
    kinds = {kind for kind, *_ in event_by_event["feed"]}
    # the page interleaves our certificates' entries with an MRA's
    assert {
        "certificate.issued",
        "certificate.suspended",
        "certificate.reinstated",
        "certificate.revoked",
        "mra.proposed",
        "mra.in_force",
    } <= kinds

    forget_index(mn)
    indexer = Indexer(mn.app.state.session_factory, consortium.chain, consortium.deployment, "MN")
    indexer.run_once(max_pages=1)
    assert indexer.cursor() == consortium.chain.block_number()
    assert index_contents(mn) == event_by_event
    assert_index_equals_chain(mn)


def test_an_event_repeated_within_one_delivery_is_applied_once(mn: ChainApp) -> None:
    officer = mn.headers(Role.ISSUING_OFFICER)
    issue(mn, officer, "MN-1")
    post(
        mn.client,
        "/v1/certificates/MN-1/suspend",
        reason(ReasonCode.FAILED_AUDIT),
        officer,
    )
    mn.settle()
    expected = index_contents(mn)
    forget_index(mn)
    consortium = mn.consortium
    events = fetch_events(consortium.chain, consortium.deployment)
    certificate_events = [e for e in events if type(e).__name__.startswith("Certificate")]
    indexer = Indexer(mn.app.state.session_factory, consortium.chain, consortium.deployment, "MN")
    with mn.session() as session:
        applied = indexer.apply_events(session, events + certificate_events)
        session.commit()
    assert applied == len(events)
    assert index_contents(mn) == expected
