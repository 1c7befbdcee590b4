"""The offline cache fed with the chain layer's own decoded events from deployed contracts
(eth-tester in process): its answers agree with the contracts' views."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from contracts.bootstrap import Consortium
from contracts.chain import latest_timestamp
from contracts.domain import days
from contracts.domain.claims import Claims
from contracts.domain.enums import KeyAlgorithm, ReasonCode, RecognitionReason, Tier
from contracts.logs import fetch_events
from contracts.reader import RegistryReader
from verifier import keys
from verifier.offline import OfflineCache, SyncPoint
from verifier.payload import encode
from verifier.pipeline import verify
from verifier.verdict import Outcome


def sync(cache: OfflineCache, consortium: Consortium, from_block: int | None = None) -> int:
    chain = consortium.chain
    head = chain.w3.eth.get_block("latest")
    events = fetch_events(chain, consortium.deployment, from_block, head["number"])
    cache.apply_events(
        events,
        SyncPoint(
            block_number=head["number"],
            block_hash=bytes(head["hash"]),
            block_time=datetime.fromtimestamp(head["timestamp"], UTC),
            synced_at=datetime.fromtimestamp(head["timestamp"], UTC),
        ),
    )
    return int(head["number"])


def test_cache_synced_from_chain_events_verifies_like_the_contracts(
    consortium: Consortium, tmp_path: Path
) -> None:
    chain = consortium.chain
    now = latest_timestamp(chain)
    today = days.day_of(now)
    signing_key = keys.generate_private_key()
    public = keys.public_key_bytes(signing_key)
    # Ten minutes back: a key's validity may start at most an hour before its registration.
    consortium.admin("MN").register_signing_key(public, KeyAlgorithm.ES256, now - 600)
    commitment = os.urandom(32)
    claims = Claims.from_record(
        issuer="MN",
        number="MN-CHAIN-0001",
        holder_name="Gobi Trans LLC",
        holder_id_scheme="TIN",
        holder_id="MN6734521098",
        tiers=Tier.CUSTOMS_SIMPLIFICATIONS | Tier.SECURITY_SAFETY,
        valid_from=days.from_day(today - 1),
        valid_until=days.from_day(today + 365),
        issued_at=now - 60,
        version=1,
        commitment=commitment,
    )
    consortium.operator("MN").issue(
        claims.number,
        claims.tiers,
        claims.valid_from,
        claims.valid_until,
        claims.holder_ref,
        commitment,
    )
    consortium.operator("MN").propose_mra(
        ["MN", "KR"], [Tier.SECURITY_SAFETY, Tier.GRADE_AAA], today - 10, 0, os.urandom(32)
    )
    consortium.operator("KR").sign_mra(1)
    text = encode(claims, signing_key)
    reader = RegistryReader(chain, consortium.deployment)

    with OfflineCache(tmp_path / "border-post.sqlite") as cache:
        block = sync(cache, consortium)
        clock = datetime.fromtimestamp(latest_timestamp(chain), UTC)
        for authority in ("KR", "KZ", "MN"):
            chain_answer = reader.recognizes(authority, claims.certificate_id)
            cache_record = cache.certificate(claims.certificate_id)
            assert cache_record is not None
            cache_answer = cache.recognition(
                authority, cache_record, days.day_of(int(clock.timestamp()))
            )
            assert (cache_answer.recognized, int(cache_answer.reason)) == (
                chain_answer.recognized,
                int(chain_answer.reason),
            ), authority
        verdict = verify(text, as_authority="KR", clock=clock, source=cache)
        assert verdict.outcome is Outcome.RECOGNIZED
        assert verdict.issuer_name is not None
        assert verdict.recognition is not None
        assert verdict.recognition.reason is RecognitionReason.RECOGNIZED

        consortium.operator("MN").suspend(claims.certificate_id, ReasonCode.NON_COMPLIANCE)
        sync(cache, consortium, block + 1)
        verdict = verify(text, as_authority="KR", clock=clock, source=cache)
        assert verdict.outcome is Outcome.SUSPENDED
        assert "NON_COMPLIANCE" in verdict.reasons[0].message

        consortium.operator("MN").reinstate(claims.certificate_id, ReasonCode.REMEDIED)
        consortium.operator("MN").amend(
            claims.certificate_id,
            claims.tiers,
            claims.holder_ref,
            os.urandom(32),
            ReasonCode.DATA_CHANGE,
        )
        sync(cache, consortium, block + 2)
        record = cache.certificate(claims.certificate_id)
        chain_record = reader.get_certificate(claims.certificate_id)
        assert record is not None
        assert (record.version, record.digest) == (chain_record.version, chain_record.digest)
        assert (
            verify(text, as_authority="KR", clock=clock, source=cache).outcome is Outcome.SUPERSEDED
        )
        amended = replace(claims, version=2, digest=chain_record.digest)
        assert verify(
            encode(amended, signing_key), as_authority="KR", clock=clock, source=cache
        ).outcome is (Outcome.RECOGNIZED)
