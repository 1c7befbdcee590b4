"""The signed snapshot and delta files: round trips, and every refusal a border post makes
before it trusts one (wrong key, a tampered byte, an older snapshot, a delta of another base,
a bomb)."""

from __future__ import annotations

import zlib
from dataclasses import replace

import cbor2
import pytest

from contracts.domain.enums import SIGNING_ALGORITHMS, KeyAlgorithm
from verifier import keys
from verifier.snapshot import document
from verifier.snapshot.document import (
    Header,
    Kind,
    TrustAnchor,
    apply_delta,
    make_delta,
    make_snapshot,
    needs_new_lineage,
    prefer_full,
    read_delta,
    read_snapshot,
    sign,
)
from verifier.snapshot.errors import (
    SnapshotError,
    SnapshotFormatError,
    SnapshotOrderError,
    SnapshotSignatureError,
)
from verifier.snapshot.state import CompactState, Params

from .world import (
    BLOCK,
    LATER,
    NOW,
    SUSPENDED,
    certificate,
    consortium,
    key_record,
    other_key,
    signer,
)


def states() -> tuple[CompactState, CompactState]:
    before = [certificate(n) for n in range(20)]
    after = [*before[:5], certificate(5, **SUSPENDED), *before[6:], certificate(20)]
    old = consortium().state(before)
    return old, consortium().state(after, params=old.params)


def snapshot_of(state: CompactState, key: keys.PrivateKey | None = None) -> bytes:
    return make_snapshot(state, private_key=key or signer(), issuer="MN", block=BLOCK, made_at=NOW)


def delta_of(old: CompactState, new: CompactState) -> bytes:
    return make_delta(old, BLOCK, new, LATER, private_key=signer(), issuer="MN", made_at=NOW + 720)


def anchors() -> list[TrustAnchor]:
    return [TrustAnchor.of("MN", signer())]


@pytest.mark.parametrize("algorithm", list(SIGNING_ALGORITHMS))
def test_a_snapshot_round_trips_with_either_algorithm(algorithm: KeyAlgorithm) -> None:
    key = keys.generate_private_key(algorithm)
    world = replace(consortium(), keys=(key_record(key, "MN"),))
    state = world.state([certificate(n) for n in range(10)])
    snapshot = read_snapshot(snapshot_of(state, key), [TrustAnchor.of("MN", key)])
    assert snapshot.state.encode() == state.encode()
    header = snapshot.header
    assert (header.kind, header.issuer, header.block, header.made_at) == (
        Kind.FULL,
        "MN",
        BLOCK,
        NOW,
    )
    assert header.kid == keys.key_id_of(key)
    assert header.content_hash == state.content_hash()


def test_a_snapshot_signed_by_a_key_not_pinned_is_refused() -> None:
    data = snapshot_of(states()[0])
    with pytest.raises(SnapshotSignatureError) as refused:
        read_snapshot(data, [TrustAnchor.of("MN", other_key())])
    assert refused.value.code == "snapshot_untrusted_key"
    with pytest.raises(SnapshotSignatureError):
        read_snapshot(data, [])


def test_a_snapshot_naming_another_issuer_than_its_anchor_is_refused() -> None:
    with pytest.raises(SnapshotSignatureError, match="pinned for KR"):
        read_snapshot(snapshot_of(states()[0]), [TrustAnchor.of("KR", signer())])


def test_every_tampered_byte_is_refused() -> None:
    data = snapshot_of(consortium().state([certificate(1, **SUSPENDED)]))
    accepted = []
    for at in range(len(data)):
        tampered = bytearray(data)
        tampered[at] ^= 0x01
        try:
            read_snapshot(bytes(tampered), anchors())
        except SnapshotError:
            continue
        accepted.append(at)
    assert accepted == []


@pytest.mark.parametrize(
    "mangle",
    [
        lambda d: d[:-1],
        lambda d: d + b"\x00",
        lambda d: d[1:],
        lambda d: b"",
        lambda d: cbor2.dumps(cbor2.loads(d).value),  # the COSE array without its tag
        lambda d: cbor2.dumps(cbor2.CBORTag(17, cbor2.loads(d).value)),
        lambda d: cbor2.dumps(["not", "cose"]),
    ],
)
def test_malformed_files_are_refused_with_a_format_error(mangle) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SnapshotFormatError):
        read_snapshot(mangle(snapshot_of(states()[0])), anchors())


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"\xd2\x9f" + b"\x00" * 5_000_000, "cose"),  # an endless array of five million items
        (b"\xd2\x84\x5f\x41\x00\xff\xa0", "cose.protected"),  # an indefinite byte string
        (b"\xd2\x84\x58\x05abcde\xa0", "cose.protected"),  # a length head not the shortest
        (b"\xd2\x84\x41\x00\xa0\x5b" + b"\xff" * 8, "cose.payload"),  # 2^64 - 1 bytes
        (b"\xd2\x84\x41\x00\xa1\x01\x01", "cose"),  # an unprotected header
    ],
)
def test_unverified_bytes_are_refused_by_their_layout_before_any_decoding(
    data: bytes, field: str
) -> None:
    with pytest.raises(SnapshotFormatError) as refused:
        read_snapshot(data, anchors())
    assert refused.value.field == field


def test_a_signed_document_that_is_not_a_snapshot_is_refused_naming_the_field() -> None:
    document_bytes = cbor2.dumps({1: 1, 2: 1, 3: "MN"}, canonical=True)
    with pytest.raises(SnapshotFormatError) as refused:
        read_snapshot(sign(document_bytes, signer()), anchors())
    assert refused.value.field == "document"
    future = cbor2.dumps({1: 2}, canonical=True)
    with pytest.raises(SnapshotFormatError) as refused:
        read_snapshot(sign(future, signer()), anchors())
    assert (refused.value.field, refused.value.code) == ("format", "unsupported")


def test_a_zlib_bomb_is_stopped_at_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    data = snapshot_of(states()[0])
    monkeypatch.setattr(document, "MAX_DOCUMENT_BYTES", 100)
    with pytest.raises(SnapshotFormatError) as refused:
        read_snapshot(data, anchors())
    assert refused.value.code == "too_large"


def test_a_file_larger_than_any_snapshot_is_refused_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(document, "MAX_SIGNED_BYTES", 100)
    with pytest.raises(SnapshotFormatError, match="larger than"):
        read_snapshot(snapshot_of(states()[0]), anchors())


def test_a_content_hash_that_is_not_the_states_is_refused() -> None:
    state = states()[0]
    body = state.to_cbor()
    doc = {1: 1, 2: 1, 3: "MN", 4: [BLOCK.number, BLOCK.hash, BLOCK.time], 5: NOW}
    doc.update({6: b"\x00" * 32, 7: body})
    with pytest.raises(SnapshotFormatError) as refused:
        read_snapshot(sign(cbor2.dumps(doc, canonical=True), signer()), anchors())
    assert refused.value.field == "content_hash"


def test_a_snapshot_listing_its_own_key_as_revoked_is_refused() -> None:
    world = replace(consortium(), keys=(key_record(signer(), "MN", revoked_at=NOW - 1),))
    with pytest.raises(SnapshotSignatureError, match="revoked"):
        read_snapshot(snapshot_of(world.state([certificate(1)])), anchors())


def test_a_snapshot_older_than_the_cache_is_refused() -> None:
    old, new = states()
    newer = read_snapshot(
        make_snapshot(new, private_key=signer(), issuer="MN", block=LATER, made_at=NOW + 720),
        anchors(),
    )
    with pytest.raises(SnapshotOrderError) as refused:
        read_snapshot(snapshot_of(old), anchors(), current=newer.header)
    assert refused.value.code == "snapshot_older"


def test_a_snapshot_of_the_cache_block_with_other_contents_is_refused() -> None:
    old, new = states()
    cached = read_snapshot(snapshot_of(old), anchors())
    assert read_snapshot(snapshot_of(old), anchors(), current=cached.header).header == (
        cached.header
    )
    with pytest.raises(SnapshotOrderError) as refused:
        read_snapshot(snapshot_of(new), anchors(), current=cached.header)
    assert refused.value.code == "snapshot_conflict"


def test_a_delta_applied_to_its_base_gives_the_full_snapshot_of_the_later_block() -> None:
    old, new = states()
    base = read_snapshot(snapshot_of(old), anchors())
    delta = read_delta(delta_of(old, new), anchors(), current=base.header)
    moved = apply_delta(base.state, base.header, delta)
    full = read_snapshot(
        make_snapshot(new, private_key=signer(), issuer="MN", block=LATER, made_at=NOW + 720),
        anchors(),
    )
    assert moved.state.encode() == full.state.encode()
    assert moved.header.content_hash == full.header.content_hash
    assert moved.header.block == LATER


def test_a_delta_whose_base_is_not_the_cache_is_refused() -> None:
    old, new = states()
    other = read_snapshot(snapshot_of(new), anchors())  # block A, but other contents
    with pytest.raises(SnapshotOrderError) as refused:
        read_delta(delta_of(old, new), anchors(), current=other.header)
    assert refused.value.code == "delta_base_mismatch"
    later = replace(other.header, block=LATER)
    with pytest.raises(SnapshotOrderError):
        read_delta(delta_of(old, new), anchors(), current=later)


def test_a_delta_that_does_not_lead_to_its_named_state_is_refused() -> None:
    old, new = states()
    base = read_snapshot(snapshot_of(old), anchors())
    delta = read_delta(delta_of(old, new), anchors(), current=base.header)
    lying = replace(delta, header=replace(delta.header, content_hash=b"\x01" * 32))
    with pytest.raises(SnapshotOrderError) as refused:
        apply_delta(base.state, base.header, lying)
    assert refused.value.code == "delta_does_not_fit"


def test_a_snapshot_is_not_read_as_a_delta_nor_a_delta_as_a_snapshot() -> None:
    old, new = states()
    base = read_snapshot(snapshot_of(old), anchors())
    with pytest.raises(SnapshotFormatError, match="not a full"):
        read_snapshot(delta_of(old, new), anchors())
    with pytest.raises(SnapshotFormatError, match="not a delta"):
        read_delta(snapshot_of(old), anchors(), current=base.header)


def test_a_delta_must_lead_to_a_later_block() -> None:
    old, new = states()
    with pytest.raises(SnapshotOrderError):
        make_delta(old, LATER, new, BLOCK, private_key=signer(), issuer="MN", made_at=NOW)


def test_the_signature_covers_the_compressed_bytes_as_they_are() -> None:
    data = snapshot_of(states()[0])
    protected, _, payload, signature = cbor2.loads(data).value
    recompressed = zlib.compress(zlib.decompress(payload), 1)
    assert recompressed != payload
    forged = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, recompressed, signature]))
    with pytest.raises(SnapshotSignatureError):
        read_snapshot(forged, anchors())


def test_the_delta_rule_fetches_a_delta_while_it_is_at_most_half_a_full_snapshot() -> None:
    assert prefer_full(1000, None)
    assert not prefer_full(1000, [200, 300])
    assert prefer_full(1000, [200, 301])
    assert not needs_new_lineage(Params(10), 1024)
    assert needs_new_lineage(Params(10), 2049)
    assert needs_new_lineage(Params(10), 255)


def test_a_trust_anchor_refuses_a_key_that_is_not_one() -> None:
    with pytest.raises(SnapshotFormatError):
        TrustAnchor("MN", KeyAlgorithm.ES256, b"\x05" * 33)
    with pytest.raises(SnapshotFormatError):
        TrustAnchor("mn", KeyAlgorithm.EDDSA, keys.public_key_bytes(other_key()))


def test_a_header_names_the_state_a_delta_starts_from() -> None:
    state = states()[0]
    header = read_snapshot(snapshot_of(state), anchors()).header
    assert isinstance(header, Header)
    assert header.point.content_hash == state.content_hash()
    assert header.point.block_number == BLOCK.number
