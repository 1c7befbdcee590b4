"""The border post's cache: one flat file holding the verified state, mapped into memory.

A flat file rather than SQLite (docs/snapshot.md, "The cache file", has the measurements): the
state is a handful of arrays that a verifier reads by position, so the file is those arrays
as they are in memory (little-endian, each aligned to 8 bytes) behind a CBOR header. Opening
it maps the file and checks its SHA-256; nothing is parsed per certificate, so a million
certificates open in milliseconds, and a lookup is the same array access as in memory.

Every write goes to a temporary file that replaces the cache in one rename: an interrupted
sync leaves the previous cache whole. A snapshot or delta is stored only after
:mod:`verifier.snapshot.document` verified it against the pinned keys and the cache's own
position (older snapshots and deltas of another base are refused).
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import sys
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import cbor2

from verifier.snapshot import fingerprints as fp
from verifier.snapshot.document import (
    Delta,
    Header,
    Kind,
    Snapshot,
    TrustAnchor,
    apply_delta,
    read_delta,
    read_snapshot,
)
from verifier.snapshot.errors import SnapshotCacheError, SnapshotError
from verifier.snapshot.model import BlockRef
from verifier.snapshot.records import (
    key_cbor,
    key_from,
    member_cbor,
    member_from,
    mra_cbor,
    mra_from,
)
from verifier.snapshot.state import EXCEPTION_ID_BITS, CompactState, Params
from verifier.source import SourceInfo

MAGIC: Final = b"AEOSNAPC"
CACHE_VERSION: Final = 1
_ALIGN: Final = 8
# The arrays of a state, in file order, with their element types.
_SECTIONS: Final = (
    ("counts", "B"),
    ("offsets", "I"),
    ("remainders", "H"),
    ("exception_ids", "Q"),
    ("exception_flags", "B"),
    ("exception_reasons", "B"),
    ("exception_since", "I"),
    ("exception_versions", "H"),
    ("exception_valid_until", "H"),
)
(
    _VERSION,
    _ISSUER,
    _KID,
    _BLOCK,
    _MADE_AT,
    _CONTENT_HASH,
    _SYNCED_AT,
    _PARAMS,
    _OVERFLOW,
    _MEMBERS,
    _KEYS,
    _MRAS,
    _LAYOUT,
    _DIGEST,
) = range(1, 15)


@dataclass
class CachedSnapshot:
    """A loaded cache: the state, the header of the last file applied, and the sync time."""

    header: Header
    state: CompactState
    synced_at: int
    path: Path

    def source_info(self) -> SourceInfo:
        """What verdicts say about the status data: as of the time the registry made it."""
        return SourceInfo(
            kind="snapshot",
            as_of=datetime.fromtimestamp(self.header.made_at, UTC),
            block_number=self.header.block.number,
            block_hash=self.header.block.hash,
            block_time=datetime.fromtimestamp(self.header.block.time, UTC),
        )


def save(path: Path, header: Header, state: CompactState, *, synced_at: int) -> int:
    """Writes the cache file atomically; returns its size in bytes."""
    sections = [_section_bytes(getattr(state, name), code) for name, code in _SECTIONS]
    digest = hashlib.sha256()
    layout = []
    offset = 0
    for (name, _), data in zip(_SECTIONS, sections, strict=True):
        layout.append([name, offset, len(data)])
        offset += _padded(len(data))
    for data in sections:
        digest.update(data)
        digest.update(bytes(_padded(len(data)) - len(data)))
    head = bytes(
        cbor2.dumps(
            {
                _VERSION: CACHE_VERSION,
                _ISSUER: header.issuer,
                _KID: header.kid,
                _BLOCK: [header.block.number, header.block.hash, header.block.time],
                _MADE_AT: header.made_at,
                _CONTENT_HASH: header.content_hash,
                _SYNCED_AT: synced_at,
                _PARAMS: [state.params.quotient_bits, state.params.exception_id_bits],
                _OVERFLOW: dict(state.overflow),
                _MEMBERS: [member_cbor(m) for _, m in sorted(state.members.items())],
                _KEYS: [key_cbor(k) for _, k in sorted(state.keys.items())],
                _MRAS: [mra_cbor(m) for _, m in sorted(state.mras.items())],
                _LAYOUT: layout,
                _DIGEST: digest.digest(),
            },
            canonical=True,
        )
    )
    prefix = MAGIC + len(head).to_bytes(4, "little") + head
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("wb") as handle:
            handle.write(prefix + bytes(_padded(len(prefix)) - len(prefix)))
            for data in sections:
                handle.write(data)
                handle.write(bytes(_padded(len(data)) - len(data)))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    _sync_directory(path.parent)
    return path.stat().st_size


def load(path: Path) -> CachedSnapshot | None:
    """The cache at ``path``, or ``None`` when there is none yet. Raises
    :class:`SnapshotCacheError` when the file is not a whole cache of this version."""
    path = Path(path)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SnapshotCacheError(f"cannot read the cache {path}: {exc.strerror or exc}") from exc
    with handle:
        size = os.fstat(handle.fileno()).st_size
        if size < len(MAGIC) + 4:
            raise SnapshotCacheError(f"{path} is not a snapshot cache (too short)")
        # The mapping outlives the file handle; it closes when the last view of it is gone.
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        return _load(path, mapped)
    except SnapshotError:
        raise
    except Exception as exc:  # a damaged header can fail in many ways; all mean "damaged"
        raise SnapshotCacheError(f"{path} is damaged: {type(exc).__name__}: {exc}") from exc


def _load(path: Path, mapped: mmap.mmap) -> CachedSnapshot:
    view = memoryview(mapped)
    if bytes(view[: len(MAGIC)]) != MAGIC:
        raise SnapshotCacheError(f"{path} is not a snapshot cache")
    head_length = int.from_bytes(view[8:12], "little")
    if 12 + head_length > len(view):
        raise SnapshotCacheError(f"{path} is truncated (its header runs past the end)")
    head = cbor2.loads(bytes(view[12 : 12 + head_length]))
    if not isinstance(head, dict) or head.get(_VERSION) != CACHE_VERSION:
        version = head.get(_VERSION) if isinstance(head, dict) else None
        raise SnapshotCacheError(
            f"{path} has cache format {version!r}; this verifier reads {CACHE_VERSION}: "
            "sync again with a full snapshot"
        )
    start = _padded(12 + head_length)
    body = view[start:]
    layout = head[_LAYOUT]
    if [entry[0] for entry in layout] != [name for name, _ in _SECTIONS]:
        raise SnapshotCacheError(f"{path} has an unexpected layout")
    end = max((_padded(offset + length) for _, offset, length in layout), default=0)
    if end != len(body):
        raise SnapshotCacheError(f"{path} is truncated or has bytes after its last array")
    if hashlib.sha256(body).digest() != head[_DIGEST]:
        raise SnapshotCacheError(f"{path} is corrupted: its arrays do not match their digest")
    arrays: dict[str, Sequence[int]] = {}
    for (name, code), (_, offset, length) in zip(_SECTIONS, layout, strict=True):
        arrays[name] = _view(body[offset : offset + length], code)
    q, bits = head[_PARAMS]
    if bits not in EXCEPTION_ID_BITS or not 0 <= q <= fp.MAX_QUOTIENT_BITS:
        raise SnapshotCacheError(f"{path} has unexpected table parameters")
    state = CompactState(
        params=Params(q, bits),
        members={m.code: m for m in (member_from(x, "cache.members") for x in head[_MEMBERS])},
        keys={k.kid: k for k in (key_from(x, "cache.keys") for x in head[_KEYS])},
        mras={m.mra_id: m for m in (mra_from(x, "cache.mras") for x in head[_MRAS])},
        counts=bytes(arrays["counts"]),
        overflow=dict(head[_OVERFLOW]),
        offsets=arrays["offsets"],
        remainders=arrays["remainders"],
        exception_ids=arrays["exception_ids"],
        exception_flags=arrays["exception_flags"],
        exception_reasons=arrays["exception_reasons"],
        exception_since=arrays["exception_since"],
        exception_versions=arrays["exception_versions"],
        exception_valid_until=arrays["exception_valid_until"],
    )
    if len(state.offsets) != (1 << q) + 1 or state.offsets[-1] != len(state.remainders):
        raise SnapshotCacheError(f"{path} has inconsistent arrays")
    number, block_hash, block_time = head[_BLOCK]
    header = Header(
        kind=Kind.FULL,
        issuer=head[_ISSUER],
        kid=head[_KID],
        block=BlockRef(number, block_hash, block_time),
        made_at=head[_MADE_AT],
        content_hash=head[_CONTENT_HASH],
        params=state.params,
    )
    return CachedSnapshot(header, state, head[_SYNCED_AT], path)


def _view(data: memoryview, code: str) -> Sequence[int]:
    """An array section: the file's own bytes on a little-endian host, a copy elsewhere."""
    if sys.byteorder == "little":
        return data.cast(code)  # type: ignore[call-overload,no-any-return]
    return fp.array_from_le(code, data)


def _section_bytes(values: Sequence[int], code: str) -> bytes:
    if isinstance(values, bytes):
        return values
    if isinstance(values, memoryview) and sys.byteorder == "little":
        return values.tobytes()
    if isinstance(values, array) and values.typecode == code:
        return fp.little_endian(values)
    return fp.little_endian(array(code, values))


def _padded(size: int) -> int:
    return -(-size // _ALIGN) * _ALIGN


def _sync_directory(directory: Path) -> None:
    """Makes the rename itself durable (POSIX; a no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# ---------------------------------------------------------------- syncing into the cache


def store_snapshot(
    path: Path, data: bytes, anchors: Sequence[TrustAnchor], *, now: int
) -> CachedSnapshot:
    """Verifies a full snapshot against the pinned keys and the cache, then stores it."""
    current = load(path)
    snapshot = read_snapshot(data, anchors, current=current.header if current else None)
    return _store(path, snapshot, now)


def store_delta(
    path: Path, data: bytes, anchors: Sequence[TrustAnchor], *, now: int
) -> CachedSnapshot:
    """Verifies a delta against the pinned keys and the cache's state, applies it, and
    stores the result. Needs a cache (a first sync takes a full snapshot)."""
    current = load(path)
    if current is None:
        raise SnapshotCacheError(
            f"{path} holds no snapshot yet: a first sync needs a full snapshot",
            code="no_cache",
        )
    delta: Delta = read_delta(data, anchors, current=current.header)
    return _store(path, apply_delta(current.state, current.header, delta), now)


def _store(path: Path, snapshot: Snapshot, now: int) -> CachedSnapshot:
    state = snapshot.state
    header = Header(
        kind=Kind.FULL,
        issuer=snapshot.header.issuer,
        kid=snapshot.header.kid,
        block=snapshot.header.block,
        made_at=snapshot.header.made_at,
        content_hash=snapshot.header.content_hash,
        params=state.params,
    )
    save(path, header, state, synced_at=now)
    loaded = load(path)
    assert loaded is not None  # just written
    return loaded
