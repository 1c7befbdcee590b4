"""This administration's private keys, encrypted at rest.

- The **operator key** signs Ethereum transactions for the authority. It is stored as a
  standard Ethereum keystore (v3 JSON, scrypt), the format geth, Besu tooling and
  ``eth_account`` read, so operators can move it between tools.
- The **document-signing key** signs QR payloads (COSE). It is stored as an encrypted
  PKCS#8 PEM file (``cryptography``'s best available encryption), for ES256 (P-256) or
  EdDSA (Ed25519).

Key material lives only inside :class:`OperatorKey` and :class:`SigningKey`, whose ``repr``
shows public data only, so that a stray ``logger.info("%r", key)`` or a traceback's locals
never print it. Files are created with mode 0600 and never overwritten.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from contracts import ids

from .errors import KeystoreError

#: scrypt cost of new operator keystores: geth's "standard" strength (N = 2**18).
DEFAULT_SCRYPT_N = 2**18


class SigningAlgorithm(StrEnum):
    """COSE algorithm names; the numbers are what the Authorities contract stores."""

    ES256 = "ES256"
    EDDSA = "EdDSA"

    @property
    def chain_code(self) -> int:
        return 1 if self is SigningAlgorithm.ES256 else 2


SigningPrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def _write_new_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeystoreError(
            f"key file {str(path)!r} already exists; refusing to overwrite it"
        ) from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _read_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise KeystoreError(f"{what} file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise KeystoreError(f"{what} file {str(path)!r} cannot be read: {exc.strerror}") from None


def _check_passphrase(passphrase: str) -> bytes:
    if not passphrase:
        raise KeystoreError("the key-file passphrase must not be empty")
    return passphrase.encode("utf-8")


# ---------------------------------------------------------------- operator key (Ethereum)


class OperatorKey:
    """An unlocked operator account. ``repr`` and ``str`` show the address only."""

    __slots__ = ("__account",)

    def __init__(self, account: LocalAccount) -> None:
        self.__account = account

    @property
    def address(self) -> str:
        """The checksummed address the chain knows this operator by."""
        return str(self.__account.address)

    def account(self) -> LocalAccount:
        """The ``eth_account`` signer, for the chain layer to sign transactions with."""
        return self.__account

    def __repr__(self) -> str:
        return f"OperatorKey(address={self.address})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("an OperatorKey cannot be pickled")


def create_operator_key(
    path: Path,
    passphrase: str,
    *,
    private_key: bytes | None = None,
    scrypt_n: int = DEFAULT_SCRYPT_N,
) -> OperatorKey:
    """Write a new encrypted operator keystore at ``path`` and return the unlocked key.

    ``private_key`` imports an existing 32-byte key (for example an account a deployment
    funded); by default a fresh key is generated. ``scrypt_n`` lowers the KDF cost only for
    throwaway keys (tests); production keys keep the default.
    """
    secret = _check_passphrase(passphrase)
    account: LocalAccount = (
        Account.from_key(private_key) if private_key is not None else Account.create()
    )
    keystore = Account.encrypt(
        account.key, secret.decode("utf-8"), kdf="scrypt", iterations=scrypt_n
    )
    _write_new_file(path, json.dumps(keystore, indent=2).encode("utf-8"))
    return OperatorKey(account)


def load_operator_key(path: Path, passphrase: str) -> OperatorKey:
    """Decrypt the operator keystore at ``path``; KeystoreError on a wrong passphrase."""
    _check_passphrase(passphrase)
    raw = _read_file(path, "operator key")
    try:
        keystore = json.loads(raw)
    except ValueError:
        raise KeystoreError(f"operator key file {str(path)!r} is not keystore JSON") from None
    try:
        private_key = Account.decrypt(keystore, passphrase)
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            raise KeystoreError(f"wrong passphrase for operator key file {str(path)!r}") from None
        raise KeystoreError(f"operator key file {str(path)!r} is not a valid keystore") from None
    except (KeyError, TypeError, NotImplementedError):
        raise KeystoreError(f"operator key file {str(path)!r} is not a valid keystore") from None
    return OperatorKey(Account.from_key(private_key))


def operator_address(path: Path) -> str:
    """The operator's address, read from the keystore without decrypting it."""
    raw = _read_file(path, "operator key")
    try:
        address = json.loads(raw)["address"]
    except (ValueError, KeyError, TypeError):
        raise KeystoreError(f"operator key file {str(path)!r} names no address") from None
    if not isinstance(address, str):
        raise KeystoreError(f"operator key file {str(path)!r} names no address")
    try:
        return str(to_checksum_address(address if address.startswith("0x") else "0x" + address))
    except ValueError:
        raise KeystoreError(f"operator key file {str(path)!r} has a malformed address") from None


# ---------------------------------------------------------------- document-signing key


@dataclass(frozen=True, slots=True)
class SigningPublicKey:
    """What an administration publishes on-chain about a document-signing key."""

    algorithm: SigningAlgorithm
    #: a compressed SEC1 point (33 bytes) for ES256, the raw 32-byte key for EdDSA
    public_key: bytes

    @property
    def kid(self) -> bytes:
        return ids.key_id(self.public_key)


class SigningKey:
    """An unlocked document-signing key. ``repr`` shows the algorithm and key id only."""

    __slots__ = ("__private", "public")

    def __init__(self, private_key: SigningPrivateKey) -> None:
        self.__private = private_key
        self.public = _public_of(private_key)

    @property
    def algorithm(self) -> SigningAlgorithm:
        return self.public.algorithm

    @property
    def kid(self) -> bytes:
        return self.public.kid

    def private_key(self) -> SigningPrivateKey:
        """The ``cryptography`` key object, for the code that signs QR payloads."""
        return self.__private

    def __repr__(self) -> str:
        return f"SigningKey(algorithm={self.algorithm.value}, kid={self.kid.hex()})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a SigningKey cannot be pickled")


def _public_of(private_key: SigningPrivateKey) -> SigningPublicKey:
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return SigningPublicKey(SigningAlgorithm.EDDSA, raw)
    if not isinstance(private_key.curve, ec.SECP256R1):
        raise KeystoreError(f"signing key curve {private_key.curve.name} is not P-256")
    point = private_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    return SigningPublicKey(SigningAlgorithm.ES256, point)


def create_signing_key(
    path: Path, passphrase: str, algorithm: SigningAlgorithm = SigningAlgorithm.ES256
) -> SigningKey:
    """Generate a document-signing key, write it encrypted at ``path`` and return it."""
    secret = _check_passphrase(passphrase)
    private_key: SigningPrivateKey = (
        ec.generate_private_key(ec.SECP256R1())
        if algorithm is SigningAlgorithm.ES256
        else ed25519.Ed25519PrivateKey.generate()
    )
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(secret),
    )
    _write_new_file(path, pem)
    return SigningKey(private_key)


def load_signing_key(path: Path, passphrase: str) -> SigningKey:
    """Decrypt the signing key at ``path``; KeystoreError on a wrong passphrase."""
    secret = _check_passphrase(passphrase)
    pem = _read_file(path, "signing key")
    try:
        private_key = serialization.load_pem_private_key(pem, password=secret)
    except TypeError:
        # cryptography says TypeError when the file is not encrypted at all.
        raise KeystoreError(
            f"signing key file {str(path)!r} is not encrypted; refusing a key stored in clear"
        ) from None
    except ValueError as exc:
        # A wrong passphrase usually fails the padding check ("bad decrypt"), but about one
        # time in 256 the garbage it yields pads correctly and then fails to parse as a key.
        # For an encrypted PKCS#8 file both mean the same to the operator.
        encrypted = pem.lstrip().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        if encrypted or "password" in str(exc).lower() or "decrypt" in str(exc).lower():
            raise KeystoreError(
                f"wrong passphrase for signing key file {str(path)!r} (or the file is damaged)"
            ) from None
        raise KeystoreError(
            f"signing key file {str(path)!r} is not an encrypted PKCS#8 PEM key"
        ) from None
    if not isinstance(private_key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise KeystoreError(
            f"signing key file {str(path)!r} holds a {type(private_key).__name__}; "
            "expected a P-256 or Ed25519 key"
        )
    return SigningKey(private_key)


def signing_public_key(path: Path, passphrase: str) -> SigningPublicKey:
    """The public half of the signing key at ``path`` (PKCS#8 encrypts it too)."""
    return load_signing_key(path, passphrase).public
