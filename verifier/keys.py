"""Document-signing keys: generation, serialization, the bytes published on-chain, and the
COSE signature primitives (ES256 and EdDSA) on top of the ``cryptography`` package.

A key is published on-chain in its most compact standard form, and its key id is
``contracts.domain.ids.key_id`` of exactly those bytes:

- ES256: the 33-byte compressed SEC1 point of a P-256 key (algorithm 1 on-chain, COSE -7);
- EdDSA: the 32 raw bytes of an Ed25519 key (algorithm 2 on-chain, COSE -8).

COSE (RFC 9053) signs ES256 as the 64-byte ``r || s`` concatenation, not DER; the
conversion below is format plumbing, the arithmetic stays in ``cryptography``.
"""

from __future__ import annotations

import functools

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from contracts.domain import ids
from contracts.domain.enums import KeyAlgorithm
from verifier.errors import EncodingError

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

SIGNATURE_LENGTH = 64
_P256_COORDINATE = 32
# Immutable; built once rather than on every verification.
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


def generate_private_key(algorithm: KeyAlgorithm = KeyAlgorithm.ES256) -> PrivateKey:
    if algorithm is KeyAlgorithm.ES256:
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm is KeyAlgorithm.EDDSA:
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"cannot generate a key for algorithm {algorithm!r}")


def algorithm_of(key: PrivateKey | PublicKey) -> KeyAlgorithm:
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return KeyAlgorithm.EDDSA
    if not isinstance(key.curve, ec.SECP256R1):
        raise EncodingError(f"ES256 needs a P-256 key, got curve {key.curve.name}")
    return KeyAlgorithm.ES256


def public_key_bytes(key: PrivateKey | PublicKey) -> bytes:
    """The public key as published on-chain (compressed point / raw Ed25519 bytes)."""
    public = (
        key.public_key()
        if isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey)
        else key
    )
    if algorithm_of(public) is KeyAlgorithm.EDDSA:
        return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )


def key_id_of(key: PrivateKey | PublicKey) -> bytes:
    """The 8-byte key id (``contracts.domain.ids.key_id`` of the published bytes)."""
    return ids.key_id(public_key_bytes(key))


def load_public_key(algorithm: KeyAlgorithm, data: bytes) -> PublicKey:
    """The published bytes back to a key object. Raises ValueError when they are not one.

    Cached: decompressing a P-256 point costs about a third of a signature check, and a
    verifier meets the same few published keys on every scan (key objects are immutable;
    a refusal is not cached, it raises again).
    """
    return _load_public_key(KeyAlgorithm(algorithm), bytes(data))


@functools.lru_cache(maxsize=1024)
def _load_public_key(algorithm: KeyAlgorithm, data: bytes) -> PublicKey:
    if algorithm is KeyAlgorithm.NONE:
        raise ValueError("algorithm 0 is no signing algorithm (the chain's mark of no such key)")
    if len(data) != algorithm.public_key_length:
        raise ValueError(
            f"{algorithm.name} public key must be {algorithm.public_key_length} bytes, "
            f"got {len(data)}"
        )
    if algorithm is KeyAlgorithm.EDDSA:
        return ed25519.Ed25519PublicKey.from_public_bytes(data)
    if data[0] not in (2, 3):
        raise ValueError("ES256 public key must be a compressed point (prefix 0x02 or 0x03)")
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data)


def private_key_to_pem(key: PrivateKey, passphrase: bytes | None = None) -> bytes:
    """PKCS#8 PEM, encrypted with ``passphrase`` when one is given (it should be, at rest)."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def private_key_from_pem(pem: bytes, passphrase: bytes | None = None) -> PrivateKey:
    key = serialization.load_pem_private_key(pem, password=passphrase)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise EncodingError(f"a signing key must be P-256 or Ed25519, got {type(key).__name__}")


def sign(key: PrivateKey, message: bytes) -> bytes:
    """A COSE signature over ``message``: 64 bytes for both algorithms.

    ES256 signs deterministically (RFC 6979): no nonce to get wrong, and reproducible vectors.
    """
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(message)
    der = key.sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    r, s = decode_dss_signature(der)
    return r.to_bytes(_P256_COORDINATE, "big") + s.to_bytes(_P256_COORDINATE, "big")


def verify_signature(key: PublicKey, message: bytes, signature: bytes) -> bool:
    """True when ``signature`` (COSE form) is ``key``'s signature over ``message``."""
    if len(signature) != SIGNATURE_LENGTH:
        return False
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
        else:
            r = int.from_bytes(signature[:_P256_COORDINATE], "big")
            s = int.from_bytes(signature[_P256_COORDINATE:], "big")
            key.verify(encode_dss_signature(r, s), message, _ECDSA_SHA256)
    except InvalidSignature:
        return False
    return True
