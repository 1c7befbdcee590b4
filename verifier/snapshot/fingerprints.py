"""The membership filter: short fingerprints of every issued certificate, sorted and stored as
bucket counts plus fixed-width remainders (docs/snapshot.md, "The certificate table").

Each issued certificate contributes one *entry* of ``q + 16`` bits:

- the top ``q`` bits of its id choose a bucket (``q`` is about log2 of the number of
  certificates, so a bucket holds one entry on average);
- the next :data:`ID_BITS` bits of its id tell it from the bucket's other entries;
- :data:`BINDING_BITS` bits of :func:`binding_hash` bind what its current QR must say (version,
  record digest, holder reference, tiers, validity).

Sorted, the entries are a bucket count per bucket (one byte, compressible: their entropy is
about 2 bits) and a 16-bit remainder per entry: about 18 bits per certificate, the size of a
16-bit binary fuse filter, but sorted, so a delta can add and remove entries and the result is
exactly the table a full snapshot would carry. The same codec (:func:`encode_sorted`) carries
the exception ids and a delta's entry lists.

Everything here is plain Python and ``array``: a border laptop needs no compiled extension.
"""

from __future__ import annotations

import hashlib
import itertools
import struct
import sys
from array import array
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from verifier.snapshot.errors import SnapshotFormatError

ID_BITS: Final = 8
BINDING_BITS: Final = 8
REMAINDER_BITS: Final = ID_BITS + BINDING_BITS
KEY_PREFIX_BITS: Final = 64
# Bucket counts are bytes; this value means "this many or more", the exact count is in the
# overflow map (a member grinding certificate numbers into one bucket must not break the
# format, only make its own bucket long).
COUNT_ESCAPE: Final = 255
# 2**24 buckets: 16.8 million certificates at a load of one, 33 million at the most a lineage
# holds (docs/snapshot.md); it also bounds what a bucket table may cost a reader's memory.
MAX_QUOTIENT_BITS: Final = 24
_BINDING_DOMAIN: Final = b"AEO snapshot binding v1\x00"
# id, version, digest, holder reference, tiers, valid from, valid until: big-endian, 91 bytes.
_BINDING_LAYOUT: Final = struct.Struct(">32sH20s32sBHH")
_TYPECODE_OF_BYTES: Final = {1: "B", 2: "H", 4: "I", 8: "Q"}

for _bytes, _code in _TYPECODE_OF_BYTES.items():  # the file formats rely on these widths
    assert array(_code).itemsize == _bytes, f"array {_code!r} is not {_bytes} bytes here"


def key_prefix(certificate_id: bytes) -> int:
    """The first 64 bits of a certificate id (ids are Keccak-256 outputs, so uniform)."""
    return int.from_bytes(certificate_id[:8], "big")


def binding_hash(
    certificate_id: bytes,
    *,
    version: int,
    digest: bytes,
    holder_ref: bytes,
    tiers: int,
    valid_from: int,
    valid_until: int,
) -> int:
    """64 bits of SHA-256 over what a QR of this certificate version must state.

    ``valid_until`` is 0 for a renewed certificate: its QRs signed before the renewal carry an
    earlier date, which the snapshot lists instead (docs/snapshot.md, "Binding").
    """
    data = _BINDING_LAYOUT.pack(
        certificate_id, version, digest, holder_ref, tiers, valid_from, valid_until
    )
    return int.from_bytes(hashlib.sha256(_BINDING_DOMAIN + data).digest()[:8], "big")


def entry_value(prefix: int, binding: int, quotient_bits: int) -> int:
    """The ``quotient_bits + 16``-bit entry of a certificate with this key prefix and binding."""
    top = prefix >> (KEY_PREFIX_BITS - quotient_bits - ID_BITS)
    return (top << BINDING_BITS) | (binding >> (64 - BINDING_BITS))


def quotient_bits_for(count: int, width: int | None = None) -> int:
    """Bucket bits for ``count`` values: about one value per bucket (``2**q >= count``),
    leaving at least one remainder bit when ``width`` is given."""
    q = max(0, count - 1).bit_length()
    if width is not None:
        q = min(q, width - 1)
    return min(q, MAX_QUOTIENT_BITS)


def remainder_bytes(bits: int) -> int:
    """The smallest array width (1, 2, 4 or 8 bytes) holding ``bits`` bits."""
    for size in (1, 2, 4, 8):
        if bits <= 8 * size:
            return size
    raise ValueError(f"a remainder of {bits} bits does not fit 8 bytes")


def little_endian(values: array) -> bytes:  # type: ignore[type-arg]
    """An array's bytes, little-endian whatever the host (every format here is)."""
    if sys.byteorder == "big" and values.itemsize > 1:
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def array_from_le(typecode: str, data: bytes | memoryview) -> array:  # type: ignore[type-arg]
    values = array(typecode)
    values.frombytes(data)
    if sys.byteorder == "big" and values.itemsize > 1:
        values.byteswap()
    return values


# ---------------------------------------------------------------- the sorted-list codec


def encode_sorted(values: Sequence[int], width: int, quotient_bits: int) -> list[object]:
    """A sorted multiset of ``width``-bit integers as ``[q, counts, overflow, remainders]``.

    ``counts`` has one byte per bucket (:data:`COUNT_ESCAPE` for a bucket of 255 or more,
    whose count is in ``overflow``); ``remainders`` holds each value's low ``width - q`` bits,
    little-endian, in :func:`remainder_bytes` bytes each, in order.
    """
    q = quotient_bits
    if not 0 <= q < width:
        raise ValueError(f"quotient bits {q} must be 0..{width - 1}")
    shift = width - q
    mask = (1 << shift) - 1
    counts = bytearray(1 << q)
    overflow: dict[int, int] = {}
    previous = -1
    for value in values:
        if value < previous or value >> width:
            raise ValueError("values must be sorted and fit their width")
        previous = value
        bucket = value >> shift
        count = counts[bucket]
        if count < COUNT_ESCAPE - 1:
            counts[bucket] = count + 1
        elif count == COUNT_ESCAPE - 1:
            counts[bucket] = COUNT_ESCAPE
            overflow[bucket] = COUNT_ESCAPE
        else:
            overflow[bucket] += 1
    typecode = _TYPECODE_OF_BYTES[remainder_bytes(shift)]
    remainders = array(typecode, (value & mask for value in values))
    return [q, bytes(counts), overflow, little_endian(remainders)]


def decode_sorted(obj: object, width: int, field: str) -> tuple[int, array, array]:  # type: ignore[type-arg]
    """``(q, offsets, remainders)`` of :func:`encode_sorted`'s output, validated: bucket ``b``
    holds ``remainders[offsets[b]:offsets[b + 1]]``, ascending. Raises
    :class:`SnapshotFormatError` naming ``field``."""
    if not isinstance(obj, list) or len(obj) != 4:
        raise SnapshotFormatError(field, "must be [quotient bits, counts, overflow, remainders]")
    q, counts, overflow, packed = obj
    if type(q) is not int or not 0 <= q < width or q > MAX_QUOTIENT_BITS:
        raise SnapshotFormatError(
            field, f"quotient bits must be 0..{min(width - 1, MAX_QUOTIENT_BITS)}"
        )
    if not isinstance(counts, bytes) or len(counts) != 1 << q:
        raise SnapshotFormatError(field, f"counts must be {1 << q} bytes")
    if not isinstance(overflow, dict):
        raise SnapshotFormatError(field, "overflow must be a map")
    if not isinstance(packed, bytes):
        raise SnapshotFormatError(field, "remainders must be bytes")
    per_bucket: list[int] | bytes = counts
    if overflow or COUNT_ESCAPE in counts:
        per_bucket = _with_overflow(counts, overflow, field)
    offsets = array("Q", itertools.accumulate(per_bucket, initial=0))
    total = offsets[-1]
    shift = width - q
    size = remainder_bytes(shift)
    if len(packed) != total * size:
        raise SnapshotFormatError(field, f"{total} remainders need {total * size} bytes")
    remainders = array_from_le(_TYPECODE_OF_BYTES[size], packed)
    if shift < 8 * size and remainders and max(remainders) >> shift:
        raise SnapshotFormatError(field, f"a remainder exceeds {shift} bits")
    _check_ascending(offsets, remainders, field)
    return q, offsets, remainders


def _with_overflow(counts: bytes, overflow: Mapping[object, object], field: str) -> list[int]:
    escaped = {i for i, count in enumerate(counts) if count == COUNT_ESCAPE}
    if set(overflow) != escaped:
        raise SnapshotFormatError(field, "overflow must list exactly the buckets counted 255")
    full = list(counts)
    for bucket in escaped:
        count = overflow[bucket]
        if type(count) is not int or count < COUNT_ESCAPE:
            raise SnapshotFormatError(field, "an overflow count must be an integer >= 255")
        full[bucket] = count
    return full


def _check_ascending(offsets: Sequence[int], remainders: Sequence[int], field: str) -> None:
    """Within each bucket the remainders ascend (the canonical order a delta keeps)."""
    # A descent is allowed only where a bucket starts; compare every neighbour pair at C
    # speed, then look closer only at the descents.
    descents = [i + 1 for i, (a, b) in enumerate(itertools.pairwise(remainders)) if a > b]
    if not descents:
        return
    starts = set(offsets)
    if any(i not in starts for i in descents):
        raise SnapshotFormatError(field, "remainders are not sorted within their bucket")


def offsets_of(counts: bytes, overflow: Mapping[int, int]) -> array:  # type: ignore[type-arg]
    """Where each bucket starts (``2**q + 1`` values) from the counts and their overflow."""
    per_bucket: Iterable[int] = counts
    if overflow:
        full = list(counts)
        for bucket, size in overflow.items():
            full[bucket] = size
        per_bucket = full
    return array("I", itertools.accumulate(per_bucket, initial=0))


def values_of(q: int, offsets: Sequence[int], remainders: Sequence[int], width: int) -> list[int]:
    """The sorted values back from :func:`decode_sorted`'s output."""
    shift = width - q
    out: list[int] = []
    for bucket in range(len(offsets) - 1):
        lo, hi = offsets[bucket], offsets[bucket + 1]
        if lo != hi:
            base = bucket << shift
            out.extend(base | r for r in remainders[lo:hi])
    return out


def decode_values(obj: object, width: int, field: str) -> list[int]:
    q, offsets, remainders = decode_sorted(obj, width, field)
    return values_of(q, offsets, remainders, width)


def encode_values(values: Iterable[int], width: int) -> list[object]:
    """A small sorted list (a delta's entries, the exception ids) with its own bucket bits."""
    ordered = sorted(values)
    return encode_sorted(ordered, width, quotient_bits_for(len(ordered), width))
