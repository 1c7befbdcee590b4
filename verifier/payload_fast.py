"""Exact fast paths of the AEO1 decoders: hand-written readers of the one encoding an AEO1
issuer writes, so the common case skips decoding with cbor2 and re-encoding to prove the form
canonical.

Each returns None for any input that is not exactly that encoding; :mod:`verifier.payload`
then runs its general decoder, whose refusals name the fault. For the inputs they accept they
give what the general decoders give: Hypothesis compares both paths over generated and mutated
payloads (tests/verifier/test_payload_fast.py).
"""

from __future__ import annotations

from typing import Final

from contracts.domain.enums import KeyAlgorithm
from verifier import keys

#: (protected header bytes, algorithm, kid, payload, signature) of a COSE_Sign1
CoseParts = tuple[bytes, KeyAlgorithm, bytes, bytes, bytes]


# The only protected headers AEO1 signs, deterministically encoded: map(2) {1: alg, 4: kid}
# with the kid a byte string of 8, behind the byte-string head (13 bytes) that wraps them.
_PROTECTED_PREFIXES: Final = {
    b"\x4d\xa2\x01\x26\x04\x48": KeyAlgorithm.ES256,  # alg -7
    b"\x4d\xa2\x01\x27\x04\x48": KeyAlgorithm.EDDSA,  # alg -8
}
_PROTECTED_ITEM_LENGTH: Final = 14
_SIGNATURE_HEAD: Final = bytes((0x58, keys.SIGNATURE_LENGTH))


def cose_sign1_exact(data: bytes) -> CoseParts | None:
    """The COSE_Sign1 an AEO1 encoder writes, read byte by byte, or None for anything else.

    Accepts only ``[bstr protected{alg, kid}, {}, bstr payload, bstr(64) signature]``
    untagged, in its deterministic encoding with nothing after it: exactly the inputs the
    general parser of :func:`verifier.payload.parse_cose` accepts, without decoding and
    re-encoding them. Every other input, valid or not, goes to the general parser, whose
    refusals name the fault (tests compare both parsers)."""
    if data[:1] != b"\x84":
        return None
    item = data[1 : 1 + _PROTECTED_ITEM_LENGTH]
    algorithm = _PROTECTED_PREFIXES.get(item[:6])
    if algorithm is None or len(item) != _PROTECTED_ITEM_LENGTH:
        return None
    at = 1 + _PROTECTED_ITEM_LENGTH
    if data[at : at + 1] != b"\xa0":  # the empty unprotected map
        return None
    head = cbor_head(data, at + 1)
    if head is None or head[0] != _MAJOR_BYTES:
        return None
    _, length, at = head
    end = at + length
    if data[end : end + 2] != _SIGNATURE_HEAD or len(data) != end + 2 + keys.SIGNATURE_LENGTH:
        return None
    return (item[1:], algorithm, item[6:], data[at:end], data[end + 2 :])


_MAJOR_UNSIGNED: Final = 0
_MAJOR_BYTES: Final = 2
_MAJOR_TEXT: Final = 3
_MAJOR_MAP: Final = 5
# Additional information 24..27: the argument follows in 1, 2, 4 or 8 bytes, and is
# deterministically encoded only when it needs that many (RFC 8949 §4.2.1).
_ARGUMENT_SIZES: Final = {24: (1, 24), 25: (2, 0x100), 26: (4, 0x10000), 27: (8, 0x100000000)}


def cbor_head(data: bytes, at: int) -> tuple[int, int, int] | None:
    """(major type, argument, offset after the head) of the data item at ``at`` when its
    head is complete and in the shortest form; None otherwise (including indefinite
    lengths and the simple/float types, which AEO1 never writes)."""
    if at >= len(data):
        return None
    initial = data[at]
    info = initial & 0x1F
    if info < 24:
        return initial >> 5, info, at + 1
    size = _ARGUMENT_SIZES.get(info)
    if size is None:
        return None
    end = at + 1 + size[0]
    if end > len(data):
        return None
    argument = int.from_bytes(data[at + 1 : end], "big")
    if argument < size[1]:
        return None
    return initial >> 5, argument, end


def claims_map_exact(payload: bytes) -> dict[object, object] | None:
    """The claims map, read byte by byte, when it is deterministically encoded with keys
    0..23 and values that are unsigned integers, byte strings or UTF-8 text (what the
    encoder writes); None for anything else, which the general decoder then judges. For
    those inputs the result is what ``cbor2.loads`` gives (tests compare both)."""
    head = cbor_head(payload, 0)
    if head is None or head[0] != _MAJOR_MAP:
        return None
    count, at = head[1], head[2]
    size = len(payload)
    claims: dict[object, object] = {}
    previous = -1
    for _ in range(min(count, size)):
        if at >= size:
            return None
        key = payload[at]
        # A one-byte unsigned key; ascending order is deterministic order and no duplicates.
        if key >= 24 or key <= previous:
            return None
        previous = key
        if at + 1 < size and payload[at + 1] & 0x1F < 24:  # the argument is in the head byte
            major, argument, at = payload[at + 1] >> 5, payload[at + 1] & 0x1F, at + 2
        else:
            head = cbor_head(payload, at + 1)
            if head is None:
                return None
            major, argument, at = head
        value: object
        if major == _MAJOR_UNSIGNED:
            value = argument
        elif major in (_MAJOR_BYTES, _MAJOR_TEXT):
            end = at + argument
            if end > size:
                return None
            raw = payload[at:end]
            if major == _MAJOR_TEXT:
                try:
                    value = raw.decode("utf-8")
                except UnicodeDecodeError:
                    return None
            else:
                value = raw
            at = end
        else:
            return None
        claims[key] = value
    if len(claims) != count or at != size:
        return None
    return claims
