"""The border post's cache file: stored only after verification, mapped back with the same
answers, written atomically, and refused when damaged."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from verifier.snapshot import cache
from verifier.snapshot.document import TrustAnchor, make_delta, make_snapshot
from verifier.snapshot.errors import SnapshotCacheError, SnapshotError, SnapshotOrderError
from verifier.snapshot.model import Binding
from verifier.snapshot.state import CompactState

from .world import (
    BLOCK,
    LATER,
    NOW,
    REVOKED,
    SUSPENDED,
    certificate,
    claims_of,
    consortium,
    signer,
)

CERTIFICATES = [
    certificate(n, **(SUSPENDED if n % 5 == 0 else REVOKED if n % 7 == 0 else {}))
    for n in range(60)
]


def anchors() -> list[TrustAnchor]:
    return [TrustAnchor.of("MN", signer())]


def old_and_new() -> tuple[CompactState, CompactState]:
    old = consortium().state(CERTIFICATES)
    changed = [*CERTIFICATES[:10], certificate(10, version=2), *CERTIFICATES[11:], certificate(60)]
    return old, consortium().state(changed, params=old.params)


def full(state: CompactState, block=BLOCK, made_at=NOW) -> bytes:  # type: ignore[no-untyped-def]
    return make_snapshot(state, private_key=signer(), issuer="MN", block=block, made_at=made_at)


def test_a_stored_snapshot_loads_back_with_the_same_answers(tmp_path: Path) -> None:
    state = old_and_new()[0]
    path = tmp_path / "cache.bin"
    stored = cache.store_snapshot(path, full(state), anchors(), now=NOW + 5)
    loaded = cache.load(path)
    assert loaded is not None
    assert loaded.state.encode() == state.encode()
    assert loaded.synced_at == NOW + 5
    assert loaded.header.content_hash == state.content_hash() == stored.header.content_hash
    for c in CERTIFICATES:
        assert loaded.state.status(c.certificate_id, **claims_of(c)) == state.status(  # type: ignore[arg-type]
            c.certificate_id,
            **claims_of(c),  # type: ignore[arg-type]
        )
    info = loaded.source_info()
    assert (info.kind, info.block_number, int(info.as_of.timestamp())) == (
        "snapshot",
        BLOCK.number,
        NOW,
    )


def test_a_delta_moves_the_cache_to_the_later_block(tmp_path: Path) -> None:
    old, new = old_and_new()
    path = tmp_path / "cache.bin"
    cache.store_snapshot(path, full(old), anchors(), now=NOW)
    delta = make_delta(old, BLOCK, new, LATER, private_key=signer(), issuer="MN", made_at=NOW + 9)
    moved = cache.store_delta(path, delta, anchors(), now=NOW + 10)
    assert moved.header.block == LATER
    assert moved.state.encode() == new.encode()
    amended = certificate(10)
    assert (
        moved.state.status(amended.certificate_id, **claims_of(amended)).binding  # type: ignore[arg-type]
        is Binding.SUPERSEDED
    )
    with pytest.raises(SnapshotOrderError):  # the same delta again: its base is gone
        cache.store_delta(path, delta, anchors(), now=NOW + 11)


def test_a_delta_needs_a_cache_to_apply_to(tmp_path: Path) -> None:
    old, new = old_and_new()
    delta = make_delta(old, BLOCK, new, LATER, private_key=signer(), issuer="MN", made_at=NOW)
    with pytest.raises(SnapshotCacheError) as refused:
        cache.store_delta(tmp_path / "none.bin", delta, anchors(), now=NOW)
    assert refused.value.code == "no_cache"


def test_a_refused_snapshot_leaves_the_cache_as_it_was(tmp_path: Path) -> None:
    old, new = old_and_new()
    path = tmp_path / "cache.bin"
    cache.store_snapshot(path, full(new, LATER, NOW + 720), anchors(), now=NOW)
    before = path.read_bytes()
    with pytest.raises(SnapshotOrderError):
        cache.store_snapshot(path, full(old), anchors(), now=NOW + 800)
    tampered = bytearray(full(new, LATER, NOW + 900))
    tampered[-3] ^= 1
    with pytest.raises(SnapshotError):
        cache.store_snapshot(path, bytes(tampered), anchors(), now=NOW + 900)
    assert path.read_bytes() == before


def test_an_interrupted_write_keeps_the_previous_cache_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = old_and_new()
    path = tmp_path / "cache.bin"
    cache.store_snapshot(path, full(old), anchors(), now=NOW)
    before = path.read_bytes()

    def power_cut(*_: object) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", power_cut)
    with pytest.raises(OSError, match="power cut"):
        cache.store_snapshot(path, full(new, LATER, NOW + 720), anchors(), now=NOW + 1)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.bin"]


def test_no_cache_file_loads_as_none(tmp_path: Path) -> None:
    assert cache.load(tmp_path / "absent.bin") is None


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[:-8],
        lambda b: b + b"\x00" * 8,
        lambda b: b[:-100] + bytes([b[-100] ^ 1]) + b[-99:],
        lambda b: b"NOTACACHE" + b[9:],
        lambda b: b[:10],
        lambda b: b[:12] + b"\xff" * 40 + b[52:],
    ],
)
def test_a_damaged_cache_file_is_refused(tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "cache.bin"
    cache.store_snapshot(path, full(old_and_new()[0]), anchors(), now=NOW)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(SnapshotCacheError):
        cache.load(path)


def test_the_cache_holds_a_few_bytes_per_certificate(tmp_path: Path) -> None:
    state = consortium().state(certificate(n) for n in range(4096))
    path = tmp_path / "cache.bin"
    cache.store_snapshot(path, full(state), anchors(), now=NOW)
    # A bucket count and offset (5 bytes) per bucket, a remainder (2) per certificate, and a
    # header of a few kilobytes.
    assert path.stat().st_size <= 4096 * (5 + 2) + 8 * 1024
