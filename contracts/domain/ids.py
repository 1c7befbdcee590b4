"""Identifiers and hashes shared by the contracts, the registry service and the verifier.

These functions are the Python twin of what the contracts compute; tests check that both
sides agree. Keep every definition here so no part re-derives them differently. (Day numbers
are :mod:`contracts.domain.days`.)

- An authority code is 2 to 4 upper-case ASCII letters (``MN``, ``KZ``, ``EAEU``), stored
  on-chain as ``bytes4``, left-aligned and zero-padded.
- A certificate number is 1 to 32 characters of ``A-Z 0-9 - / .``, stored as ``bytes32``,
  left-aligned and zero-padded. Its code prefix (:func:`number_prefix`) is the run of 2 to 4
  letters it starts with, when a non-letter or its end follows; no authority may issue a number
  whose prefix is another member's code.
- The certificate id is ``keccak256(abi.encodePacked(bytes4 issuer, bytes32 number))``,
  so the same number cannot be issued twice by the same authority.
- The holder reference is ``keccak256(utf8("SCHEME:IDENTIFIER"))`` with the scheme and
  identifier upper-cased and stripped of spaces: a pseudonymous reference, not a secret
  (identification numbers are guessable; see docs/contracts.md).
- The record digest is what a certificate's storage slot holds of its off-chain record:
  the first 20 bytes of ``keccak256(abi.encodePacked(holderRef, commitment))``.
- A document-signing key id (kid) is the first 8 bytes of SHA-256 of the public key bytes
  published on-chain (a compressed SEC1 point for ES256, the raw key for Ed25519).
"""

from __future__ import annotations

import hashlib
import re

from sha3 import keccak_256


def keccak(data: bytes) -> bytes:
    """Keccak-256 (Ethereum's, not NIST SHA3-256) of ``data``."""
    digest: bytes = keccak_256(data).digest()
    return digest


_AUTHORITY_RE = re.compile(r"^[A-Z]{2,4}$")
_NUMBER_RE = re.compile(r"^[A-Z0-9][A-Z0-9\-/.]{0,31}$")
_NUMBER_PREFIX_RE = re.compile(r"^([A-Z]{2,4})(?![A-Z])")


def authority_code(code: str) -> bytes:
    """``"MN"`` -> ``b"MN\\x00\\x00"`` (bytes4). Raises ValueError on a malformed code."""
    if not _AUTHORITY_RE.match(code):
        raise ValueError(f"authority code must be 2 to 4 upper-case letters, got {code!r}")
    return code.encode("ascii").ljust(4, b"\x00")


def authority_code_str(raw: bytes) -> str:
    """bytes4 from the chain -> ``"MN"``."""
    return raw.rstrip(b"\x00").decode("ascii")


def certificate_number(number: str) -> bytes:
    """A certificate number as bytes32. Raises ValueError on a malformed number."""
    if not _NUMBER_RE.match(number):
        raise ValueError(
            "certificate number must be 1 to 32 characters of A-Z, 0-9, '-', '/', '.', "
            f"starting with a letter or digit; got {number!r}"
        )
    return number.encode("ascii").ljust(32, b"\x00")


def certificate_number_str(raw: bytes) -> str:
    return raw.rstrip(b"\x00").decode("ascii")


def number_prefix(number: str) -> str | None:
    """The authority code ``number`` reads as belonging to: its leading letters when there are
    2 to 4 of them and a non-letter (or the end) follows, as ``Certificates._codePrefix``
    decides on chain. ``"MN-AEO-0001"`` and ``"MN0001"`` -> ``"MN"``; ``"AEOF-12"`` ->
    ``"AEOF"``; ``"DEAEOF123"`` (six letters) and ``"2024-MN-1"`` -> None."""
    match = _NUMBER_PREFIX_RE.match(number)
    return match.group(1) if match else None


def certificate_id(issuer: str, number: str) -> bytes:
    """The on-chain id of certificate ``number`` issued by authority ``issuer``."""
    return keccak(authority_code(issuer) + certificate_number(number))


def holder_ref(scheme: str, identifier: str) -> bytes:
    """Pseudonymous 32-byte reference to a holder's identification number."""
    norm = f"{scheme.strip().upper()}:{''.join(identifier.split()).upper()}"
    return keccak(norm.encode("utf-8"))


def record_digest(holder: bytes, commitment: bytes) -> bytes:
    """The 20-byte digest a certificate's storage slot binds to (see module doc)."""
    if len(holder) != 32 or len(commitment) != 32:
        raise ValueError("holder reference and commitment must be 32 bytes each")
    return keccak(holder + commitment)[:20]


def key_id(public_key: bytes) -> bytes:
    """The 8-byte id of a document-signing key."""
    return hashlib.sha256(public_key).digest()[:8]
