"""The AEO1 QR payload: claims, encoding, and one decoding helper per layer.

Layers, outermost first (docs/qr-format.md is the specification)::

    "AEO1:" + base45( zlib( COSE_Sign1[ protected{alg, kid}, {}, CBOR claims, signature ] ) )

Each ``decode_*``/``parse_*``/``strip_*`` helper is a pure function for one layer that
raises that layer's error type from :mod:`verifier.errors`; the pipeline runs them in order
and records which one refused. :func:`build` keeps every layer, for the golden vectors.
"""

from __future__ import annotations

import functools
import hashlib
import io
import math
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Final

import base45
import cbor2

from contracts.domain.claims import (
    NAME_MAX_BYTES,
    NAME_MIN_BYTES,
    Claims,
    normalize_name,
    shorten_name,
)
from contracts.domain.enums import KeyAlgorithm
from contracts.domain.errors import InvalidClaim
from verifier import keys, payload_fast
from verifier.errors import (
    Base45Error,
    CborError,
    ClaimsError,
    CoseError,
    DecompressionError,
    EncodingError,
    PrefixError,
)

PREFIX: Final = "AEO1:"
FORMAT_VERSION: Final = 1

# Version 10 at error correction M holds 311 alphanumeric characters; the encoder shortens
# the holder's name until the whole text fits (see fit rules in docs/qr-format.md).
MAX_TEXT_CHARS: Final = 311

# A QR code holds at most 4,296 alphanumeric characters (version 40, level L); anything
# longer is not a scanned QR code and is refused before any decoding work.
MAX_INPUT_CHARS: Final = 4296
# An AEO1 COSE structure is about 200 bytes; refusing more than this stops zip bombs.
MAX_DECOMPRESSED_BYTES: Final = 4096

KID_LENGTH: Final = 8
COSE_SIGN1_TAG: Final = 18
_HEADER_ALG: Final = 1
_HEADER_KID: Final = 4

_VERSION_PREFIX_RE = re.compile(r"^AEO(\d+):")


# ---------------------------------------------------------------- encoding


@dataclass(frozen=True)
class EncodedPayload:
    """Every layer of one encoded payload (what a golden vector records)."""

    claims: Claims
    cbor: bytes
    protected: bytes
    cose: bytes
    compressed: bytes
    base45: str
    text: str


def build(
    claims: Claims,
    private_key: keys.PrivateKey,
    kid: bytes | None = None,
    *,
    max_chars: int = MAX_TEXT_CHARS,
) -> EncodedPayload:
    """Sign and encode ``claims``, shortening the holder name until the text fits.

    ``kid`` defaults to the key's own id and must equal it when given: a verifier finds the
    public key on-chain by this id. The name is cut to at most ``NAME_MAX_BYTES`` and then,
    while the text is longer than ``max_chars``, further down to ``NAME_MIN_BYTES``; a record
    whose number and identification alone overflow is returned longer than ``max_chars``.
    """
    expected_kid = keys.key_id_of(private_key)
    if kid is None:
        kid = expected_kid
    elif kid != expected_kid:
        raise EncodingError(
            f"kid {kid.hex()} is not the id of this key ({expected_kid.hex()}): "
            "verifiers would look up the wrong public key"
        )
    algorithm = keys.algorithm_of(private_key)
    name = normalize_name(claims.holder_name)
    budget = min(len(name.encode()), NAME_MAX_BYTES)
    while True:
        fitted = replace(claims, holder_name=shorten_name(name, budget))
        encoded = _encode_exact(fitted, private_key, algorithm, kid)
        excess = len(encoded.text) - max_chars
        name_bytes = len(fitted.holder_name.encode())
        if excess <= 0 or name_bytes <= NAME_MIN_BYTES:
            return encoded
        # base45 spends 3 characters per 2 bytes, and the zlib layer stores (does not
        # shrink) data this short, so each name byte removed saves 1.5 characters.
        budget = max(NAME_MIN_BYTES, name_bytes - max(1, math.ceil(excess * 2 / 3)))


def encode(
    claims: Claims,
    private_key: keys.PrivateKey,
    kid: bytes | None = None,
    *,
    max_chars: int = MAX_TEXT_CHARS,
) -> str:
    """The QR text for ``claims`` signed with ``private_key`` (see :func:`build`)."""
    return build(claims, private_key, kid, max_chars=max_chars).text


def _encode_exact(
    claims: Claims, private_key: keys.PrivateKey, algorithm: KeyAlgorithm, kid: bytes
) -> EncodedPayload:
    payload = cbor2.dumps(claims.to_cbor_map(), canonical=True)
    protected = cbor2.dumps({_HEADER_ALG: algorithm.cose, _HEADER_KID: kid}, canonical=True)
    signature = low_s(algorithm, keys.sign(private_key, sig_structure(protected, payload)))
    # Untagged: the AEO1 prefix already says what follows, and the tag would cost a byte.
    cose = cbor2.dumps([protected, {}, payload, signature], canonical=True)
    compressed = compress(cose)
    text45 = base45.b45encode(compressed).decode("ascii")
    return EncodedPayload(
        claims=claims,
        cbor=payload,
        protected=protected,
        cose=cose,
        compressed=compressed,
        base45=text45,
        text=PREFIX + text45,
    )


# ---------------------------------------------------------------- one encoding per claims
#
# The signature covers the claims, not the layers around them, so every layer is held to the
# one encoding the issuer writes: otherwise one certificate version would have many valid QR
# texts (docs/qr-format.md, "One text per certificate version").

# The orders of the groups the signatures live in: P-256's n (FIPS 186-4, D.1.2.3) and
# Ed25519's L (RFC 8032, 5.1).
P256_ORDER: Final = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
ED25519_ORDER: Final = 2**252 + 27742317777372353535851937790883648493
_HALF_P256_ORDER: Final = P256_ORDER // 2


def low_s(algorithm: KeyAlgorithm, signature: bytes) -> bytes:
    """An ES256 ``r || s`` with ``s`` in the lower half of the group order (its twin
    ``n - s`` verifies too; AEO1 admits only the low one). EdDSA signatures are returned as
    they are: RFC 8032 already admits one ``S``."""
    if algorithm is not KeyAlgorithm.ES256:
        return signature
    s = int.from_bytes(signature[32:], "big")
    if s <= _HALF_P256_ORDER:
        return signature
    return signature[:32] + (P256_ORDER - s).to_bytes(32, "big")


def non_canonical_signature(algorithm: KeyAlgorithm, signature: bytes) -> str | None:
    """Why a 64-byte signature is not in the one form AEO1 admits, or None when it is."""
    if algorithm is KeyAlgorithm.ES256:
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:], "big")
        if not 0 < r < P256_ORDER:
            return "the ES256 signature's r is not between 1 and the group order"
        if not 0 < s <= _HALF_P256_ORDER:
            return (
                "the ES256 signature's s is not in the lower half of the group order "
                "(a high-S signature, the twin of the low-S one the issuer writes)"
            )
        return None
    if int.from_bytes(signature[32:], "little") >= ED25519_ORDER:
        return "the EdDSA signature's S is not reduced modulo the group order (RFC 8032)"
    return None


def compress(cose: bytes) -> bytes:
    """The issuer's zlib layer: ``zlib.compress(cose, 9)``, the one stream AEO1 admits."""
    return zlib.compress(cose, 9)


# What ``compress`` gives for a short input equals what deflate gives with an 8 KiB window
# and memory level 7, behind the same two header bytes: for at most 1,024 input bytes no
# match lies beyond that window, every hash chain is walked to its end and one block holds
# every symbol, so deflate makes the same choices. Allocating a fifth of the memory is what
# makes the check cheap (about 13 us instead of 90; zlib's own allocations dominate at this
# size). Tests compare both over generated inputs.
_SMALL_DEFLATE_MAX: Final = 1024
_ZLIB_HEADER_LEVEL_9: Final = b"\x78\xda"


def _compress_check(cose: bytes) -> bytes:
    if len(cose) > _SMALL_DEFLATE_MAX:
        return compress(cose)
    deflater = zlib.compressobj(9, zlib.DEFLATED, 13, 7)
    stream = deflater.compress(cose) + deflater.flush()
    return _ZLIB_HEADER_LEVEL_9 + stream[2:]


# Known answers of classic zlib's deflate at level 9 (releases 1.2.x to 1.3.x agree): a
# stored block, a fixed-Huffman block and a dynamic-Huffman block, hashed together.
_KAT_INPUTS: Final = (
    bytes(range(184)),
    (b"\x84\x4d\xa2\x01\x26\x04\x48KIDKIDKI" * 3) + bytes(range(100, 200)),
    bytes(b"eeeeeeeetttaaooiinnsrhld"[(i * 7919 + i * i * 31) % 101 % 24] for i in range(128)),
)
_KAT_SHA256: Final = "3903f14efc216f85a5cce26a3b61038ca98a07bcdc410781ba6fb662980859a7"


@functools.cache
def local_deflate_is_the_issuers() -> bool:
    """Whether this process's zlib compresses as classic zlib does. Builds of Python that
    link zlib-ng instead (some Linux distributions, CPython 3.14 on Windows) may choose
    another, equally valid, deflate stream for data with repeated strings; such a verifier
    cannot tell the issuer's stream by recompressing and checks only its header."""
    streams = b"".join(compress(data) for data in _KAT_INPUTS)
    return hashlib.sha256(streams).hexdigest() == _KAT_SHA256


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """The COSE ``Sig_structure`` for COSE_Sign1 with no external data (RFC 9052 §4.4).

    Written out by hand: the array of one text and three byte strings has one encoding, and
    assembling it costs a fraction of ``cbor2.dumps`` (tests compare both)."""
    return b"".join(
        (
            _SIG1_HEAD,
            _bstr_head(len(protected)),
            protected,
            b"\x40",
            _bstr_head(len(payload)),
            payload,
        )
    )


# array(4), text(10) "Signature1": the start of every COSE_Sign1 Sig_structure.
_SIG1_HEAD: Final = b"\x84\x6aSignature1"


def _bstr_head(length: int) -> bytes:
    """The shortest CBOR head of a byte string of ``length`` bytes (RFC 8949 §3)."""
    if length < 24:
        return bytes((0x40 | length,))
    if length < 0x100:
        return bytes((0x58, length))
    if length < 0x10000:
        return b"\x59" + length.to_bytes(2, "big")
    if length < 0x100000000:
        return b"\x5a" + length.to_bytes(4, "big")
    return b"\x5b" + length.to_bytes(8, "big")


# ---------------------------------------------------------------- decoding, one layer each


@dataclass(frozen=True)
class CoseSign1:
    """A parsed COSE_Sign1: the raw protected header (it is signed as bytes) and its values."""

    protected: bytes
    algorithm: KeyAlgorithm
    kid: bytes
    payload: bytes
    signature: bytes

    def to_be_signed(self) -> bytes:
        return sig_structure(self.protected, self.payload)


_SURROUNDING_WHITESPACE: Final = " \t\r\n"


def strip_prefix(text: str) -> str:
    """The prefix stage: the base45 text after ``AEO1:``."""
    # A scanner's trailing newline (or a pasted space) is not part of the code; other
    # Unicode spaces are, and the base45 stage refuses them.
    stripped = text.strip(_SURROUNDING_WHITESPACE)
    if stripped.startswith(PREFIX):
        return stripped[len(PREFIX) :]
    match = _VERSION_PREFIX_RE.match(stripped)
    if match:
        raise PrefixError(
            f"payload format AEO{match.group(1)} is not supported by this verifier (AEO1)",
            code="unsupported_version",
        )
    shown = stripped[:12] + ("…" if len(stripped) > 12 else "")
    raise PrefixError(f"text does not start with {PREFIX!r} (starts with {shown!r})")


# base45 character -> its value (0..44); every other byte maps to 255, which no value is.
_BASE45_TABLE: Final = bytes(
    base45.BASE45_CHARSET.index(chr(b)) if chr(b) in base45.BASE45_CHARSET else 255
    for b in range(256)
)


def _b45decode_strict(text: str) -> bytes | None:
    """RFC 9285 decoding done by C-level bytes and integer operations, or None for any text
    the library would refuse (the caller then asks the library, whose refusal names the
    fault). Several times faster than ``base45.b45decode``, which looks up every character
    in a dict.

    Each group of three digits ``a b c`` is the 16-bit value ``a + 45 b + 2025 c``. The
    digits of every group are spread into 3-byte lanes of one big integer per position, so
    ``low + 45 mid + 2025 high`` computes every group at once (a lane holds up to 91,124,
    no carry crosses lanes); a group is valid when its lane's top byte is 0."""
    if not text.isascii():
        return None
    digits = text.encode("ascii").translate(_BASE45_TABLE)
    if 255 in digits:
        return None
    size = len(digits)
    tail = size % 3
    if tail == 1:
        return None
    groups = size // 3
    whole = groups * 3
    lanes = bytearray(3 * groups)
    lanes[2::3] = digits[0:whole:3]
    low = int.from_bytes(lanes, "big")
    lanes[2::3] = digits[1:whole:3]
    mid = int.from_bytes(lanes, "big")
    lanes[2::3] = digits[2:whole:3]
    high = int.from_bytes(lanes, "big")
    values = (low + 45 * mid + 2025 * high).to_bytes(3 * groups, "big")
    if values[0::3].count(0) != groups:
        return None
    out = bytearray(2 * groups + (1 if tail else 0))
    out[0 : 2 * groups : 2] = values[1::3]
    out[1 : 2 * groups : 2] = values[2::3]
    if tail:
        last = digits[whole] + digits[whole + 1] * 45
        if last > 0xFF:
            return None
        out[-1] = last
    return bytes(out)


def decode_base45(text: str) -> bytes:
    """The base45 stage (RFC 9285); refuses rather than guessing."""
    if not text:
        raise Base45Error("nothing follows the prefix")
    decoded = _b45decode_strict(text)
    if decoded is not None:
        return decoded
    try:
        return bytes(base45.b45decode(text))
    except (ValueError, TypeError) as exc:
        bad = next((c for c in text if c not in base45.BASE45_CHARSET), None)
        if bad is not None:
            detail = f"character {bad!r} is not in the base45 alphabet"
        elif len(text) % 3 == 1:
            detail = f"length {len(text)} is not a valid base45 length"
        else:
            detail = "a character group encodes a value out of range"
        raise Base45Error(f"invalid base45: {detail}") from exc


def decompress(data: bytes) -> bytes:
    """The decompression stage (zlib, RFC 1950), bounded against zip bombs."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_DECOMPRESSED_BYTES + 1)
    except zlib.error as exc:
        raise DecompressionError(f"not zlib data: {exc}") from exc
    if len(out) > MAX_DECOMPRESSED_BYTES:
        raise DecompressionError(
            f"decompresses to more than {MAX_DECOMPRESSED_BYTES} bytes", code="too_large"
        )
    if not inflater.eof:
        raise DecompressionError("zlib data is truncated")
    if inflater.unused_data:
        raise DecompressionError(
            _follow(len(inflater.unused_data), "the zlib data"), code="trailing_bytes"
        )
    if local_deflate_is_the_issuers():
        canonical = data == _compress_check(out)
    else:
        canonical = data[:2] == _ZLIB_HEADER_LEVEL_9
    if not canonical:
        raise DecompressionError(
            "the zlib stream is not the one the issuer's compressor writes for these bytes "
            "(recompressed, or another level, strategy or header)",
            code="non_canonical_compression",
        )
    return out


def parse_cose(data: bytes) -> CoseSign1:
    """The COSE stage: a COSE_Sign1 with alg and kid in the protected header."""
    exact = _parse_cose_exact(data)
    return exact if exact is not None else _parse_cose_general(data)


def _parse_cose_exact(data: bytes) -> CoseSign1 | None:
    parts = payload_fast.cose_sign1_exact(data)
    return None if parts is None else CoseSign1(*parts)


def _parse_cose_general(data: bytes) -> CoseSign1:
    try:
        obj, end = _decode_first(data)
    except Exception as exc:  # cbor2 raises several types on hostile input; all mean "not CBOR"
        raise CoseError(f"not CBOR: {exc}") from exc
    if end < len(data):
        raise CoseError(_follow(len(data) - end, "the COSE_Sign1 structure"), code="trailing_bytes")
    if isinstance(obj, cbor2.CBORTag):
        if obj.tag != COSE_SIGN1_TAG:
            raise CoseError(f"CBOR tag {obj.tag} is not COSE_Sign1 (18)")
        raise CoseError(
            "COSE_Sign1 carries tag 18, which AEO1 does not write (the prefix says what follows)",
            code="non_canonical_cose",
        )
    if not isinstance(obj, list) or len(obj) != 4:
        raise CoseError("not a COSE_Sign1 array of 4 elements")
    if _canonical_or_none(obj) != data:
        raise CoseError("COSE_Sign1 is not deterministically encoded")
    protected, unprotected, payload, signature = obj
    if not isinstance(protected, bytes) or not protected:
        raise CoseError("protected header is missing")
    if not isinstance(unprotected, dict):
        raise CoseError("unprotected header is not a map")
    if unprotected:
        raise CoseError("unprotected header must be empty in AEO1 (alg and kid are protected)")
    if not isinstance(payload, bytes):
        raise CoseError("payload is not an attached byte string")
    if not isinstance(signature, bytes) or len(signature) != keys.SIGNATURE_LENGTH:
        raise CoseError(f"signature is not {keys.SIGNATURE_LENGTH} bytes")
    algorithm, kid = _decode_protected(protected)
    return CoseSign1(
        protected=protected, algorithm=algorithm, kid=kid, payload=payload, signature=signature
    )


def _follow(count: int, what: str) -> str:
    return f"{count} byte follows {what}" if count == 1 else f"{count} bytes follow {what}"


def _decode_first(data: bytes) -> tuple[object, int]:
    """The first CBOR data item in ``data`` and the offset after it (``cbor2.loads`` would
    ignore whatever follows)."""
    stream = io.BytesIO(data)
    obj = cbor2.CBORDecoder(stream).decode()
    return obj, stream.tell()


def _decode_protected(protected: bytes) -> tuple[KeyAlgorithm, bytes]:
    try:
        header = cbor2.loads(protected)
    except Exception as exc:  # see parse_cose
        raise CoseError(f"protected header is not CBOR: {exc}") from exc
    if not isinstance(header, dict) or _canonical_or_none(header) != protected:
        raise CoseError("protected header is not a deterministically encoded map")
    if set(header) != {_HEADER_ALG, _HEADER_KID}:
        raise CoseError("protected header must hold exactly alg (1) and kid (4)")
    alg, kid = header[_HEADER_ALG], header[_HEADER_KID]
    if type(alg) is not int:
        raise CoseError("alg is not an integer")
    try:
        algorithm = KeyAlgorithm.from_cose(alg)
    except ValueError as exc:
        raise CoseError(str(exc), code="unsupported_algorithm") from exc
    if not isinstance(kid, bytes) or len(kid) != KID_LENGTH:
        raise CoseError(f"kid is not {KID_LENGTH} bytes")
    return algorithm, kid


def decode_claims_cbor(payload: bytes) -> dict[object, object]:
    """The CBOR stage: the signed payload as one deterministically encoded map."""
    exact = payload_fast.claims_map_exact(payload)
    return exact if exact is not None else _decode_claims_general(payload)


def _decode_claims_general(payload: bytes) -> dict[object, object]:
    try:
        claims, end = _decode_first(payload)
    except Exception as exc:  # see parse_cose
        raise CborError(f"payload is not CBOR: {exc}") from exc
    if end < len(payload):
        raise CborError(
            _follow(len(payload) - end, "the claims in the signed payload"), code="trailing_bytes"
        )
    if not isinstance(claims, dict):
        raise CborError(f"payload is a CBOR {type(claims).__name__}, not a map")
    if _canonical_or_none(claims) != payload:
        raise CborError(
            "payload is not deterministically encoded CBOR (key order, lengths or duplicate keys)"
        )
    return claims


def _canonical_or_none(obj: object) -> bytes | None:
    """The deterministic encoding of a decoded value; ``None`` when the value cannot be
    encoded again (cbor2 decodes break markers and some tags into objects it cannot write),
    which means the input was not deterministic CBOR either."""
    try:
        return bytes(cbor2.dumps(obj, canonical=True))
    except Exception:  # cbor2's encode errors vary by value type; any of them means "no"
        return None


@dataclass(frozen=True)
class DecodedPayload:
    """Every layer of a decoded text, without any signature or chain check."""

    base45: str
    compressed: bytes
    cose_bytes: bytes
    cose: CoseSign1
    claims: Claims


def claims_from_cbor(claims_map: Mapping[object, object]) -> Claims:
    """The claims stage: a decoded CBOR map to validated claims, or :class:`ClaimsError`
    (stage ``claims``, code ``bad_claims``) naming the field."""
    try:
        return Claims.from_cbor_map(claims_map)
    except InvalidClaim as exc:
        raise ClaimsError(exc.field, exc.detail) from exc


def decode(text: str) -> DecodedPayload:
    """All decoding layers at once; raises the error of the first layer that refuses."""
    text45 = strip_prefix(text)
    compressed = decode_base45(text45)
    cose_bytes = decompress(compressed)
    cose = parse_cose(cose_bytes)
    claims = claims_from_cbor(decode_claims_cbor(cose.payload))
    return DecodedPayload(text45, compressed, cose_bytes, cose, claims)
