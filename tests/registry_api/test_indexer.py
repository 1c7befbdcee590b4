"""The indexer: duplicate delivery, restarts mid-backfill, chain rewinds, several
administrations on one chain. Each ends with the index equal to the chain."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from contracts.chain import mine, revert_to_snapshot, snapshot
from contracts.domain.enums import KeyAlgorithm
from contracts.logs import fetch_events
from registry_api.db import (
    Authority,
    AuthorityAccount,
    CertificateEvent,
    FeedEntry,
    IndexedSigningKey,
    Mra,
    Role,
)
from registry_api.workers.indexer import Indexer

from .certificate_data import assert_index_equals_chain, issue, post
from .conftest import ChainApp, ChainAppFactory


def feed(service: ChainApp) -> list[tuple[int, str, dict[str, Any]]]:
    with service.session() as session:
        return [
            (entry.sequence, entry.kind, entry.payload)
            for entry in session.scalars(sa.select(FeedEntry).order_by(FeedEntry.sequence))
        ]


def count(service: ChainApp, model: Any) -> int:
    with service.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def new_indexer(service: ChainApp, page_size: int = 1000) -> Indexer:
    consortium = service.consortium
    return Indexer(
        service.app.state.session_factory,
        consortium.chain,
        consortium.deployment,
        service.authority,
        page_size=page_size,
    )


@pytest.fixture
def mn(chain_app: ChainAppFactory) -> ChainApp:
    return chain_app("MN")


def lifecycle(mn: ChainApp, number: str) -> None:
    officer = mn.headers(Role.ISSUING_OFFICER)
    issue(mn, officer, number)
    post(mn.client, f"/v1/certificates/{number}/suspend", {"reason_code": 1}, officer)
    mn.settle()


@pytest.mark.slow
def test_events_delivered_twice_are_stored_once(mn: ChainApp) -> None:
    lifecycle(mn, "MN-1")
    events, entries = count(mn, CertificateEvent), feed(mn)
    consortium = mn.consortium
    page = fetch_events(consortium.chain, consortium.deployment)
    indexer = new_indexer(mn)
    with mn.session() as session:
        assert indexer.apply_events(session, page) == 0
        session.commit()
    assert count(mn, CertificateEvent) == events == 2
    assert feed(mn) == entries
    assert_index_equals_chain(mn)


@pytest.mark.slow
def test_an_indexer_restarted_mid_backfill_ends_where_one_pass_would(
    chain_app: ChainAppFactory,
) -> None:
    mn = chain_app("MN")
    lifecycle(mn, "MN-1")
    lifecycle(mn, "MN-2")
    replica = chain_app("MN")  # a second database of the same administration, empty
    first = new_indexer(replica, page_size=2)
    assert first.run_once(max_pages=3) > 0
    halfway = first.cursor()
    assert halfway < mn.consortium.chain.block_number()
    # A new process: only the cursor in the database remains. Pages may overlap too.
    second = new_indexer(replica, page_size=3)
    second.run_once()
    assert [kind for _, kind, _ in feed(replica)] == [kind for _, kind, _ in feed(mn)]
    assert_index_equals_chain(replica)


def test_a_page_is_at_most_besu_s_1000_blocks(mn: ChainApp) -> None:
    with pytest.raises(ValueError, match=r"page_size must be 1\.\.1000"):
        new_indexer(mn, page_size=1001)


def test_a_chain_rewind_rolls_the_index_back_and_retracts_feed_entries(mn: ChainApp) -> None:
    chain = mn.consortium.chain
    lifecycle(mn, "MN-KEPT")
    before = snapshot(chain)
    lifecycle(mn, "MN-LOST")
    mn.consortium.operator("MN").propose_mra(["MN", "KZ"], [2, 2], 20000, text_hash=b"\x07" * 32)
    mn.workers.indexer.run_once()
    assert count(mn, Mra) == 1
    lost = [
        seq
        for seq, kind, payload in feed(mn)
        if payload.get("certificate", {}).get("number") == "MN-LOST"
    ]
    assert len(lost) == 2

    revert_to_snapshot(chain, before)
    mine(chain, 3)  # the chain goes on without those blocks: other hashes at those heights
    mn.workers.indexer.run_once()

    officer = mn.headers(Role.AUDITOR)
    body = mn.client.get("/v1/certificates/MN-LOST", headers=officer).json()
    assert body["status"] == "pending"  # its operations will be sent again
    assert body["chain"] is None
    assert count(mn, Mra) == 0
    entries = feed(mn)
    rewound = [(seq, payload) for seq, kind, payload in entries if kind == "chain.rewound"]
    assert len(rewound) == 1
    marker_seq, marker = rewound[0]
    assert set(lost) <= set(marker["retracted"])
    for seq, _kind, payload in entries:
        if seq in marker["retracted"]:
            assert payload["retracted_by"] == marker_seq
    assert_index_equals_chain(mn)

    # The sender notices its transactions are gone and sends them again.
    mn.settle()
    body = mn.client.get("/v1/certificates/MN-LOST", headers=officer).json()
    assert body["status"] == "suspended"
    assert body["proof"]["matches"] is True
    again = [
        seq
        for seq, kind, payload in feed(mn)
        if payload.get("certificate", {}).get("number") == "MN-LOST"
        and "retracted_by" not in payload
    ]
    assert len(again) == 2
    assert min(again) > marker_seq
    assert_index_equals_chain(mn)


def test_another_administration_indexes_the_event_but_feeds_only_its_own(
    chain_app: ChainAppFactory,
) -> None:
    mn, kr = chain_app("MN"), chain_app("KR")
    lifecycle(mn, "MN-1")
    kr.settle()
    with kr.session() as session:
        events = session.scalars(sa.select(CertificateEvent).order_by(CertificateEvent.id)).all()
        assert [(e.issuer, e.number, e.kind, e.status) for e in events] == [
            ("MN", "MN-1", "issued", "active"),
            ("MN", "MN-1", "suspended", "suspended"),
        ]
    assert not any(kind.startswith("certificate.") for _, kind, _ in feed(kr))
    mine_feed = [kind for _, kind, _ in feed(mn) if kind.startswith("certificate.")]
    assert mine_feed == ["certificate.issued", "certificate.suspended"]
    suspended = feed(mn)[-1][2]
    assert suspended["certificate"]["status"] == "suspended"
    assert suspended["data"]["reason"] == 1
    assert_index_equals_chain(kr)


def test_mra_events_reach_the_feeds_of_their_parties_only(chain_app: ChainAppFactory) -> None:
    mn, kz, kr = chain_app("MN"), chain_app("KZ"), chain_app("KR")
    consortium = mn.consortium
    consortium.operator("MN").propose_mra(["MN", "KZ"], [2, 3], 20000, text_hash=b"\x07" * 32)
    mra_id = 1
    consortium.operator("KZ").sign_mra(mra_id)
    for service in (mn, kz, kr):
        service.settle()
        with service.session() as session:
            mra = session.scalars(sa.select(Mra)).one()
            assert mra.status == "in_force"
            assert {(p.authority, p.recognized_tiers) for p in mra.parties} == {
                ("MN", 2),
                ("KZ", 3),
            }
            assert all(p.signed_at is not None for p in mra.parties)
    expected = ["mra.proposed", "mra.signed", "mra.signed", "mra.in_force"]
    assert [k for _, k, _ in feed(mn) if k.startswith("mra.")] == expected
    assert [k for _, k, _ in feed(kz) if k.startswith("mra.")] == expected
    assert [k for _, k, _ in feed(kr) if k.startswith("mra.")] == []


def test_members_accounts_and_signing_keys_are_indexed_for_the_trust_list(
    chain_app: ChainAppFactory,
) -> None:
    kr = chain_app("KR")
    consortium = kr.consortium
    public = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    consortium.admin("MN").register_signing_key(public, KeyAlgorithm.EDDSA)
    kr.settle()
    with kr.session() as session:
        assert {a.code: a.status for a in session.scalars(sa.select(Authority))} == {
            "MN": "active",
            "KZ": "active",
            "KR": "active",
        }
        assert session.scalar(sa.select(sa.func.count()).select_from(AuthorityAccount)) == 6
        key = session.scalars(sa.select(IndexedSigningKey)).one()
        assert (key.authority, key.public_key, key.revoked_at) == ("MN", public, None)
    consortium.admin("MN").revoke_signing_key(key.kid)
    kr.settle()
    with kr.session() as session:
        assert session.scalars(sa.select(IndexedSigningKey)).one().revoked_at is not None
    kinds = [kind for _, kind, _ in feed(kr)]
    assert kinds.count("authority.admitted") == 3
    assert kinds[-2:] == ["signing_key.registered", "signing_key.revoked"]


def test_readiness_reports_indexer_lag(chain_app: ChainAppFactory) -> None:
    mn = chain_app("MN", indexer_max_lag_blocks=5)
    mn.settle()
    ready = mn.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert set(ready.json()["checks"]) == {"database", "chain", "indexer", "sender"}
    mine(mn.consortium.chain, 10)
    behind = mn.client.get("/readyz")
    assert behind.status_code == 503
    assert "10 blocks behind the head (> 5)" in behind.json()["checks"]["indexer"]["detail"]
    mn.settle()
    assert mn.client.get("/readyz").status_code == 200
