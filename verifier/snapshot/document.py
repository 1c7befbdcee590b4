"""The signed files: a full snapshot and a delta, their CBOR documents, compression, COSE_Sign1
signature and every check a border post makes before it trusts one (docs/snapshot.md).

Layers, outermost first::

    COSE_Sign1 (tag 18) [ protected{1: alg, 4: kid}, {}, zlib(document), signature ]
    document = canonical CBOR map: format, kind, issuer, block, made at, content hash,
               state (full) or changes (delta), base and params (delta)

The signature covers the compressed bytes, so nothing is decompressed before it verifies; it is
made with the administration's document-signing key, with the QR's algorithms and primitives
(:mod:`verifier.keys`, :func:`verifier.payload.sig_structure`), and verified against a key
pinned at the border post (:class:`TrustAnchor`), never against a key the file brings.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final

import cbor2

from contracts.domain import ids
from contracts.domain.enums import KeyAlgorithm
from contracts.domain.state import AuthorityRecord
from verifier import keys
from verifier.payload import low_s, non_canonical_signature, sig_structure
from verifier.snapshot import fingerprints as fp
from verifier.snapshot.delta import Changes, apply, diff
from verifier.snapshot.errors import SnapshotFormatError, SnapshotOrderError, SnapshotSignatureError
from verifier.snapshot.model import BlockRef
from verifier.snapshot.records import (
    key_cbor,
    key_from,
    member_cbor,
    member_from,
    mra_cbor,
    mra_from,
)
from verifier.snapshot.state import EXCEPTION_ID_BITS, CompactState, Params, rows_cbor, rows_from

FORMAT_VERSION: Final = 1
COSE_SIGN1_TAG: Final = 18
# A snapshot of a million certificates is about 3 MB signed and 4 MB decompressed; these
# bounds leave room for twenty times that and stop a file (or a zlib bomb) from exhausting a
# border laptop's memory before any check could refuse it.
MAX_SIGNED_BYTES: Final = 64 * 1024 * 1024
MAX_DOCUMENT_BYTES: Final = 128 * 1024 * 1024
# The delta rule (docs/snapshot.md): a delta (or a chain of them) is fetched while it is at
# most this fraction of the full snapshot; beyond it a full snapshot is fetched instead.
DELTA_MAX_FRACTION: Final = 0.5
# The registry starts a new lineage (a full snapshot with new table parameters) once its
# buckets hold this many entries on average: the false-positive rates grow with the load.
MAX_LOAD: Final = 2.0

_HEADER_ALG: Final = 1
_HEADER_KID: Final = 4
_FORMAT, _KIND, _ISSUER, _BLOCK, _MADE_AT, _CONTENT_HASH, _BODY, _BASE, _PARAMS = range(1, 10)
_FULL_KEYS: Final = frozenset(range(1, 8))
_DELTA_KEYS: Final = frozenset(range(1, 10))
_C_MEMBERS, _C_KEYS, _C_MRAS, _C_REMOVED, _C_ADDED, _C_UNLISTED, _C_LISTED = range(1, 8)


class Kind(IntEnum):
    FULL = 1
    DELTA = 2


@dataclass(frozen=True)
class TrustAnchor:
    """An administration's document-signing key, pinned at the border post at set-up."""

    authority: str
    algorithm: KeyAlgorithm
    public_key: bytes

    def __post_init__(self) -> None:
        try:
            ids.authority_code(self.authority)
            keys.load_public_key(self.algorithm, self.public_key)
        except (TypeError, ValueError) as exc:
            raise SnapshotFormatError("trust anchor", str(exc)) from exc

    @property
    def kid(self) -> bytes:
        return ids.key_id(self.public_key)

    @classmethod
    def of(cls, authority: str, key: keys.PrivateKey | keys.PublicKey) -> TrustAnchor:
        return cls(authority, keys.algorithm_of(key), keys.public_key_bytes(key))


@dataclass(frozen=True)
class BaseRef:
    """The state a delta applies to: its block and its content hash."""

    block_number: int
    block_hash: bytes
    content_hash: bytes


@dataclass(frozen=True)
class Header:
    """What every snapshot and delta says about itself (the whole document but its body)."""

    kind: Kind
    issuer: str
    kid: bytes
    block: BlockRef
    made_at: int
    content_hash: bytes
    """SHA-256 of the canonical state at ``block`` (for a delta: the state it leads to)."""
    base: BaseRef | None = None
    params: Params | None = None

    @property
    def point(self) -> BaseRef:
        """This header's state, as a delta's base names it."""
        return BaseRef(self.block.number, self.block.hash, self.content_hash)


@dataclass(frozen=True)
class Snapshot:
    header: Header
    state: CompactState


@dataclass(frozen=True)
class Delta:
    header: Header
    changes: Changes


# ---------------------------------------------------------------- writing (the registry)


def encode_snapshot(
    state: CompactState, *, issuer: str, block: BlockRef, made_at: int
) -> tuple[bytes, bytes]:
    """The unsigned document of a full snapshot, and the state's content hash."""
    body = state.to_cbor()
    content_hash = _sha256(cbor2.dumps(body, canonical=True))
    document = {
        _FORMAT: FORMAT_VERSION,
        _KIND: int(Kind.FULL),
        _ISSUER: issuer,
        _BLOCK: _block_cbor(block),
        _MADE_AT: made_at,
        _CONTENT_HASH: content_hash,
        _BODY: body,
    }
    return bytes(cbor2.dumps(document, canonical=True)), content_hash


def encode_delta(
    changes: Changes,
    *,
    params: Params,
    issuer: str,
    base: BaseRef,
    block: BlockRef,
    content_hash: bytes,
    made_at: int,
) -> bytes:
    """The unsigned document of a delta from ``base`` to the state ``content_hash`` names."""
    entry_bits = params.entry_bits
    body = {
        _C_MEMBERS: [member_cbor(m) for m in changes.members],
        _C_KEYS: [key_cbor(k) for k in changes.keys],
        _C_MRAS: [mra_cbor(m) for m in changes.mras],
        _C_REMOVED: fp.encode_values(changes.removed_entries, entry_bits),
        _C_ADDED: fp.encode_values(changes.added_entries, entry_bits),
        _C_UNLISTED: fp.encode_values(changes.removed_exceptions, params.exception_id_bits),
        _C_LISTED: rows_cbor(changes.exceptions, params.exception_id_bits),
    }
    document = {
        _FORMAT: FORMAT_VERSION,
        _KIND: int(Kind.DELTA),
        _ISSUER: issuer,
        _BLOCK: _block_cbor(block),
        _MADE_AT: made_at,
        _CONTENT_HASH: content_hash,
        _BODY: body,
        _BASE: [base.block_number, base.block_hash, base.content_hash],
        _PARAMS: [params.quotient_bits, params.exception_id_bits],
    }
    return bytes(cbor2.dumps(document, canonical=True))


def sign(document: bytes, private_key: keys.PrivateKey) -> bytes:
    """COSE_Sign1 over the zlib-compressed document, with the key's algorithm and id."""
    algorithm = keys.algorithm_of(private_key)
    protected = bytes(
        cbor2.dumps(
            {_HEADER_ALG: algorithm.cose, _HEADER_KID: keys.key_id_of(private_key)},
            canonical=True,
        )
    )
    # Definite lengths, shortest heads: the layout _parse_cose reads.
    payload = zlib.compress(document, 9)
    signature = low_s(algorithm, keys.sign(private_key, sig_structure(protected, payload)))
    return bytes(cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature])))


def make_snapshot(
    state: CompactState,
    *,
    private_key: keys.PrivateKey,
    issuer: str,
    block: BlockRef,
    made_at: int,
) -> bytes:
    """A signed full snapshot of ``state`` at ``block``."""
    document, _ = encode_snapshot(state, issuer=issuer, block=block, made_at=made_at)
    return sign(document, private_key)


def make_delta(
    old: CompactState,
    old_block: BlockRef,
    new: CompactState,
    new_block: BlockRef,
    *,
    private_key: keys.PrivateKey,
    issuer: str,
    made_at: int,
) -> bytes:
    """A signed delta from ``old`` at ``old_block`` to ``new`` at ``new_block``. Raises
    :class:`~verifier.snapshot.errors.FullSnapshotNeeded` when no delta can say it."""
    if new_block.number <= old_block.number:
        raise SnapshotOrderError(
            f"a delta leads to a later block: {new_block.number} is not after {old_block.number}"
        )
    document = encode_delta(
        diff(old, new),
        params=new.params,
        issuer=issuer,
        base=BaseRef(old_block.number, old_block.hash, old.content_hash()),
        block=new_block,
        content_hash=new.content_hash(),
        made_at=made_at,
    )
    return sign(document, private_key)


def prefer_full(full_bytes: int, delta_bytes: Iterable[int] | None) -> bool:
    """The delta rule: fetch the full snapshot when no delta chain leads from the cache to the
    latest block, or when the chain's bytes exceed :data:`DELTA_MAX_FRACTION` of it."""
    if delta_bytes is None:
        return True
    return sum(delta_bytes) > DELTA_MAX_FRACTION * full_bytes


def needs_new_lineage(params: Params, certificate_count: int) -> bool:
    """Whether the registry should start over with a full snapshot of new parameters: its
    buckets hold more than :data:`MAX_LOAD` entries on average (or a quarter of one, when
    the consortium shrank to a much smaller table)."""
    load = certificate_count / (1 << params.quotient_bits)
    return load > MAX_LOAD or (params.quotient_bits > 0 and load < MAX_LOAD / 8)


# ---------------------------------------------------------------- reading (the border post)


def read_snapshot(
    data: bytes, anchors: Sequence[TrustAnchor], *, current: Header | None = None
) -> Snapshot:
    """A full snapshot, verified: signed by a pinned anchor, intact, well-formed, its content
    hash true, and not older than ``current`` (the cache's header). Raises a
    :class:`~verifier.snapshot.errors.SnapshotError` naming what is wrong."""
    header, body = _open(data, anchors, Kind.FULL)
    state = CompactState.from_cbor(body)
    if state.content_hash() != header.content_hash:
        raise SnapshotFormatError("content_hash", "is not the hash of the snapshot's state")
    _check_keys_of_issuer(state, header)
    if current is not None:
        _check_not_older(header, current)
    return Snapshot(header, state)


def read_delta(data: bytes, anchors: Sequence[TrustAnchor], *, current: Header) -> Delta:
    """A delta, verified like a snapshot, whose base is exactly ``current``'s state."""
    header, body = _open(data, anchors, Kind.DELTA)
    assert header.base is not None
    assert header.params is not None
    if header.base != current.point:
        raise SnapshotOrderError(
            f"the delta applies to block {header.base.block_number} (state "
            f"{header.base.content_hash.hex()[:16]}…); the cache holds block "
            f"{current.block.number} (state {current.content_hash.hex()[:16]}…)",
            code="delta_base_mismatch",
        )
    return Delta(header, _changes_from(body, header.params))


def apply_delta(state: CompactState, current: Header, delta: Delta) -> Snapshot:
    """The cache's state moved to the delta's block; refuses a result whose content hash is
    not the one the delta names (the delta did not fit, or the cache was not what it said)."""
    if delta.header.base != current.point:
        raise SnapshotOrderError(
            "the delta's base is not the cache's state", code="delta_base_mismatch"
        )
    if delta.header.params != state.params:
        raise SnapshotOrderError(
            f"the delta's table parameters {delta.header.params} are not the cache's "
            f"{state.params}",
            code="delta_base_mismatch",
        )
    new = apply(state, delta.changes)
    if new.content_hash() != delta.header.content_hash:
        raise SnapshotOrderError(
            "applying the delta did not give the state it names: fetch a full snapshot",
            code="delta_does_not_fit",
        )
    _check_keys_of_issuer(new, delta.header)
    return Snapshot(delta.header, new)


def _open(data: bytes, anchors: Sequence[TrustAnchor], kind: Kind) -> tuple[Header, Any]:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise SnapshotFormatError("file", f"must be bytes, got {type(data).__name__}")
    if len(data) > MAX_SIGNED_BYTES:
        raise SnapshotFormatError(
            "file", f"{len(data)} bytes is larger than {MAX_SIGNED_BYTES}", code="too_large"
        )
    protected, payload, signature = _parse_cose(bytes(data))
    algorithm, kid = _parse_protected(protected)
    anchor = next((a for a in anchors if a.kid == kid), None)
    if anchor is None:
        raise SnapshotSignatureError(
            f"signed with key {kid.hex()}, which is not a pinned trust anchor "
            f"(pinned: {', '.join(a.kid.hex() for a in anchors) or 'none'})",
            code="snapshot_untrusted_key",
        )
    if algorithm is not anchor.algorithm:
        raise SnapshotSignatureError(
            f"signed with {algorithm.name}, but the pinned key {kid.hex()} is "
            f"{anchor.algorithm.name}",
            code="snapshot_untrusted_key",
        )
    why = non_canonical_signature(algorithm, signature)
    public = keys.load_public_key(anchor.algorithm, anchor.public_key)
    if why is not None or not keys.verify_signature(
        public, sig_structure(protected, payload), signature
    ):
        raise SnapshotSignatureError(
            f"the signature does not verify with the pinned key {kid.hex()}"
            + (f" ({why})" if why else "")
        )
    document = _decompress(payload)
    try:
        obj = cbor2.loads(document)
    except Exception as exc:  # cbor2 raises several types on bad input; all mean "not CBOR"
        raise SnapshotFormatError("document", f"is not CBOR: {exc}") from exc
    if not isinstance(obj, dict):
        raise SnapshotFormatError("document", "must be a map")
    header = _header(obj, kid, kind)
    if header.issuer != anchor.authority:
        raise SnapshotSignatureError(
            f"the document names issuer {header.issuer}, but key {kid.hex()} is pinned for "
            f"{anchor.authority}",
            code="snapshot_untrusted_key",
        )
    if bytes(cbor2.dumps(obj, canonical=True)) != document:
        raise SnapshotFormatError("document", "is not canonical CBOR")
    return header, obj[_BODY]


def _parse_cose(data: bytes) -> tuple[bytes, bytes, bytes]:
    """``(protected, payload, signature)`` of the one COSE_Sign1 layout this format writes,
    read byte by byte: unverified bytes never reach a general CBOR decoder, which would build
    whatever structure (and use whatever memory) they describe."""
    if data[:2] != _COSE_HEAD:
        raise SnapshotFormatError("cose", "must be a COSE_Sign1 (CBOR tag 18) array of 4")
    protected, at = _byte_string(data, 2, "cose.protected", _MAX_PROTECTED)
    if data[at : at + 1] != b"\xa0":
        raise SnapshotFormatError("cose", "the unprotected header must be an empty map")
    payload, at = _byte_string(data, at + 1, "cose.payload", len(data))
    signature, at = _byte_string(data, at, "cose.signature", keys.SIGNATURE_LENGTH)
    if len(signature) != keys.SIGNATURE_LENGTH:
        raise SnapshotFormatError("cose.signature", f"must be {keys.SIGNATURE_LENGTH} bytes")
    if at != len(data):
        raise SnapshotFormatError("cose", f"{len(data) - at} bytes follow the COSE_Sign1")
    return protected, payload, signature


# Tag 18 (one byte, 0xd2) and an array of 4 (0x84): every signed file starts so.
_COSE_HEAD: Final = b"\xd2\x84"
_MAX_PROTECTED: Final = 32


def _byte_string(data: bytes, at: int, field: str, limit: int) -> tuple[bytes, int]:
    """The definite-length byte string at ``at`` (shortest head, RFC 8949 deterministic
    encoding) and the offset after it; at most ``limit`` bytes long."""
    head = data[at : at + 1]
    if not head or head[0] >> 5 != 2:
        raise SnapshotFormatError(field, "must be a byte string")
    info = head[0] & 0x1F
    if info < 24:
        length, start = info, at + 1
    elif info in _ARGUMENT_BYTES:
        size = _ARGUMENT_BYTES[info]
        start = at + 1 + size
        length = int.from_bytes(data[at + 1 : start], "big")
        if start > len(data) or length < (24 if size == 1 else 1 << (8 * size // 2)):
            raise SnapshotFormatError(field, "has a truncated or non-shortest length")
    else:
        raise SnapshotFormatError(field, "must have a definite length")
    if length > limit or start + length > len(data):
        raise SnapshotFormatError(field, "is longer than the file or its bound")
    return data[start : start + length], start + length


_ARGUMENT_BYTES: Final = {24: 1, 25: 2, 26: 4, 27: 8}


def _parse_protected(protected: bytes) -> tuple[KeyAlgorithm, bytes]:
    try:
        header = cbor2.loads(protected)
    except Exception as exc:  # see _open
        raise SnapshotFormatError("cose.protected", f"is not CBOR: {exc}") from exc
    if (
        not isinstance(header, dict)
        or set(header) != {_HEADER_ALG, _HEADER_KID}
        or bytes(cbor2.dumps(header, canonical=True)) != protected
    ):
        raise SnapshotFormatError("cose.protected", "must be exactly {1: alg, 4: kid}")
    alg, kid = header[_HEADER_ALG], header[_HEADER_KID]
    try:
        algorithm = KeyAlgorithm.from_cose(alg)
    except (TypeError, ValueError) as exc:
        raise SnapshotFormatError("cose.protected.alg", str(exc)) from exc
    if not isinstance(kid, bytes) or len(kid) != 8:
        raise SnapshotFormatError("cose.protected.kid", "must be 8 bytes")
    return algorithm, kid


def _decompress(payload: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        document = inflater.decompress(payload, MAX_DOCUMENT_BYTES + 1)
    except zlib.error as exc:
        raise SnapshotFormatError("payload", f"is not zlib data: {exc}") from exc
    if len(document) > MAX_DOCUMENT_BYTES:
        raise SnapshotFormatError(
            "payload", f"decompresses to more than {MAX_DOCUMENT_BYTES} bytes", code="too_large"
        )
    if not inflater.eof or inflater.unused_data:
        raise SnapshotFormatError("payload", "is a truncated zlib stream, or bytes follow it")
    return document


def _header(obj: Mapping[Any, Any], kid: bytes, kind: Kind) -> Header:
    if obj.get(_FORMAT) != FORMAT_VERSION or type(obj.get(_FORMAT)) is not int:
        raise SnapshotFormatError(
            "format", f"{obj.get(_FORMAT)!r} is not version {FORMAT_VERSION}", code="unsupported"
        )
    if obj.get(_KIND) != int(kind):
        raise SnapshotFormatError("kind", f"this file is not a {kind.name.lower()} snapshot")
    expected = _FULL_KEYS if kind is Kind.FULL else _DELTA_KEYS
    if set(obj) != expected:
        raise SnapshotFormatError("document", f"must hold exactly the keys {sorted(expected)}")
    issuer = obj[_ISSUER]
    try:
        ids.authority_code(issuer)
    except (TypeError, ValueError) as exc:
        raise SnapshotFormatError("issuer", str(exc)) from exc
    block = _block_from(obj[_BLOCK], "block")
    made_at = obj[_MADE_AT]
    if type(made_at) is not int or not 0 <= made_at < 2**40:
        raise SnapshotFormatError("made_at", "must be unix seconds")
    content_hash = obj[_CONTENT_HASH]
    if not isinstance(content_hash, bytes) or len(content_hash) != 32:
        raise SnapshotFormatError("content_hash", "must be 32 bytes")
    base = params = None
    if kind is Kind.DELTA:
        base = _base_from(obj[_BASE])
        params = _params_from(obj[_PARAMS])
        if block.number <= base.block_number:
            raise SnapshotFormatError("block", "a delta must lead to a later block than its base")
    return Header(kind, issuer, kid, block, made_at, content_hash, base, params)


def _check_keys_of_issuer(state: CompactState, header: Header) -> None:
    """A snapshot must not contradict its own signature: the signing key, if the state lists
    it, belongs to the issuer and was not revoked before the snapshot was made."""
    key = state.signing_key(header.kid)
    if key is None:
        return
    if key.authority != header.issuer:
        raise SnapshotSignatureError(
            f"the state lists the signing key {header.kid.hex()} as {key.authority}'s",
            code="snapshot_untrusted_key",
        )
    if key.revoked_at and key.revoked_at <= header.made_at:
        raise SnapshotSignatureError(
            f"the state lists the signing key {header.kid.hex()} as revoked before the "
            "snapshot was made",
            code="snapshot_untrusted_key",
        )


def _check_not_older(header: Header, current: Header) -> None:
    if header.block.number < current.block.number:
        raise SnapshotOrderError(
            f"the snapshot reflects block {header.block.number}, older than the cache's "
            f"block {current.block.number}",
            code="snapshot_older",
        )
    if header.block.number == current.block.number and header.point != current.point:
        raise SnapshotOrderError(
            f"the snapshot and the cache both claim block {header.block.number} with "
            "different contents",
            code="snapshot_conflict",
        )


# ---------------------------------------------------------------- small codecs


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _block_cbor(block: BlockRef) -> list[object]:
    return [block.number, block.hash, block.time]


def _block_from(obj: object, where: str) -> BlockRef:
    if (
        not isinstance(obj, list)
        or len(obj) != 3
        or type(obj[0]) is not int
        or obj[0] < 0
        or not isinstance(obj[1], bytes)
        or len(obj[1]) != 32
        or type(obj[2]) is not int
        or obj[2] < 0
    ):
        raise SnapshotFormatError(where, "must be [number, 32-byte hash, unix time]")
    return BlockRef(obj[0], obj[1], obj[2])


def _base_from(obj: object) -> BaseRef:
    if (
        not isinstance(obj, list)
        or len(obj) != 3
        or type(obj[0]) is not int
        or obj[0] < 0
        or not all(isinstance(v, bytes) and len(v) == 32 for v in obj[1:])
    ):
        raise SnapshotFormatError("base", "must be [block number, block hash, content hash]")
    return BaseRef(obj[0], obj[1], obj[2])


def _params_from(obj: object) -> Params:
    if (
        not isinstance(obj, list)
        or len(obj) != 2
        or type(obj[0]) is not int
        or not 0 <= obj[0] <= fp.MAX_QUOTIENT_BITS
        or obj[1] not in EXCEPTION_ID_BITS
    ):
        raise SnapshotFormatError("params", "must be [quotient bits, exception id bits]")
    return Params(obj[0], obj[1])


def _changes_from(body: object, params: Params) -> Changes:
    where = "changes"
    if not isinstance(body, dict) or set(body) != set(range(1, 8)):
        raise SnapshotFormatError(where, "must be a map of keys 1 to 7")
    for key in (_C_MEMBERS, _C_KEYS, _C_MRAS):
        if not isinstance(body[key], list):
            raise SnapshotFormatError(f"{where}[{key}]", "must be an array")
    members: list[AuthorityRecord] = [
        member_from(m, f"{where}.members[{i}]") for i, m in enumerate(body[_C_MEMBERS])
    ]
    key_records = [key_from(k, f"{where}.keys[{i}]") for i, k in enumerate(body[_C_KEYS])]
    mras = [mra_from(m, f"{where}.mras[{i}]") for i, m in enumerate(body[_C_MRAS])]
    removed = fp.decode_values(body[_C_REMOVED], params.entry_bits, f"{where}.removed_entries")
    added = fp.decode_values(body[_C_ADDED], params.entry_bits, f"{where}.added_entries")
    bits = params.exception_id_bits
    unlisted = fp.decode_values(body[_C_UNLISTED], bits, f"{where}.removed_exceptions")
    rows = rows_from(body[_C_LISTED], bits, f"{where}.exceptions")
    return Changes(
        members=tuple(members),
        keys=tuple(key_records),
        mras=tuple(mras),
        removed_entries=tuple(removed),
        added_entries=tuple(added),
        removed_exceptions=tuple(unlisted),
        exceptions=rows,
    )
