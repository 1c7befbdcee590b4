"""The verifier's fast decoding paths agree with the general decoders they stand in front of.

The base45 decoder, the byte-level COSE_Sign1 and claims readers, the hand-written
Sig_structure and the holder-name control-character search exist only for speed: each must
give exactly what the general code (``base45``, ``cbor2``, ``unicodedata``) gives, and hand
every other input to it. Hypothesis compares them over valid, mutated and random inputs.
"""

from __future__ import annotations

import unicodedata
import zlib
from dataclasses import replace

import base45
import cbor2
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from contracts.domain.claims import _BIDI_CONTROLS, _NAME_CONTROL_RE
from contracts.domain.enums import KeyAlgorithm
from contracts.domain.errors import InvalidClaim
from tests.verifier.world import base_claims
from verifier import keys
from verifier.errors import Base45Error, CoseError
from verifier.payload import (
    P256_ORDER,
    _compress_check,
    _decode_claims_general,
    _parse_cose_exact,
    _parse_cose_general,
    build,
    compress,
    decode_base45,
    local_deflate_is_the_issuers,
    sig_structure,
)
from verifier.payload_fast import claims_map_exact

EXAMPLES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ES256 = keys.generate_private_key(KeyAlgorithm.ES256)
EDDSA = keys.generate_private_key(KeyAlgorithm.EDDSA)
GENUINE = tuple(build(base_claims(), key) for key in (ES256, EDDSA))


def general_or_error(parse: object, data: bytes) -> object:
    try:
        return parse(data)  # type: ignore[operator]
    except Exception as exc:  # the comparison is with whatever the general path does
        return exc


def mutated(data: bytes, draw: st.DrawFn) -> bytes:
    """``data`` with one edit: a flipped bit, a changed, inserted or removed byte, a cut or
    trailing bytes."""
    edit = draw(st.sampled_from(("flip", "set", "insert", "delete", "cut", "append")))
    at = draw(st.integers(0, max(len(data) - 1, 0)))
    if edit == "flip" and data:
        return data[:at] + bytes((data[at] ^ (1 << draw(st.integers(0, 7))),)) + data[at + 1 :]
    if edit == "set" and data:
        return data[:at] + bytes((draw(st.integers(0, 255)),)) + data[at + 1 :]
    if edit == "insert":
        return data[:at] + draw(st.binary(min_size=1, max_size=3)) + data[at:]
    if edit == "delete":
        return data[:at] + data[at + 1 :]
    if edit == "cut":
        return data[:at]
    return data + draw(st.binary(min_size=1, max_size=3))


# ---------------------------------------------------------------- COSE_Sign1


@st.composite
def cose_inputs(draw: st.DrawFn) -> bytes:
    genuine = draw(st.sampled_from(GENUINE)).cose
    kind = draw(st.sampled_from(("genuine", "tagged", "mutated", "array")))
    if kind == "genuine":
        return genuine
    if kind == "tagged":
        return b"\xd2" + genuine
    if kind == "mutated":
        return mutated(draw(st.sampled_from((genuine, b"\xd2" + genuine))), draw)
    header = draw(
        st.dictionaries(st.integers(-8, 8), st.integers(-10, 10) | st.binary(max_size=10))
    )
    items = [
        cbor2.dumps(header, canonical=draw(st.booleans())),
        draw(st.sampled_from(({}, {4: b"12345678"}))),
        draw(st.binary(max_size=300)),
        draw(st.binary(min_size=62, max_size=66)),
    ]
    return bytes(cbor2.dumps(items, canonical=draw(st.booleans())))


@pytest.mark.slow
@EXAMPLES
@given(cose_inputs())
def test_exact_cose_reader_agrees_with_the_general_parser(data: bytes) -> None:
    exact = _parse_cose_exact(data)
    if exact is not None:
        assert exact == general_or_error(_parse_cose_general, data)


@pytest.mark.parametrize("genuine", GENUINE, ids=["ES256", "EdDSA"])
def test_exact_cose_reader_takes_what_the_encoder_writes(genuine: object) -> None:
    data = genuine.cose  # type: ignore[attr-defined]
    exact = _parse_cose_exact(data)
    assert exact is not None
    assert exact == _parse_cose_general(data)


@pytest.mark.parametrize("genuine", GENUINE, ids=["ES256", "EdDSA"])
def test_exact_cose_reader_leaves_a_tagged_cose_to_the_general_parser(genuine: object) -> None:
    data = b"\xd2" + genuine.cose  # type: ignore[attr-defined]

    assert _parse_cose_exact(data) is None
    with pytest.raises(CoseError) as refused:
        _parse_cose_general(data)
    assert refused.value.code == "non_canonical_cose"


def test_the_issuer_writes_low_s_es256_signatures() -> None:
    """RFC 6979 gives a high s about half the time; the encoder keeps the low twin."""
    normalized = 0
    for number in range(40):
        encoded = build(replace(base_claims(), number=f"MN-AEO-{number:04d}"), ES256)
        message = sig_structure(encoded.protected, encoded.cbor)
        signature = encoded.cose[-64:]
        assert int.from_bytes(signature[32:], "big") <= P256_ORDER // 2
        assert keys.verify_signature(ES256.public_key(), message, signature)
        normalized += keys.sign(ES256, message) != signature
    # 40 fair coins: outside 6..34 once in about ten million runs.
    assert 5 < normalized < 35


# ---------------------------------------------------------------- zlib layer


@pytest.mark.slow
@EXAMPLES
@given(
    st.binary(max_size=1024)
    | st.lists(
        st.sampled_from((b"MN-AEO-", b"LLC ", b"\x00", b"AEO1", b"\xff\xfe")), max_size=200
    ).map(b"".join)
)
def test_the_small_deflate_check_gives_the_issuers_zlib_stream(data: bytes) -> None:
    assert _compress_check(data) == compress(data) == zlib.compress(data, 9)


def test_this_zlib_compresses_as_classic_zlib_does() -> None:
    """Else the verifier could only check the zlib header (docs/qr-format.md, section 1)."""
    assert local_deflate_is_the_issuers()


# ---------------------------------------------------------------- claims map

CLAIM_VALUES = (
    st.integers(0, 2**64 - 1)
    | st.integers(-(2**64), -1)
    | st.binary(max_size=300)
    | st.text(max_size=90)
    | st.booleans()
    | st.none()
    | st.floats(allow_nan=False)
    | st.lists(st.integers(0, 30), max_size=3)
)


@st.composite
def claims_payloads(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(("genuine", "mutated", "reordered", "map")))
    genuine = draw(st.sampled_from(GENUINE)).cbor
    if kind == "genuine":
        return genuine
    if kind == "mutated":
        return mutated(genuine, draw)
    if kind == "reordered":  # the genuine claims with their keys in another order
        items = draw(st.permutations(list(cbor2.loads(genuine).items())))
        return bytes(cbor2.dumps(dict(items)))
    claims = draw(st.dictionaries(st.integers(-3, 30) | st.text(max_size=2), CLAIM_VALUES))
    return bytes(cbor2.dumps(claims, canonical=draw(st.booleans())))


@pytest.mark.slow
@EXAMPLES
@given(claims_payloads())
def test_exact_claims_reader_agrees_with_cbor2(payload: bytes) -> None:
    exact = claims_map_exact(payload)
    if exact is not None:
        general = general_or_error(_decode_claims_general, payload)
        assert exact == general
        assert [type(v) for v in exact.values()] == [type(v) for v in general.values()]  # type: ignore[attr-defined]


def test_exact_claims_reader_takes_what_the_encoder_writes() -> None:
    for genuine in GENUINE:
        assert claims_map_exact(genuine.cbor) == cbor2.loads(genuine.cbor)


@pytest.mark.parametrize(
    "payload",
    [
        bytes.fromhex("a2010102"),  # truncated: the second pair is missing
        bytes.fromhex("a2020101 01"),  # keys out of deterministic order
        bytes.fromhex("a201010101"),  # a duplicate key
        bytes.fromhex("a1011801"),  # 1 written in two bytes
        bytes.fromhex("a10162ff00"),  # text that is not UTF-8
        bytes.fromhex("a10100 00"),  # a trailing byte
    ],
)
def test_exact_claims_reader_leaves_non_deterministic_payloads_to_cbor2(payload: bytes) -> None:
    assert claims_map_exact(payload) is None


# ---------------------------------------------------------------- Sig_structure, base45


@pytest.mark.parametrize("size", [0, 1, 23, 24, 255, 256, 65535, 65536])
def test_sig_structure_is_the_cbor2_encoding(size: int) -> None:
    protected, payload = (
        b"\xa2" * min(size, 30),
        bytes(range(256)) * (size // 256) + b"x" * (size % 256),
    )
    assert sig_structure(protected, payload) == cbor2.dumps(["Signature1", protected, b"", payload])


@pytest.mark.slow
@EXAMPLES
@given(st.text(alphabet=base45.BASE45_CHARSET + "a:é", max_size=60))
def test_base45_decoding_agrees_with_the_reference_library_on_any_text(text: str) -> None:
    try:
        expected: bytes | None = bytes(base45.b45decode(text))
    except (ValueError, TypeError):
        expected = None
    if not text:
        expected = None  # the stage refuses an empty payload before decoding
    if expected is None:
        with pytest.raises(Base45Error):
            decode_base45(text)
    else:
        assert decode_base45(text) == expected


# ---------------------------------------------------------------- holder name


@pytest.mark.slow
def test_name_control_search_matches_the_unicode_categories_on_every_code_point() -> None:
    for code in range(0x110000):
        char = chr(code)
        forbidden = unicodedata.category(char) in ("Cc", "Cs") or char in _BIDI_CONTROLS
        assert (_NAME_CONTROL_RE.search(char) is not None) is forbidden, hex(code)


def test_name_with_two_control_characters_names_the_first() -> None:
    with pytest.raises(InvalidClaim, match="U\\+202E"):
        replace(base_claims(), holder_name="Gobi \u202eTrans\x07")
