"""The verifier's pipeline over a snapshot gives the golden vectors' verdicts, and tells a QR
signed after the snapshot ("sync again") from one that does not match the chain."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contracts.domain import days
from contracts.domain.claims import Claims
from contracts.domain.enums import CertificateStatus
from tests.vectors.generate import VECTOR_DIR
from verifier import keys
from verifier.errors import SourceUnavailable
from verifier.payload import encode
from verifier.pipeline import STAGES, verify
from verifier.snapshot.build import build_state
from verifier.snapshot.cache import store_snapshot
from verifier.snapshot.document import TrustAnchor, make_snapshot
from verifier.snapshot.model import Binding, BlockRef, CertificateState, Membership
from verifier.snapshot.source import (
    FILTER_REASON,
    SnapshotCacheSource,
    SnapshotSource,
    answer_for,
    verify_offline,
)
from verifier.snapshot.state import CompactState
from verifier.source import MemorySource, SourceInfo, parse_iso
from verifier.verdict import Outcome

from .world import NOW, TODAY, consortium, signer

VECTORS = sorted(VECTOR_DIR.glob("*.json"))
# The vectors whose source is "down" (it raises for some questions) stand for a source that
# cannot answer, which a loaded snapshot never is; every other vector runs.
SOURCE_DOWN = 2


def snapshot_of(source: MemorySource, claims: dict[str, Any] | None) -> CompactState:
    """The state a registry would publish for the chain a vector's source describes."""
    certificates = []
    for record in source.certificates.values():
        last = record.last_change
        listed = last is not None and record.status is not CertificateStatus.ACTIVE
        assert record.holder_ref is not None
        certificates.append(
            CertificateState(
                certificate_id=record.certificate_id,
                version=record.version,
                digest=record.digest,
                holder_ref=record.holder_ref,
                tiers=record.tiers,
                valid_from=record.valid_from,
                valid_until=record.valid_until,
                status=record.status,
                reason=last.reason if listed and last else 0,
                since=last.since if listed and last else 0,
                # Renewed on the chain after the QR was signed: its date is later.
                renewed=claims is not None and record.valid_until != claims["valid_until"],
            )
        )
    return build_state(
        members=source.authorities.values(),
        keys=source.keys.values(),
        mras=source.mras,
        certificates=certificates,
    )


def filter_vouches(state: CompactState, claims: dict[str, Any]) -> bool:
    """Whether the snapshot knows the vector's certificate by its membership filter alone,
    its QR's claims matching: the verdict then says so (``status_from_filter``) when the
    issuer's key vouched for those claims."""
    claims_obj = Claims.from_json_dict(claims)
    answer = answer_for(state, claims_obj)
    return answer.membership is Membership.FILTER and answer.binding is Binding.MATCHES


@pytest.mark.parametrize("filling", ["state", "cache file"])
def test_every_golden_vector_verifies_against_its_snapshot_as_against_its_source(
    filling: str, tmp_path: Path
) -> None:
    ran, vouched, failures = 0, 0, []
    for path in VECTORS:
        vector = json.loads(path.read_text(encoding="utf-8"))
        source = MemorySource.from_json_dict(vector["status_source"])
        if source.unavailable:
            continue
        claims = vector["layers"]["claims"]
        state = snapshot_of(source, claims)
        clock = parse_iso(vector["validation_clock"])
        max_age = timedelta(seconds=vector["max_age_seconds"])
        if filling == "state":
            verdict = verify_offline(
                vector["layers"]["text"],
                state=state,
                info=source.source_info,
                as_authority=vector["as_authority"],
                clock=clock,
                max_age=max_age,
            )
        else:
            # What aeo verify --offline and the border page do: the pipeline binds the cache
            # file's source to the scanned claims.
            verdict = verify(
                vector["layers"]["text"],
                as_authority=vector["as_authority"],
                clock=clock,
                source=cache_source(state, source.source_info, tmp_path / f"{path.stem}.cache"),
                max_age=max_age,
            )
        expected = vector["expected"]
        reasons = list(expected["reasons"])
        key_vouched = all(expected["stages"][s] == "ok" for s in ("signature", "key_validity"))
        if claims is not None and key_vouched and filter_vouches(state, claims):
            reasons.append(FILTER_REASON)
            vouched += 1
        got = (
            verdict.outcome.value,
            [r.code for r in verdict.reasons],
            {s.stage: s.state.value for s in verdict.stages},
            verdict.stale,
        )
        want = (expected["outcome"], reasons, expected["stages"], expected["stale"])
        if got != want:
            failures.append(f"{path.name}: got {got[:2]}, expected {want[:2]}")
        ran += 1
    assert not failures, "\n".join(failures)
    assert ran == len(VECTORS) - SOURCE_DOWN == 34
    assert vouched > 10  # the valid vectors, among others: the reason is not dead code


def cache_source(state: CompactState, info: SourceInfo, path: Path) -> SnapshotCacheSource:
    """``state`` stored as a border post's cache file, made at the vector source's time."""
    key = signer()
    made_at = int(info.as_of.timestamp())
    block = BlockRef(info.block_number or 1, info.block_hash or bytes(32), made_at)
    data = make_snapshot(state, private_key=key, issuer="MN", block=block, made_at=made_at)
    store_snapshot(path, data, [TrustAnchor.of("MN", key)], now=made_at)
    return SnapshotCacheSource(path)


def claims_for(number: str, issued_at: int, **changes: Any) -> Claims:
    values: dict[str, Any] = {
        "issuer": "MN",
        "number": number,
        "holder_name": "Gobi Trans LLC",
        "holder_id_scheme": "TIN",
        "holder_id": "MN6734521098",
        "tiers": 2,
        "valid_from": days.from_day(TODAY - 100),
        "valid_until": days.from_day(TODAY + 1000),
        "issued_at": issued_at,
        "version": 1,
        "commitment": b"\x07" * 32,
    }
    values.update(changes)
    return Claims.from_record(**values)


def state_of(claims: Claims) -> CertificateState:
    return CertificateState(
        certificate_id=claims.certificate_id,
        version=claims.version,
        digest=claims.digest,
        holder_ref=claims.holder_ref,
        tiers=claims.tiers,
        valid_from=claims.valid_from,
        valid_until=claims.valid_until,
    )


def colliding_number(state: CompactState) -> str:
    """A certificate number the snapshot never saw whose id meets an entry's id bits."""
    for n in range(100_000):
        number = f"MN-NEW-{n}"
        claims = claims_for(number, NOW)
        if state.contains(claims.certificate_id).value == "filter":
            return number
    raise AssertionError("no colliding number in 100,000 (the table is not what it seems)")


INFO = SourceInfo(kind="snapshot", as_of=datetime.fromtimestamp(NOW, UTC))


def verdict_of(claims: Claims, state: CompactState) -> Outcome:
    text = encode(claims, signer())
    return verify_offline(
        text,
        state=state,
        info=INFO,
        as_authority="KR",
        clock=datetime.fromtimestamp(NOW + 3600, UTC),
    ).outcome


def test_a_qr_of_the_snapshot_verifies_recognized() -> None:
    claims = claims_for("MN-1", NOW - 86_400)
    state = consortium().state([state_of(claims)])
    assert verdict_of(claims, state) is Outcome.RECOGNIZED


def test_a_qr_signed_after_the_snapshot_meeting_another_entry_asks_for_a_sync() -> None:
    known = claims_for("MN-1", NOW - 86_400)
    state = consortium().state([state_of(known)])
    number = colliding_number(state)
    assert verdict_of(claims_for(number, NOW + 60), state) is Outcome.CHECK_UNAVAILABLE
    # Signed before the snapshot: the snapshot would know it, so it does not match.
    assert verdict_of(claims_for(number, NOW - 60), state) is Outcome.COMMITMENT_MISMATCH


def test_a_certificate_issued_after_the_snapshot_asks_for_a_sync() -> None:
    state = consortium().state([state_of(claims_for("MN-1", NOW - 86_400))])
    assert verdict_of(claims_for("MN-2", NOW + 60), state) is Outcome.CHECK_UNAVAILABLE
    assert verdict_of(claims_for("MN-2", NOW - 60), state) is Outcome.UNKNOWN_CERTIFICATE


def test_the_source_answers_only_for_the_scanned_certificate() -> None:
    claims = claims_for("MN-1", NOW - 86_400)
    state = consortium().state([state_of(claims)])
    source = SnapshotSource(state, INFO, claims)
    assert source.certificate(claims.certificate_id) is not None
    assert source.answer is not None
    with pytest.raises(SourceUnavailable):
        source.certificate(b"\x00" * 32)
    with pytest.raises(SourceUnavailable):
        SnapshotSource(state, INFO, None).certificate(claims.certificate_id)


@pytest.mark.parametrize("data", ["", "AEO1:???", "HC1:abc", b"\x00\x01", Path("/nonexistent")])
def test_unreadable_input_gets_the_pipelines_own_verdict(data: object) -> None:
    state = consortium().state([])
    verdict = verify_offline(
        data,  # type: ignore[arg-type]
        state=state,
        info=INFO,
        as_authority="KR",
        clock=datetime.fromtimestamp(NOW, UTC),
    )
    assert verdict.outcome is Outcome.MALFORMED
    assert [s.stage for s in verdict.stages] == list(STAGES)


def test_a_qr_signed_by_a_key_the_snapshot_does_not_list_is_untrusted() -> None:
    claims = claims_for("MN-1", NOW - 86_400)
    state = replace(consortium(), keys=()).state([state_of(claims)])
    assert verdict_of(claims, state) is Outcome.UNTRUSTED_KEY
    assert keys.key_id_of(signer()) not in state.keys
