"""registry_api.credentials without HTTP: the status list encoding (decoded by hand here),
the did:web identifier, the Accept negotiation, and the JWS checked with jwcrypto, a JOSE
implementation independent of the joserfc that signs."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jwcrypto import jwk, jws
from pydantic import ValidationError

from contracts.domain import days
from contracts.domain.claims import Claims
from contracts.domain.days import OPEN_ENDED
from contracts.domain.enums import KeyAlgorithm
from registry_api import credentials as vc, hsm
from registry_api.keystore import SigningKey
from registry_api.routes.credentials import negotiate
from registry_api.services.credentials import NotAcceptableError
from registry_api.settings import Settings

from .softhsm import start_softhsm


def decode_list(encoded: str) -> bytes:
    """The bits of an ``encodedList``, decoded without the code under test."""
    assert encoded.startswith("u")  # multibase base64url, no padding
    body = encoded[1:]
    return gzip.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def bit(bits: bytes, index: int) -> int:
    # The recommendation's order: index 0 is the left-most (most significant) bit.
    return (bits[index // 8] >> (7 - index % 8)) & 1


def claims(valid_until: date = date(2030, 1, 14)) -> Claims:
    return Claims.from_record(
        issuer="MN",
        number="MN-AEO-2025-0001",
        holder_name="Tavan Bogd Trade LLC",
        holder_id_scheme="TIN",
        holder_id="5012345",
        tiers=3,
        valid_from=date(2025, 1, 15),
        valid_until=valid_until,
        issued_at=datetime(2026, 12, 7, tzinfo=UTC),
        version=1,
        commitment=bytes(range(32)),
    )


# ---------------------------------------------------------------- the bitstring


def test_an_encoded_list_holds_131072_bits_with_exactly_the_given_ones_set() -> None:
    bits = decode_list(vc.encode_bits([0, 7, 8, 94_567, vc.LIST_LENGTH - 1]))
    assert len(bits) * 8 == vc.LIST_LENGTH == 131_072
    assert [i for i in range(vc.LIST_LENGTH) if bit(bits, i)] == [0, 7, 8, 94_567, 131_071]
    assert bits[0] == 0b1000_0001


def test_an_empty_list_compresses_to_a_few_hundred_characters() -> None:
    encoded = vc.encode_bits([])
    assert decode_list(encoded) == bytes(vc.LIST_BYTES)
    assert len(encoded) < 300


def test_the_same_bits_always_encode_to_the_same_text() -> None:
    assert vc.encode_bits([5, 3]) == vc.encode_bits([3, 5])


@pytest.mark.parametrize("index", [-1, vc.LIST_LENGTH])
def test_an_index_outside_the_list_is_refused(index: int) -> None:
    with pytest.raises(ValueError, match=r"outside 0\.\.131071"):
        vc.encode_bits([index])


# ---------------------------------------------------------------- identifiers


@pytest.mark.parametrize(
    ("url", "did"),
    [
        ("https://registry.customs.mn", "did:web:registry.customs.mn"),
        ("https://registry.customs.mn/", "did:web:registry.customs.mn"),
        ("http://localhost:8001", "did:web:localhost%3A8001"),
        ("https://customs.example/aeo/mn", "did:web:customs.example:aeo:mn"),
    ],
)
def test_the_issuer_is_the_did_web_of_the_public_url(url: str, did: str) -> None:
    assert vc.issuer_did(url) == did


@pytest.mark.parametrize(
    "url", ["registry.customs.mn", "ftp://registry.customs.mn", "https://x.mn/?a=1", "https://"]
)
def test_a_public_url_that_is_not_an_absolute_http_url_is_refused_naming_the_setting(
    url: str, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match="public_url"):
        Settings(authority="MN", data_dir=tmp_path, public_url=url)


def test_an_empty_public_url_means_unset(tmp_path: Path) -> None:
    assert Settings(authority="MN", data_dir=tmp_path, public_url="").public_url is None


# ---------------------------------------------------------------- the credential


def test_the_credential_says_what_the_qr_says_with_both_status_entries() -> None:
    credential = vc.certificate_credential(
        public_url="https://registry.customs.mn",
        administration_name="Mongolia Customs",
        claims=claims(),
        list_number=2,
        list_index=17,
    )
    assert credential["@context"] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://registry.customs.mn/contexts/aeo/v1",
    ]
    assert credential["type"] == ["VerifiableCredential", "AEOCertificateCredential"]
    assert credential["issuer"]["id"] == "did:web:registry.customs.mn"
    # The QR's days are inclusive: valid through 2030-01-14, so until that day ends.
    assert (credential["validFrom"], credential["validUntil"]) == (
        "2025-01-15T00:00:00Z",
        "2030-01-15T00:00:00Z",
    )
    subject = credential["credentialSubject"]
    assert subject["certificateNumber"] == "MN-AEO-2025-0001"
    assert subject["tierNames"] == ["C", "S"]
    assert subject["recordDigest"] == "0x" + claims().digest.hex()
    assert credential["credentialStatus"] == [
        {
            "id": f"https://registry.customs.mn/status-lists/{purpose}/2#17",
            "type": "BitstringStatusListEntry",
            "statusPurpose": purpose,
            "statusListIndex": "17",
            "statusListCredential": f"https://registry.customs.mn/status-lists/{purpose}/2",
        }
        for purpose in ("revocation", "suspension")
    ]


def test_an_open_ended_certificate_has_no_valid_until() -> None:
    credential = vc.certificate_credential(
        public_url="https://registry.customs.mn",
        administration_name="Mongolia Customs",
        claims=claims(valid_until=days.from_day(OPEN_ENDED)),
        list_number=1,
        list_index=0,
    )
    assert "validUntil" not in credential
    assert "certificateValidUntil" not in credential["credentialSubject"]


def test_every_term_of_the_credential_subject_is_defined_by_the_context() -> None:
    subject = vc.certificate_credential(
        public_url="https://registry.customs.mn",
        administration_name="Mongolia Customs",
        claims=claims(),
        list_number=1,
        list_index=0,
    )["credentialSubject"]
    scoped = vc.AEO_CONTEXT["@context"]["AuthorizedEconomicOperator"]["@context"]
    assert set(subject) <= set(scoped)


# ---------------------------------------------------------------- content negotiation


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, "application/vc"),
        ("", "application/vc"),
        ("*/*", "application/vc"),
        ("application/vc+jwt", "application/vc+jwt"),
        ("application/json", "application/json"),
        ("application/vc", "application/vc"),
        ("application/vc+jwt, */*;q=0.1", "application/vc+jwt"),
        ("application/vc+jwt;q=0.5, application/vc", "application/vc"),
        ("text/html, application/*;q=0.2", "application/vc"),
        ("application/vc, application/vc+jwt", "application/vc+jwt"),
        ("application/json;q=0.9, application/vc+jwt;q=0.8", "application/json"),
    ],
)
def test_the_accept_header_chooses_the_secured_or_the_plain_credential(
    accept: str | None, chosen: str
) -> None:
    assert negotiate(accept) == chosen


@pytest.mark.parametrize(
    ("accept", "message"),
    [
        ("text/html", "accepts none of"),
        ("application/vc+jwt;q=0, application/vc;q=0", "accepts none of"),
        ("application/vc+jwt;q=high", "is not a quality value"),
        ("application/vc;q=2", "is not a quality value"),
        ("application/vc;q=nan", "is not a quality value"),
    ],
)
def test_an_accept_header_with_nothing_we_answer_is_a_406_naming_the_header(
    accept: str, message: str
) -> None:
    with pytest.raises(NotAcceptableError, match=message) as caught:
        negotiate(accept)
    assert caught.value.status == 406
    assert caught.value.detail.startswith("header Accept")


# ---------------------------------------------------------------- the JWS


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.ES256, KeyAlgorithm.EDDSA])
def test_a_secured_credential_verifies_with_jwcrypto_against_the_published_key(
    algorithm: KeyAlgorithm,
) -> None:
    private = (
        ec.generate_private_key(ec.SECP256R1())
        if algorithm is KeyAlgorithm.ES256
        else ed25519.Ed25519PrivateKey.generate()
    )
    key = SigningKey(private)
    credential = {"@context": [vc.VC_CONTEXT], "type": ["VerifiableCredential"], "ü": "ß"}
    token = vc.secure(credential, key, "did:web:registry.customs.mn")

    # What the chain publishes (a compressed point, a raw key) as the DID document's JWK.
    published = jwk.JWK(**vc.public_jwk(algorithm, key.public.public_key))
    checked = jws.JWS()
    checked.deserialize(token)
    checked.verify(published, alg=vc.jws_algorithm(algorithm))
    header = checked.jose_header
    assert header == {
        "alg": "ES256" if algorithm is KeyAlgorithm.ES256 else "EdDSA",
        "kid": f"did:web:registry.customs.mn#{key.kid.hex()}",
        "typ": "vc+jwt",
        "cty": "vc",
    }
    assert json.loads(checked.payload) == credential


def test_a_key_in_an_hsm_token_secures_a_credential_that_jwcrypto_verifies(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    softhsm = start_softhsm(tmp_path_factory)
    token = hsm.open_token(softhsm.config())
    key = token.create_key(f"credentials-{uuid.uuid4().hex[:8]}", hsm.KeyKind.SIGNING)
    assert isinstance(key, hsm.HsmSigningKey)
    credential = {"@context": [vc.VC_CONTEXT], "type": ["VerifiableCredential"]}

    token_jws = vc.secure(credential, key, "did:web:registry.customs.mn")

    checked = jws.JWS()
    checked.deserialize(token_jws)
    checked.verify(jwk.JWK(**vc.public_jwk(KeyAlgorithm.ES256, key.public.public_key)))
    assert checked.jose_header["kid"] == f"did:web:registry.customs.mn#{key.kid.hex()}"
    assert json.loads(checked.payload) == credential


def test_a_credential_signed_by_another_key_does_not_verify() -> None:
    key = SigningKey(ec.generate_private_key(ec.SECP256R1()))
    other = SigningKey(ec.generate_private_key(ec.SECP256R1()))
    token = vc.secure({"type": ["VerifiableCredential"]}, key, "did:web:x.mn")
    checked = jws.JWS()
    checked.deserialize(token)
    with pytest.raises(jws.InvalidJWSSignature):
        checked.verify(jwk.JWK(**vc.public_jwk(KeyAlgorithm.ES256, other.public.public_key)))
