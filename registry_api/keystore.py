"""This administration's private keys, encrypted at rest.

- The **operator key** signs Ethereum transactions for the authority. It is stored as a
  standard Ethereum keystore (v3 JSON, scrypt), the format geth, Besu tooling and
  ``eth_account`` read, so operators can move it between tools.
- The **document-signing key** signs QR payloads (COSE), ES256 (P-256) or EdDSA (Ed25519).
  It is stored as an encrypted PKCS#8 PEM file (``ENCRYPTED PRIVATE KEY``) whose PBES2
  scheme (RFC 8018) uses **scrypt** (RFC 7914) as its key derivation, at the operator
  key's cost (N = 2^18, r = 8, p = 1: 256 MiB and about a second per derivation), and
  AES-256-CBC as its cipher: the structure ``openssl pkcs8 -topk8 -scrypt`` writes, at a
  higher cost. ``cryptography`` reads it as it is (``load_pem_private_key``), as does any
  PKCS#8 reader with scrypt and no memory cap below 256 MiB (OpenSSL's command line caps
  scrypt at 32 MiB and refuses it). ``cryptography``'s own encryption builder offers only
  PBKDF2 (2,048 iterations for ``BestAvailableEncryption``: a GPU tries millions of
  passphrases a second against it), so the structure is written with ``pyasn1`` and the
  primitives come from ``hashlib`` and ``cryptography``. A JSON envelope with an AEAD
  cipher was the alternative; the standard file won because it stays a PKCS#8 key that
  key tools and HSM import procedures know, and because an attacker who can modify the
  ciphertext (unauthenticated CBC) could as well replace the whole file.

Older signing-key files (PBKDF2, or any other scheme) are **refused** with a message naming
the command that re-encrypts them in place, ``aeo keys migrate PATH``
(:func:`migrate_key_file`). A file is parsed and its scrypt cost bounded
(:data:`MAX_SCRYPT_MEMORY`) before any derivation runs, so a crafted file cannot make the
service allocate without limit; derivations run one at a time per process
(``_KDF_LOCK``), so concurrent requests never hold more than one derivation's memory, and
each decrypted key is remembered per (file content, passphrase) so that a document request
does not pay a second of scrypt.

Passphrases that protect a new file must have at least :data:`MIN_PASSPHRASE_LENGTH`
characters; reading an existing file only needs the passphrase it was written with.

Key material lives only inside :class:`OperatorKey` and :class:`SigningKey`, whose ``repr``
shows public data only, so that a stray ``logger.info("%r", key)`` or a traceback's locals
never print it. Files are created with mode 0600 (in one ``open`` call: never readable by
anyone else, whatever the umask) and never overwritten, except by a migration, which
replaces the file atomically with a new 0600 one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import stat
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import padding, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

# pyasn1 and pyasn1-modules ship no type information: their values are Any here, and only
# the few functions below touch them.
from pyasn1.codec.der import (  # type: ignore[import-untyped]
    decoder as der_decoder,
    encoder as der_encoder,
)
from pyasn1.error import PyAsn1Error  # type: ignore[import-untyped]
from pyasn1.type import univ  # type: ignore[import-untyped]
from pyasn1_modules import rfc5208, rfc5280, rfc7914, rfc8018  # type: ignore[import-untyped]

from contracts.domain import ids
from contracts.domain.enums import KeyAlgorithm

from .errors import KeystoreError

logger = logging.getLogger("registry_api.keystore")

#: scrypt cost of new key files of both kinds: geth's "standard" strength (N = 2**18).
DEFAULT_SCRYPT_N = 2**18
#: scrypt's block size and parallelism for new signing-key files (geth's and OpenSSL's).
SCRYPT_R = 8
SCRYPT_P = 1
#: The most memory a key file may make one derivation use (128 * r * N bytes): twice the
#: default's 256 MiB. A file's parameters are read before anything is trusted.
MAX_SCRYPT_MEMORY = 2**29
#: The smallest cost accepted at all: the floor only tests go down to, through the explicit
#: ``scrypt_n`` argument; production files are written at :data:`DEFAULT_SCRYPT_N`.
MIN_SCRYPT_N = 2**4
#: Shortest passphrase a new key file may be encrypted with (the settings and the ``aeo``
#: commands refuse shorter ones too, in every environment).
MIN_PASSPHRASE_LENGTH = 12

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)
_ENCRYPTED_PKCS8 = "ENCRYPTED PRIVATE KEY"
_SALT_BYTES = 16
_AES256_KEY_BYTES = 32


SigningPrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


class LegacyKeyFileError(KeystoreError):
    """A signing-key file encrypted with a scheme too weak to keep (``aeo keys migrate``)."""

    def __init__(self, path: Path, scheme: str) -> None:
        super().__init__(
            f"signing key file {str(path)!r} is encrypted with {scheme}, which is too weak "
            f"to keep; re-encrypt it with: aeo keys migrate {path}"
        )
        self.scheme = scheme


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


def _replace_file(path: Path, data: bytes) -> None:
    """Replace ``path`` by a new 0600 file holding ``data``: a crash leaves the old file or
    the new one, never a half-written key."""
    scratch = path.with_name(f".{path.name}.migrate-{uuid.uuid4().hex}")
    try:
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(scratch, path)
        except BaseException:
            scratch.unlink(missing_ok=True)
            raise
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a power cut
        finally:
            os.close(directory)
    except OSError as exc:
        raise KeystoreError(
            f"cannot replace key file {str(path)!r}: {exc.strerror} (it is unchanged)"
        ) from None


def _warn_if_readable_by_others(path: Path, what: str) -> None:
    """Log a warning for a key file that other users may read. Not tightened here: key
    files are often placed by configuration management, which owns their modes."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return
    if mode & 0o077:
        logger.warning(
            "%s file %s is readable by other users (mode %o): make it 0600 (chmod 600)",
            what,
            path,
            mode,
        )


def _read_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise KeystoreError(f"{what} file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise KeystoreError(f"{what} file {str(path)!r} cannot be read: {exc.strerror}") from None


def _check_passphrase(passphrase: str) -> bytes:
    """The passphrase of an existing file: anything but empty."""
    if not passphrase:
        raise KeystoreError("the key-file passphrase must not be empty")
    return passphrase.encode("utf-8")


def _check_new_passphrase(passphrase: str) -> bytes:
    """The passphrase a new file is encrypted with: long enough to resist guessing."""
    secret = _check_passphrase(passphrase)
    if len(passphrase.strip()) < MIN_PASSPHRASE_LENGTH:
        raise KeystoreError(
            f"the key-file passphrase is shorter than {MIN_PASSPHRASE_LENGTH} characters; "
            "choose a longer one"
        )
    return secret


def _check_scrypt_n(scrypt_n: int) -> None:
    if (
        scrypt_n < MIN_SCRYPT_N
        or scrypt_n & (scrypt_n - 1)
        or 128 * SCRYPT_R * scrypt_n > (MAX_SCRYPT_MEMORY)
    ):
        raise KeystoreError(
            f"scrypt_n must be a power of two from {MIN_SCRYPT_N} to "
            f"{MAX_SCRYPT_MEMORY // (128 * SCRYPT_R)}, got {scrypt_n}"
        )


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


def _operator_keystore(private_key: bytes, secret: bytes, scrypt_n: int) -> bytes:
    keystore = Account.encrypt(
        private_key, secret.decode("utf-8"), kdf="scrypt", iterations=scrypt_n
    )
    return json.dumps(keystore, indent=2).encode("utf-8")


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
    secret = _check_new_passphrase(passphrase)
    _check_scrypt_n(scrypt_n)
    account: LocalAccount = (
        Account.from_key(private_key) if private_key is not None else Account.create()
    )
    _write_new_file(path, _operator_keystore(bytes(account.key), secret, scrypt_n))
    return OperatorKey(account)


def _operator_keystore_json(path: Path, raw: bytes) -> dict[str, Any]:
    try:
        keystore = json.loads(raw)
    except ValueError:
        raise KeystoreError(f"operator key file {str(path)!r} is not keystore JSON") from None
    if not isinstance(keystore, dict):
        raise KeystoreError(f"operator key file {str(path)!r} is not a valid keystore")
    return keystore


def _decrypt_operator_keystore(path: Path, keystore: dict[str, Any], passphrase: str) -> bytes:
    try:
        return bytes(Account.decrypt(keystore, passphrase))
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            raise KeystoreError(f"wrong passphrase for operator key file {str(path)!r}") from None
        raise KeystoreError(f"operator key file {str(path)!r} is not a valid keystore") from None
    except (KeyError, TypeError, NotImplementedError):
        raise KeystoreError(f"operator key file {str(path)!r} is not a valid keystore") from None


def load_operator_key(path: Path, passphrase: str) -> OperatorKey:
    """Decrypt the operator keystore at ``path``; KeystoreError on a wrong passphrase."""
    _check_passphrase(passphrase)
    keystore = _operator_keystore_json(path, _read_file(path, "operator key"))
    key = OperatorKey(Account.from_key(_decrypt_operator_keystore(path, keystore, passphrase)))
    _warn_if_readable_by_others(path, "operator key")
    return key


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


def _operator_kdf(keystore: dict[str, Any]) -> tuple[str, int]:
    """(kdf name, its cost: scrypt's N or PBKDF2's iterations) of a v3 keystore."""
    crypto = keystore.get("crypto") or keystore.get("Crypto") or {}
    kdf = str(crypto.get("kdf", "?")) if isinstance(crypto, dict) else "?"
    params = crypto.get("kdfparams", {}) if isinstance(crypto, dict) else {}
    cost = params.get("n" if kdf == "scrypt" else "c", 0) if isinstance(params, dict) else 0
    return kdf, int(cost) if isinstance(cost, int) else 0


# ---------------------------------------------------------------- document-signing key


@dataclass(frozen=True, slots=True)
class SigningPublicKey:
    """What an administration publishes on-chain about a document-signing key."""

    algorithm: KeyAlgorithm
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
    def algorithm(self) -> KeyAlgorithm:
        return self.public.algorithm

    @property
    def kid(self) -> bytes:
        return self.public.kid

    def private_key(self) -> SigningPrivateKey:
        """The ``cryptography`` key object, for the code that signs QR payloads."""
        return self.__private

    def __repr__(self) -> str:
        return f"SigningKey(algorithm={self.algorithm.label}, kid={self.kid.hex()})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a SigningKey cannot be pickled")


def _public_of(private_key: SigningPrivateKey) -> SigningPublicKey:
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return SigningPublicKey(KeyAlgorithm.EDDSA, raw)
    if not isinstance(private_key.curve, ec.SECP256R1):
        raise KeystoreError(f"signing key curve {private_key.curve.name} is not P-256")
    point = private_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    return SigningPublicKey(KeyAlgorithm.ES256, point)


@dataclass(frozen=True, slots=True)
class ScryptParameters:
    """A signing-key file's encryption, as read from it (before anything is decrypted)."""

    salt: bytes
    n: int
    r: int
    p: int
    iv: bytes
    ciphertext: bytes = field(default=b"", repr=False)

    @property
    def memory(self) -> int:
        """Bytes one derivation needs (scrypt's V array)."""
        return 128 * self.r * self.n

    def describe(self) -> str:
        return f"scrypt (N=2^{self.n.bit_length() - 1}, r={self.r}, p={self.p}), AES-256-CBC"


# The lock keeps concurrent requests from running several 256 MiB derivations at once: the
# memory a process spends on scrypt is one derivation's, whatever the load.
_KDF_LOCK = threading.Lock()


def _scrypt(secret: bytes, params: ScryptParameters) -> bytes:
    with _KDF_LOCK:
        return hashlib.scrypt(
            secret,
            salt=params.salt,
            n=params.n,
            r=params.r,
            p=params.p,
            # OpenSSL counts the V array, the B buffers and a little more (128 r (N + p + 2)).
            maxmem=128 * params.r * (params.n + params.p + 2) + 2**16,
            dklen=_AES256_KEY_BYTES,
        )


def _algorithm_identifier(oid: univ.ObjectIdentifier, parameters: Any) -> Any:
    identifier = rfc5280.AlgorithmIdentifier()
    identifier["algorithm"] = oid
    identifier["parameters"] = univ.Any(der_encoder.encode(parameters))
    return identifier


def _encrypt_signing_key(private_key: SigningPrivateKey, secret: bytes, scrypt_n: int) -> bytes:
    """The PEM of ``private_key`` as PKCS#8, PBES2 with scrypt and AES-256-CBC."""
    params = ScryptParameters(
        salt=secrets.token_bytes(_SALT_BYTES),
        n=scrypt_n,
        r=SCRYPT_R,
        p=SCRYPT_P,
        iv=secrets.token_bytes(16),
    )
    clear = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    encryptor = Cipher(algorithms.AES(_scrypt(secret, params)), modes.CBC(params.iv)).encryptor()
    ciphertext = encryptor.update(padder.update(clear) + padder.finalize()) + encryptor.finalize()

    scrypt_params = rfc7914.Scrypt_params()
    scrypt_params["salt"] = params.salt
    scrypt_params["costParameter"] = params.n
    scrypt_params["blockSize"] = params.r
    scrypt_params["parallelizationParameter"] = params.p
    pbes2 = rfc8018.PBES2_params()
    pbes2["keyDerivationFunc"] = _algorithm_identifier(rfc7914.id_scrypt, scrypt_params)
    pbes2["encryptionScheme"] = _algorithm_identifier(
        rfc8018.aes256_CBC_PAD, univ.OctetString(params.iv)
    )
    info = rfc5208.EncryptedPrivateKeyInfo()
    info["encryptionAlgorithm"]["algorithm"] = rfc8018.id_PBES2
    info["encryptionAlgorithm"]["parameters"] = univ.Any(der_encoder.encode(pbes2))
    info["encryptedData"] = ciphertext
    body = base64.b64encode(der_encoder.encode(info)).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return (
        f"-----BEGIN {_ENCRYPTED_PKCS8}-----\n"
        + "\n".join(lines)
        + f"\n-----END {_ENCRYPTED_PKCS8}-----\n"
    ).encode("ascii")


def _decode(data: bytes, spec: Any) -> Any:
    value, rest = der_decoder.decode(data, asn1Spec=spec)
    if rest:
        raise PyAsn1Error("trailing bytes")
    return value


def _read_scheme(path: Path, pem: bytes) -> ScryptParameters:
    """The scrypt parameters of a signing-key file in the current format.

    Raises :class:`LegacyKeyFileError` for an encrypted key in any other scheme, and
    KeystoreError for a key stored in clear or a file that holds no key."""
    name = str(path)
    block = _PEM_BLOCK.search(pem)
    if block is None:
        raise KeystoreError(f"signing key file {name!r} is not an encrypted PKCS#8 PEM key")
    label = block.group(1).decode("ascii")
    body = block.group(2)
    if label != _ENCRYPTED_PKCS8:
        if b"Proc-Type: 4,ENCRYPTED" in body:
            raise LegacyKeyFileError(path, "OpenSSL's traditional scheme (MD5 key derivation)")
        if label.endswith("PRIVATE KEY"):
            raise KeystoreError(
                f"signing key file {name!r} is not encrypted; refusing a key stored in clear"
            )
        raise KeystoreError(f"signing key file {name!r} is not an encrypted PKCS#8 PEM key")
    damaged = KeystoreError(f"signing key file {name!r} is damaged (not a readable PKCS#8 key)")
    try:
        der = base64.b64decode(b"".join(body.split()), validate=True)
        info = _decode(der, rfc5208.EncryptedPrivateKeyInfo())
        scheme = info["encryptionAlgorithm"]
        if scheme["algorithm"] != rfc8018.id_PBES2:
            raise LegacyKeyFileError(path, f"PKCS#5 v1 or PKCS#12 ({scheme['algorithm']})")
        pbes2 = _decode(bytes(scheme["parameters"]), rfc8018.PBES2_params())
        kdf = pbes2["keyDerivationFunc"]
        if kdf["algorithm"] == rfc8018.id_PBKDF2:
            pbkdf2 = _decode(bytes(kdf["parameters"]), rfc8018.PBKDF2_params())
            iterations = int(pbkdf2["iterationCount"])
            raise LegacyKeyFileError(path, f"PBKDF2 ({iterations:,} iterations)")
        if kdf["algorithm"] != rfc7914.id_scrypt:
            raise LegacyKeyFileError(path, f"the key derivation {kdf['algorithm']}")
        scrypt_params = _decode(bytes(kdf["parameters"]), rfc7914.Scrypt_params())
        cipher = pbes2["encryptionScheme"]
        key_length = scrypt_params["keyLength"]
        if cipher["algorithm"] != rfc8018.aes256_CBC_PAD or (
            key_length.isValue and int(key_length) != _AES256_KEY_BYTES
        ):
            raise KeystoreError(
                f"signing key file {name!r} uses the cipher {cipher['algorithm']}; "
                f"only AES-256-CBC is read (re-encrypt it with: aeo keys migrate {path})"
            )
        params = ScryptParameters(
            salt=bytes(scrypt_params["salt"]),
            n=int(scrypt_params["costParameter"]),
            r=int(scrypt_params["blockSize"]),
            p=int(scrypt_params["parallelizationParameter"]),
            iv=bytes(_decode(bytes(cipher["parameters"]), univ.OctetString())),
            ciphertext=bytes(info["encryptedData"]),
        )
    except (PyAsn1Error, binascii.Error, ValueError):
        raise damaged from None
    if len(params.iv) != 16 or not params.ciphertext or len(params.ciphertext) % 16:
        raise damaged
    if (
        params.n < MIN_SCRYPT_N
        or params.n & (params.n - 1)
        or not 1 <= params.r <= 32
        or not 1 <= params.p <= 4
        or params.memory > MAX_SCRYPT_MEMORY
    ):
        raise KeystoreError(
            f"signing key file {name!r} asks for scrypt N={params.n}, r={params.r}, "
            f"p={params.p}: outside what this service derives (at most "
            f"{MAX_SCRYPT_MEMORY // 2**20} MiB, p <= 4)"
        )
    return params


def _wrong_passphrase(path: Path) -> KeystoreError:
    return KeystoreError(
        f"wrong passphrase for signing key file {str(path)!r} (or the file is damaged)"
    )


def _decrypt_pkcs8(params: ScryptParameters, secret: bytes) -> object | None:
    """The key object a current-format file holds, or None when the passphrase is wrong."""
    decryptor = Cipher(algorithms.AES(_scrypt(secret, params)), modes.CBC(params.iv)).decryptor()
    unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
    try:
        padded = decryptor.update(params.ciphertext) + decryptor.finalize()
        clear = unpadder.update(padded) + unpadder.finalize()
        # A wrong passphrase usually fails the padding check, but about one time in 256 the
        # garbage it yields pads correctly and then fails to parse as a key.
        return serialization.load_der_private_key(clear, password=None)
    except ValueError:
        return None


def _signing_key_of(path: Path, private_key: object) -> SigningKey:
    if not isinstance(private_key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise KeystoreError(
            f"signing key file {str(path)!r} holds a {type(private_key).__name__}; "
            "expected a P-256 or Ed25519 key"
        )
    return SigningKey(private_key)


class _UnlockedKeys:
    """Signing keys already decrypted, by (file content, passphrase): the service reads its
    key files on every document request, and a second of scrypt each time would be its
    slowest step. The passphrase enters the cache key only through an HMAC under a random
    per-process key. A wrong passphrase is remembered too (as None), so that a service
    started with a wrong one does not spend a derivation on every request."""

    SIZE = 64

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._salt = secrets.token_bytes(32)
        self._entries: OrderedDict[bytes, object | None] = OrderedDict()

    def key(self, pem: bytes, secret: bytes) -> bytes:
        # The digest has a fixed length, so digest + secret cannot collide across pairs.
        return hmac.new(self._salt, hashlib.sha256(pem).digest() + secret, "sha256").digest()

    def get(self, key: bytes) -> tuple[bool, object | None]:
        with self._lock:
            if key not in self._entries:
                return False, None
            self._entries.move_to_end(key)
            return True, self._entries[key]

    def put(self, key: bytes, value: object | None) -> None:
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.SIZE:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_UNLOCKED = _UnlockedKeys()
# Two requests missing the cache for the same file at once derive once: the second waits
# here and finds the first one's result.
_UNLOCKING = threading.Lock()


def create_signing_key(
    path: Path,
    passphrase: str,
    algorithm: KeyAlgorithm = KeyAlgorithm.ES256,
    *,
    scrypt_n: int = DEFAULT_SCRYPT_N,
) -> SigningKey:
    """Generate a document-signing key, write it encrypted at ``path`` and return it.

    ``scrypt_n`` lowers the KDF cost only for throwaway keys (tests); production keys keep
    the default."""
    if algorithm is KeyAlgorithm.NONE:
        raise KeystoreError("a signing key must be ES256 or EdDSA")
    secret = _check_new_passphrase(passphrase)
    _check_scrypt_n(scrypt_n)
    private_key: SigningPrivateKey = (
        ec.generate_private_key(ec.SECP256R1())
        if algorithm is KeyAlgorithm.ES256
        else ed25519.Ed25519PrivateKey.generate()
    )
    _write_new_file(path, _encrypt_signing_key(private_key, secret, scrypt_n))
    return SigningKey(private_key)


def load_signing_key(path: Path, passphrase: str) -> SigningKey:
    """Decrypt the signing key at ``path``; KeystoreError on a wrong passphrase, and
    :class:`LegacyKeyFileError` (naming ``aeo keys migrate``) for a file in an old scheme."""
    secret = _check_passphrase(passphrase)
    pem = _read_file(path, "signing key")
    cache_key = _UNLOCKED.key(pem, secret)
    found, private_key = _UNLOCKED.get(cache_key)
    if not found:
        with _UNLOCKING:
            found, private_key = _UNLOCKED.get(cache_key)
            if not found:
                private_key = _decrypt_pkcs8(_read_scheme(path, pem), secret)
                _UNLOCKED.put(cache_key, private_key)
                # Once per process and file, not on every document request.
                _warn_if_readable_by_others(path, "signing key")
    if private_key is None:
        raise _wrong_passphrase(path)
    return _signing_key_of(path, private_key)


def signing_key_encryption(path: Path) -> ScryptParameters:
    """How the signing-key file at ``path`` is encrypted (no passphrase needed); raises
    :class:`LegacyKeyFileError` for a file in an old scheme."""
    return _read_scheme(path, _read_file(path, "signing key"))


def signing_public_key(path: Path, passphrase: str) -> SigningPublicKey:
    """The public half of the signing key at ``path`` (PKCS#8 encrypts it too)."""
    return load_signing_key(path, passphrase).public


# ---------------------------------------------------------------- migration


@dataclass(frozen=True, slots=True)
class Migration:
    """What :func:`migrate_key_file` did to one key file."""

    kind: str  # "signing" or "operator"
    before: str
    after: str
    changed: bool


def _operator_scheme(keystore: dict[str, Any]) -> str:
    kdf, cost = _operator_kdf(keystore)
    if kdf == "scrypt" and cost > 0:
        return f"scrypt (N=2^{cost.bit_length() - 1})"
    return f"{kdf} ({cost:,} iterations)" if cost else kdf


def migrate_key_file(
    path: Path,
    passphrase: str,
    *,
    new_passphrase: str | None = None,
    scrypt_n: int = DEFAULT_SCRYPT_N,
) -> Migration:
    """Re-encrypt the key file at ``path`` in the current format at full cost.

    A signing key in a legacy scheme (PBKDF2 PKCS#8, OpenSSL's traditional PEM) or at a
    scrypt cost below ``scrypt_n``, and an operator keystore below it, are decrypted with
    ``passphrase`` and written again, under ``new_passphrase`` when one is given. A file
    already current is left untouched (after its passphrase is checked), unless a new
    passphrase is asked for. The new file replaces the old one atomically, mode 0600, and
    only after it was read back and found to hold the same key. A wrong passphrase changes
    nothing."""
    secret = _check_passphrase(passphrase)
    target = _check_new_passphrase(new_passphrase if new_passphrase is not None else passphrase)
    _check_scrypt_n(scrypt_n)
    raw = _read_file(path, "key")
    if raw.lstrip().startswith(b"{"):
        return _migrate_operator_key(path, raw, passphrase, target, scrypt_n, new_passphrase)

    try:
        params = _read_scheme(path, raw)
    except LegacyKeyFileError as legacy:
        before = legacy.scheme
        try:
            private_key: object = serialization.load_pem_private_key(raw, password=secret)
        except ValueError:
            raise _wrong_passphrase(path) from None
        except Exception as exc:  # cryptography's UnsupportedAlgorithm and kin
            raise KeystoreError(
                f"signing key file {str(path)!r} cannot be decrypted here: {exc}"
            ) from None
    else:
        before = params.describe()
        decrypted = _decrypt_pkcs8(params, secret)
        if decrypted is None:
            raise _wrong_passphrase(path) from None
        private_key = decrypted
        current = params.n >= scrypt_n and params.r == SCRYPT_R and params.p == SCRYPT_P
        if current and new_passphrase is None:
            _signing_key_of(path, private_key)
            return Migration("signing", before, before, changed=False)
    key = _signing_key_of(path, private_key)
    data = _encrypt_signing_key(key.private_key(), target, scrypt_n)
    written = _read_scheme(path, data)
    reread = _decrypt_pkcs8(written, target)
    if reread is None or _signing_key_of(path, reread).public != key.public:
        raise KeystoreError(f"re-encrypting {str(path)!r} failed its check; the file is unchanged")
    _replace_file(path, data)
    return Migration("signing", before, written.describe(), changed=True)


def _migrate_operator_key(
    path: Path,
    raw: bytes,
    passphrase: str,
    target: bytes,
    scrypt_n: int,
    new_passphrase: str | None,
) -> Migration:
    keystore = _operator_keystore_json(path, raw)
    private_key = _decrypt_operator_keystore(path, keystore, passphrase)
    before = _operator_scheme(keystore)
    kdf, cost = _operator_kdf(keystore)
    if kdf == "scrypt" and cost >= scrypt_n and new_passphrase is None:
        return Migration("operator", before, before, changed=False)
    data = _operator_keystore(private_key, target, scrypt_n)
    written = _operator_keystore_json(path, data)
    if _decrypt_operator_keystore(path, written, target.decode("utf-8")) != private_key:
        raise KeystoreError(f"re-encrypting {str(path)!r} failed its check; the file is unchanged")
    _replace_file(path, data)
    return Migration("operator", before, _operator_scheme(written), changed=True)
