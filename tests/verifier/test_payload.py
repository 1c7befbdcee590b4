"""The AEO1 payload: encoding, size budget, name rules, and each decoding layer's refusals."""

from __future__ import annotations

import zlib
from dataclasses import replace

import base45
import cbor2
import pytest
import segno
from cryptography.hazmat.primitives import serialization
from cwt import COSE, COSEKey

from contracts.domain import days, ids
from contracts.domain.claims import ELLIPSIS, NAME_MAX_BYTES, Claims, shorten_name
from contracts.domain.enums import SIGNING_ALGORITHMS, KeyAlgorithm
from contracts.domain.errors import InvalidClaim
from tests.verifier.world import COMMITMENT, LONG_NAME, base_claims
from verifier import keys
from verifier.errors import (
    Base45Error,
    CborError,
    ClaimsError,
    CoseError,
    DecompressionError,
    EncodingError,
    PrefixError,
)
from verifier.payload import (
    MAX_DECOMPRESSED_BYTES,
    MAX_TEXT_CHARS,
    PREFIX,
    build,
    claims_from_cbor,
    decode,
    decode_base45,
    decode_claims_cbor,
    decompress,
    encode,
    parse_cose,
    strip_prefix,
)


@pytest.fixture(scope="module")
def es256() -> keys.PrivateKey:
    return keys.generate_private_key(KeyAlgorithm.ES256)


def qr_version(text: str) -> int:
    return int(segno.make(text, error="m", mode="alphanumeric", micro=False).version)


# ---------------------------------------------------------------- encoding


@pytest.mark.parametrize("algorithm", list(SIGNING_ALGORITHMS))
def test_encoded_claims_decode_to_the_same_claims(algorithm: KeyAlgorithm) -> None:
    key = keys.generate_private_key(algorithm)
    claims = base_claims()
    decoded = decode(encode(claims, key))
    assert decoded.claims == claims
    assert decoded.cose.kid == ids.key_id(keys.public_key_bytes(key))
    assert decoded.cose.algorithm is algorithm


def test_text_uses_only_the_qr_alphanumeric_alphabet(es256: keys.PrivateKey) -> None:
    text = encode(base_claims(), es256)
    assert text.startswith(PREFIX)
    assert set(text) <= set(base45.BASE45_CHARSET)


def test_every_layer_is_kept_and_consistent(es256: keys.PrivateKey) -> None:
    built = build(base_claims(), es256)
    assert built.text == PREFIX + built.base45
    assert base45.b45decode(built.base45) == built.compressed
    assert zlib.decompress(built.compressed) == built.cose
    assert cbor2.loads(built.cose)[2] == built.cbor
    assert cbor2.loads(built.cbor) == built.claims.to_cbor_map()


def test_es256_signing_is_deterministic(es256: keys.PrivateKey) -> None:
    assert encode(base_claims(), es256) == encode(base_claims(), es256)


def test_certificate_id_is_derived_not_carried(es256: keys.PrivateKey) -> None:
    claims = base_claims()
    assert claims.certificate_id == ids.certificate_id("MN", "MN-AEO-2025-000731")
    assert claims.certificate_id not in build(claims, es256).cbor


def test_digest_binds_the_holder_reference_and_commitment() -> None:
    claims = base_claims()
    assert claims.digest == ids.record_digest(ids.holder_ref("TIN", "MN6734521098"), COMMITMENT)


def test_holder_identification_is_normalized_like_the_holder_reference() -> None:
    claims = replace(base_claims(), holder_id="MN6734521098")
    built = Claims.from_record(
        issuer="MN",
        number="MN-AEO-2025-000731",
        holder_name="Gobi Trans LLC",
        holder_id_scheme=" tin ",
        holder_id="mn 6734 5210 98",
        tiers=3,
        valid_from=days.from_day(claims.valid_from),
        valid_until=days.from_day(claims.valid_until),
        issued_at=claims.issued_at,
        version=1,
        commitment=COMMITMENT,
    )
    assert (built.holder_id_scheme, built.holder_id) == ("TIN", "MN6734521098")
    assert built.digest == claims.digest


def test_kid_that_is_not_the_keys_id_is_refused(es256: keys.PrivateKey) -> None:
    with pytest.raises(EncodingError, match="is not the id of this key"):
        encode(base_claims(), es256, kid=bytes(8))


def test_payload_is_a_standard_cose_sign1_that_cwt_verifies(es256: keys.PrivateKey) -> None:
    built = build(base_claims(), es256)
    pem = es256.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    kid = ids.key_id(keys.public_key_bytes(es256))
    cose_key = COSEKey.from_pem(pem, alg="ES256", kid=kid)
    payload = COSE.new().decode(cbor2.CBORTag(18, cbor2.loads(built.cose)), cose_key)
    assert payload == built.cbor


# ---------------------------------------------------------------- size budget


def test_realistic_record_with_a_long_name_fits_qr_version_10_at_level_m(
    es256: keys.PrivateKey,
) -> None:
    claims = base_claims(holder_name=shorten_name(LONG_NAME, NAME_MAX_BYTES))
    built = build(claims, es256)
    assert len(built.text) <= MAX_TEXT_CHARS
    assert qr_version(built.text) <= 10
    assert built.claims.holder_name.endswith(ELLIPSIS)
    assert built.claims.holder_name.startswith("Mongolian")


@pytest.mark.parametrize("algorithm", list(SIGNING_ALGORITHMS))
def test_cyrillic_name_is_cut_on_utf8_bytes_and_still_fits(algorithm: KeyAlgorithm) -> None:
    name = "Товарищество с ограниченной ответственностью Казахстанская транспортная компания"
    claims = base_claims(issuer="KZ", number="KZ-AEO-2025-0042", holder_name=shorten_name(name, 80))
    built = build(claims, keys.generate_private_key(algorithm))
    assert qr_version(built.text) <= 10
    assert built.claims.holder_name.startswith("ТОО")


def test_short_name_is_kept_whole(es256: keys.PrivateKey) -> None:
    built = build(base_claims(holder_name="Gobi Trans LLC"), es256)
    assert built.claims.holder_name == "Gobi Trans LLC"


def test_record_too_long_for_version_10_keeps_a_minimum_name(es256: keys.PrivateKey) -> None:
    claims = base_claims(number="A" * 8 + "-" + "7" * 23, holder_id="DE12345678901234567890")
    built = build(claims, es256, max_chars=200)
    assert len(built.text) > 200
    assert len(built.claims.holder_name.encode()) <= 16


# ---------------------------------------------------------------- name rules


def test_name_is_normalized_before_anything_else() -> None:
    assert shorten_name("  Gobi \t Trans\n LLC ", 80) == "Gobi Trans LLC"


def test_legal_form_is_abbreviated_before_the_name_is_cut() -> None:
    assert shorten_name("Erdenet Mining Limited Liability Company", 32) == "Erdenet Mining LLC"


def test_long_name_is_cut_at_a_word_boundary_with_an_ellipsis() -> None:
    cut = shorten_name("Trans Eurasia Freight Forwarding International", 30)
    assert cut == "Trans Eurasia Freight…"
    assert len(cut.encode()) <= 30


def test_cut_never_splits_a_multibyte_character() -> None:
    cut = shorten_name("Улаанбаатар Тээвэр Логистик Худалдаа", 21)
    assert len(cut.encode()) <= 21
    assert cut.endswith(ELLIPSIS)
    cut.encode("utf-8")  # a split character would not round-trip through decode


def test_cut_never_separates_a_character_from_its_combining_marks() -> None:
    # NFC leaves "ẹ́" as U+1EB9 + U+0301 (no precomposed form): 5 bytes, one character.
    cut = shorten_name("x" + "\u1eb9\u0301" * 10, 12)
    assert cut == "x\u1eb9\u0301" + ELLIPSIS


# ---------------------------------------------------------------- claims validation


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"issuer": "mn"}, "issuer"),
        ({"number": ""}, "number"),
        ({"holder_name": " "}, "holder_name"),
        ({"holder_name": "A" * 81}, "holder_name"),
        ({"holder_name": "Gobi\x1b[2JTrans"}, "holder_name"),
        ({"holder_name": "Gobi \u202eSNART"}, "holder_name"),
        ({"holder_id_scheme": "t"}, "holder_id_scheme"),
        ({"holder_id": "mn 123"}, "holder_id"),
        ({"tiers": 0}, "tiers"),
        ({"tiers": 256}, "tiers"),
        ({"tiers": True}, "tiers"),
        ({"valid_until": 1}, "valid_until"),
        ({"valid_from": -1}, "valid_from"),
        ({"issued_at": 2**40}, "issued_at"),
        ({"version": 0}, "version"),
        ({"digest": b"\x00" * 19}, "digest"),
        ({"digest": "00" * 20}, "digest"),
    ],
)
def test_invalid_claim_is_refused_naming_its_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidClaim) as error:
        replace(base_claims(), **changes)  # type: ignore[arg-type]
    assert error.value.field == field
    # What the verifier makes of the same map: its claims stage, naming the same field.
    with pytest.raises(ClaimsError) as stage_error:
        claims_from_cbor({**base_claims().to_cbor_map(), **_as_map(changes)})
    assert stage_error.value.field == field
    assert stage_error.value.stage == "claims"
    assert stage_error.value.code == "bad_claims"


def _as_map(changes: dict[str, object]) -> dict[int, object]:
    keys = {
        name: key
        for key, name in enumerate(
            (
                "issuer",
                "number",
                "holder_name",
                "holder_id_scheme",
                "holder_id",
                "tiers",
                "valid_from",
                "valid_until",
                "issued_at",
                "version",
                "digest",
            ),
            start=1,
        )
    }
    return {keys[name]: value for name, value in changes.items()}


def test_missing_claim_key_is_refused_naming_the_field() -> None:
    claims_map = base_claims().to_cbor_map()
    del claims_map[11]
    with pytest.raises(InvalidClaim, match="'digest': is missing"):
        Claims.from_cbor_map(claims_map)


def test_unknown_claim_key_is_refused() -> None:
    claims_map = {**base_claims().to_cbor_map(), 12: "extra"}
    with pytest.raises(InvalidClaim, match="not an AEO1 claim key"):
        Claims.from_cbor_map(claims_map)


def test_claims_json_round_trips() -> None:
    claims = base_claims()
    assert Claims.from_json_dict(claims.to_json_dict()) == claims


# ---------------------------------------------------------------- decoding layers


def test_prefix_of_another_scheme_is_refused() -> None:
    with pytest.raises(PrefixError, match="does not start with 'AEO1:'") as error:
        strip_prefix("HC1:NCFOXN%TS3DH")
    assert error.value.code == "bad_prefix"


def test_prefix_of_a_newer_version_is_named_unsupported() -> None:
    with pytest.raises(PrefixError, match="AEO7 is not supported") as error:
        strip_prefix("AEO7:ABC")
    assert error.value.code == "unsupported_version"


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("", "nothing follows"),
        ("abc", "not in the base45 alphabet"),
        ("ABCD", "not a valid base45 length"),
        (":::", "out of range"),
    ],
)
def test_invalid_base45_is_refused_with_the_reason(text: str, detail: str) -> None:
    with pytest.raises(Base45Error, match=detail):
        decode_base45(text)


def test_data_that_is_not_zlib_is_refused() -> None:
    with pytest.raises(DecompressionError, match="not zlib"):
        decompress(b"\x00\x01\x02")


def test_truncated_zlib_is_refused() -> None:
    with pytest.raises(DecompressionError, match="truncated"):
        decompress(zlib.compress(b"x" * 100)[:-5])


def test_bytes_after_the_zlib_stream_are_refused() -> None:
    with pytest.raises(DecompressionError, match="4 bytes follow the zlib data") as error:
        decompress(zlib.compress(b"x", 9) + b"junk")
    assert error.value.code == "trailing_bytes"


def test_decompression_bomb_is_refused_before_inflating_it() -> None:
    with pytest.raises(DecompressionError, match=f"more than {MAX_DECOMPRESSED_BYTES}") as error:
        decompress(zlib.compress(b"\x00" * 10_000_000))
    assert error.value.code == "too_large"


def _cose(protected: object = None, unprotected: object = None, payload: object = b"\xa0",
          signature: object = b"\x00" * 64) -> bytes:  # fmt: skip
    if protected is None:
        protected = cbor2.dumps({1: -7, 4: b"\x01" * 8}, canonical=True)
    return bytes(
        cbor2.dumps([protected, {} if unprotected is None else unprotected, payload, signature])
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x1c", "not CBOR"),
        (cbor2.dumps({"a": 1}), "not a COSE_Sign1 array"),
        (cbor2.dumps(cbor2.CBORTag(98, [])), "tag 98"),
        (_cose() + b"\x00", "1 byte follows the COSE_Sign1 structure"),
        (_cose(protected=b""), "protected header is missing"),
        (_cose(unprotected={4: b"\x01" * 8}), "unprotected header must be empty"),
        (_cose(payload=None), "attached byte string"),
        (_cose(signature=b"\x00" * 63), "signature is not 64 bytes"),
        (_cose(protected=cbor2.dumps({1: -35, 4: b"\x01" * 8})), "not ES256"),
        (_cose(protected=cbor2.dumps({1: -7, 4: b"\x01" * 7})), "kid is not 8 bytes"),
        (_cose(protected=cbor2.dumps({1: -7})), "exactly alg"),
        (_cose(protected=cbor2.dumps({4: b"\x01" * 8, 1: -7})), "deterministically"),
    ],
)
def test_malformed_cose_is_refused_with_the_reason(data: bytes, message: str) -> None:
    with pytest.raises(CoseError, match=message):
        parse_cose(data)


def test_tagged_cose_sign1_is_refused_as_not_the_issuers_encoding(es256: keys.PrivateKey) -> None:
    """RFC 9052 allows tag 18; AEO1 writes none, so the tagged twin is a second text."""
    cose = build(base_claims(), es256).cose
    with pytest.raises(CoseError, match="tag 18") as error:
        parse_cose(cbor2.dumps(cbor2.CBORTag(18, cbor2.loads(cose))))
    assert error.value.code == "non_canonical_cose"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x5a\x00\x00", "not CBOR"),
        (cbor2.dumps([1, 2]), "not a map"),
        (b"\xa2\x01\x01\x01\x02", "duplicate keys"),
        (b"\xa1\x01\x18\x01", "not deterministically"),
        (cbor2.dumps({1: 1}) + b"\x00", "1 byte follows the claims"),
    ],
)
def test_claims_payload_that_is_not_one_deterministic_map_is_refused(
    payload: bytes, message: str
) -> None:
    with pytest.raises(CborError, match=message):
        decode_claims_cbor(payload)


@pytest.mark.parametrize("size", [0, 1, 2, 3, 64, 195, 255])
def test_base45_decoding_agrees_with_the_reference_library(size: int) -> None:
    data = bytes((i * 37 + size) % 256 for i in range(size)) + b"\xff\xff"
    text = base45.b45encode(data).decode("ascii")
    assert decode_base45(text) == bytes(base45.b45decode(text)) == data
