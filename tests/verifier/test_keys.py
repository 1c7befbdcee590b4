"""Signing keys: the bytes published on-chain, serialization, and the COSE signature form."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization

from contracts.domain import ids
from contracts.domain.enums import SIGNING_ALGORITHMS, KeyAlgorithm
from verifier import keys
from verifier.errors import EncodingError


@pytest.mark.parametrize(
    ("algorithm", "length"), [(KeyAlgorithm.ES256, 33), (KeyAlgorithm.EDDSA, 32)]
)
def test_public_key_is_published_in_its_compact_form(algorithm: KeyAlgorithm, length: int) -> None:
    key = keys.generate_private_key(algorithm)
    published = keys.public_key_bytes(key)
    assert len(published) == length
    assert keys.key_id_of(key) == ids.key_id(published)
    if algorithm is KeyAlgorithm.ES256:
        assert published[0] in (2, 3)


@pytest.mark.parametrize("algorithm", list(SIGNING_ALGORITHMS))
def test_published_bytes_load_back_and_verify_a_signature(algorithm: KeyAlgorithm) -> None:
    key = keys.generate_private_key(algorithm)
    public = keys.load_public_key(algorithm, keys.public_key_bytes(key))
    signature = keys.sign(key, b"message")
    assert len(signature) == keys.SIGNATURE_LENGTH
    assert keys.verify_signature(public, b"message", signature)
    assert not keys.verify_signature(public, b"other message", signature)
    assert not keys.verify_signature(public, b"message", signature[:-1])


def test_uncompressed_p256_point_is_not_a_published_key() -> None:
    key = keys.generate_private_key(KeyAlgorithm.ES256)
    uncompressed = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    with pytest.raises(ValueError, match="must be 33 bytes"):
        keys.load_public_key(KeyAlgorithm.ES256, uncompressed)


def test_bytes_that_are_not_on_the_curve_are_refused() -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - cryptography's message varies by version
        keys.load_public_key(KeyAlgorithm.ES256, b"\x02" + b"\xff" * 32)


@pytest.mark.parametrize("algorithm", list(SIGNING_ALGORITHMS))
def test_private_key_survives_encrypted_pem(algorithm: KeyAlgorithm) -> None:
    key = keys.generate_private_key(algorithm)
    pem = keys.private_key_to_pem(key, b"correct horse")
    assert b"ENCRYPTED" in pem
    again = keys.private_key_from_pem(pem, b"correct horse")
    assert keys.public_key_bytes(again) == keys.public_key_bytes(key)


def test_key_on_another_curve_is_refused_for_signing() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP384R1())
    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(EncodingError, match="P-256 or Ed25519"):
        keys.private_key_from_pem(pem)


def test_cose_algorithm_numbers() -> None:
    assert KeyAlgorithm.ES256.cose == -7
    assert KeyAlgorithm.EDDSA.cose == -8
    assert KeyAlgorithm.from_cose(-8) is KeyAlgorithm.EDDSA
    with pytest.raises(ValueError, match="not ES256"):
        KeyAlgorithm.from_cose(-35)
