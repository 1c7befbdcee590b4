"""Keys in a hardware security module, through PKCS#11 (issue 16, part 2).

The file backend (:mod:`registry_api.keystore`) decrypts its keys into the service's memory.
With ``AEO_KEY_BACKEND=pkcs11`` both of the service's private keys stay inside a token
instead, and only signatures come out:

- the **document-signing key**: EC P-256, ES256. The payload is hashed with SHA-256 here and
  the digest signed with ``CKM_ECDSA`` in the token; the ``r || s`` that comes back is put in
  the lower half of the group order (AEO1 admits only the low-S twin), so the verifier gets
  exactly the bytes the file backend writes. :class:`HsmSigningKey` has the surface of
  :class:`~registry_api.keystore.SigningKey` (``public``, ``algorithm``, ``kid``,
  ``private_key()``), and its ``private_key()`` is a ``cryptography`` EC key object whose
  ``sign`` runs in the token, so ``verifier.payload.build`` signs with either unchanged.
- the **operator key**: EC secp256k1, Ethereum transactions. eth_account builds and hashes
  the unsigned transaction (legacy or EIP-1559, whatever the sender's dict says), the token
  signs the keccak digest with ``CKM_ECDSA``, the signature is normalised to low-S (EIP-2:
  nodes refuse the high twin), and the recovery id is the ``v`` in {0, 1} whose recovered
  public key is the token's. :class:`HsmAccount` is an ``eth_account``
  :class:`~eth_account.signers.base.BaseAccount` (``address``, ``sign_transaction``), the
  surface the outbox sender uses of its operator account.

SoftHSM2 (the Debian package ``softhsm2``, what the tests run against) implements both curves:
it hands the EC parameters to OpenSSL, which knows secp256k1 by its OID 1.3.132.0.10, so
``CKM_EC_KEY_PAIR_GEN`` with those parameters makes a secp256k1 key in the token. Real HSMs
differ on this curve (docs/deployment.md, "Keys in an HSM").

A token is opened once per process and module: PKCS#11 keeps the login per application
and token, so this module holds one logged-in session per token (:func:`open_token`) and
serialises the operations on it. A session the token dropped (an HSM restarted, a network
HSM reconnected) is reopened and the operation retried once. The PIN comes from the settings
(``AEO_HSM_PIN`` or ``AEO_HSM_PIN_FILE``) and is never logged or shown: ``repr`` of
every object here shows public data only.

:func:`document_signing_keys` and :func:`transaction_signer` are what the registry calls to
get its signers from either backend.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar, cast

import pkcs11
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils as asym_utils
from cryptography.utils import Buffer
from eth_account._utils.signing import sign_message_hash, sign_transaction_dict
from eth_account.datastructures import SignedMessage, SignedTransaction
from eth_account.messages import SignableMessage, _hash_eip191_message
from eth_account.signers.base import BaseAccount
from eth_account.types import Blobs, TransactionDictType
from eth_keys.constants import SECPK1_N
from eth_keys.datatypes import PrivateKey as EthPrivateKey, PublicKey as EthPublicKey, Signature
from eth_typing import ChecksumAddress, Hash32
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass, exceptions as p11
from pkcs11.util.ec import encode_named_curve_parameters
from pydantic import SecretStr

from contracts.domain.enums import KeyAlgorithm
from verifier import payload as payload_format

from .errors import KeystoreError, UnavailableError
from .keystore import (
    SigningPrivateKey,
    SigningPublicKey,
    load_operator_key,
)

if TYPE_CHECKING:
    from .settings import Settings

logger = logging.getLogger("registry_api.hsm")

#: Where Debian's ``libsofthsm2`` puts the module (a link to the multiarch path).
DEFAULT_PKCS11_MODULE: Final = Path("/usr/lib/softhsm/libsofthsm2.so")
#: Default key labels in the token.
DEFAULT_SIGNING_KEY_LABEL: Final = "aeo-signing"
DEFAULT_OPERATOR_KEY_LABEL: Final = "aeo-operator"
#: PKCS#11 token labels are 32 bytes, blank padded (CK_TOKEN_INFO.label).
TOKEN_LABEL_MAX_BYTES: Final = 32

# The group orders the signatures live in (the verifier's P-256 n, eth_keys' secp256k1 n).
P256_ORDER: Final = payload_format.P256_ORDER
SECP256K1_ORDER: Final = SECPK1_N
_COORDINATE: Final = 32

# Errors after which the session is gone but the token may be back: reopen, log in, retry.
_RECONNECT = (
    p11.SessionHandleInvalid,
    p11.SessionClosed,
    p11.UserNotLoggedIn,
    p11.DeviceRemoved,
    p11.TokenNotPresent,
    p11.DeviceError,
    p11.KeyHandleInvalid,
    p11.ObjectHandleInvalid,
)


class KeyBackend(StrEnum):
    """Where the registry's private keys live (``AEO_KEY_BACKEND``)."""

    FILE = "file"
    PKCS11 = "pkcs11"


class KeyKind(StrEnum):
    """What a key in the token is for; each kind has its curve."""

    SIGNING = "signing"
    OPERATOR = "operator"

    @property
    def curve(self) -> ec.EllipticCurve:
        return ec.SECP256R1() if self is KeyKind.SIGNING else ec.SECP256K1()

    @property
    def curve_oid(self) -> str:
        return "1.2.840.10045.3.1.7" if self is KeyKind.SIGNING else "1.3.132.0.10"

    @property
    def curve_name(self) -> str:
        return "P-256" if self is KeyKind.SIGNING else "secp256k1"

    @property
    def order(self) -> int:
        return P256_ORDER if self is KeyKind.SIGNING else SECP256K1_ORDER

    @property
    def ec_params(self) -> bytes:
        """CKA_EC_PARAMS: the DER of the curve's OID (a named curve)."""
        return encode_named_curve_parameters(self.curve_oid)


class HsmError(KeystoreError):
    """A PKCS#11 module, token, PIN or key problem: a configuration error at start-up, and
    later a dependency that cannot serve (503, like a database that does not answer): a
    request that needed a signature is refused, the sender keeps its operation and retries
    on its next pass."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    slug = "unavailable"
    title = "Service unavailable"


def low_s(signature: bytes, order: int) -> bytes:
    """``r || s`` with ``s`` in the lower half of ``order``: ECDSA's ``(r, n - s)`` verifies
    too, and AEO1 (ES256) and Ethereum (EIP-2) admit only the low one."""
    s = int.from_bytes(signature[_COORDINATE:], "big")
    if s <= order // 2:
        return signature
    return signature[:_COORDINATE] + (order - s).to_bytes(_COORDINATE, "big")


def _ec_point(public: Any) -> bytes:
    """The SEC1 point of a PKCS#11 EC public key object. The standard says CKA_EC_POINT is
    a DER OCTET STRING around the point (04, length, point); some modules give the bare
    point. A bare point has 33 or 65 bytes, a wrapped one 35 or 67: the length decides."""
    value = bytes(public[Attribute.EC_POINT])
    if len(value) in (35, 67) and value[0] == 0x04 and value[1] == len(value) - 2:
        return value[2:]
    return value


@dataclass(frozen=True)
class TokenConfig:
    """How to reach one token: the module, the token's label and the user PIN."""

    module: Path
    token_label: str
    pin: SecretStr = field(repr=False)

    def __post_init__(self) -> None:
        if not self.token_label:
            raise HsmError("the PKCS#11 token label is empty (AEO_HSM_TOKEN_LABEL)")
        if len(self.token_label.encode("utf-8")) > TOKEN_LABEL_MAX_BYTES:
            raise HsmError(
                f"the PKCS#11 token label {self.token_label!r} is longer than "
                f"{TOKEN_LABEL_MAX_BYTES} bytes, which no token label can be"
            )
        if not self.pin.get_secret_value():
            raise HsmError(
                f"no PIN for PKCS#11 token {self.token_label!r}: set AEO_HSM_PIN or "
                "AEO_HSM_PIN_FILE"
            )


T = TypeVar("T")


class HsmToken:
    """One token, logged in, with one session that every signer of the process shares.

    Obtain it with :func:`open_token` (one per module and token per process: PKCS#11 logs
    an application in per token, so a second login would be refused)."""

    def __init__(self, config: TokenConfig) -> None:
        self.config = config
        self._lock = threading.RLock()
        self._lib = _load_module(config.module)
        self._token = self._find_token()
        self._session: Any = None
        self._keys: dict[tuple[str, KeyKind], Any] = {}
        self._login()

    @property
    def label(self) -> str:
        return self.config.token_label

    def __repr__(self) -> str:
        return f"HsmToken(module={str(self.config.module)!r}, label={self.label!r})"

    def _find_token(self) -> Any:
        try:
            return self._lib.get_token(token_label=self.label)
        except p11.NoSuchToken:
            present = sorted(str(token.label) for token in self._lib.get_tokens() if token.label)
            raise HsmError(
                f"no PKCS#11 token labelled {self.label!r} in {self.config.module} "
                f"(tokens present: {', '.join(map(repr, present)) or 'none'})"
            ) from None
        except p11.MultipleTokensReturned:
            raise HsmError(
                f"several PKCS#11 tokens are labelled {self.label!r} in {self.config.module}; "
                "give each token its own label"
            ) from None
        except p11.PKCS11Error as exc:
            raise _token_error(self.label, "cannot be listed", exc) from None

    def _login(self) -> None:
        try:
            self._session = self._token.open(user_pin=self.config.pin.get_secret_value())
        except (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange):
            raise HsmError(
                f"wrong PIN for PKCS#11 token {self.label!r} (AEO_HSM_PIN or AEO_HSM_PIN_FILE)"
            ) from None
        except p11.PinLocked:
            raise HsmError(
                f"the user PIN of PKCS#11 token {self.label!r} is locked (too many wrong "
                "PINs): its security officer must unlock it"
            ) from None
        except (p11.PinExpired, p11.UserPinNotInitialized):
            raise HsmError(
                f"the user PIN of PKCS#11 token {self.label!r} is expired or was never set: "
                "its security officer must set one"
            ) from None
        except p11.UserAlreadyLoggedIn:
            raise HsmError(
                f"PKCS#11 token {self.label!r} is already logged in by this process outside "
                "registry_api.hsm; open it through open_token() only"
            ) from None
        except p11.PKCS11Error as exc:
            raise _token_error(self.label, "refused the login", exc) from None
        self._keys.clear()

    def _reopen(self) -> None:
        old, self._session = self._session, None
        self._keys.clear()
        if old is not None:
            with contextlib.suppress(p11.PKCS11Error):  # already gone: why we are here
                old.close()
        self._token = self._find_token()
        self._login()

    def _run(self, what: str, operation: Callable[[Any], T]) -> T:
        """``operation(session)`` under the token's lock; once more on a fresh session when
        the token dropped the first one."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    if self._session is None:
                        self._reopen()
                    return operation(self._session)
                except _RECONNECT as exc:
                    if attempt == 2:
                        raise _token_error(self.label, f"failed to {what}", exc) from None
                    logger.warning(
                        "PKCS#11 token %r dropped its session (%s); logging in again",
                        self.label,
                        type(exc).__name__,
                    )
                    self._reopen()  # HsmError when the token is not back: nothing to retry
                except p11.PKCS11Error as exc:
                    raise _token_error(self.label, f"failed to {what}", exc) from None
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    # ------------------------------------------------------------ keys

    def _private_key(self, session: Any, label: str, kind: KeyKind) -> Any:
        cached = self._keys.get((label, kind))
        if cached is not None:
            return cached
        try:
            private = session.get_key(
                object_class=ObjectClass.PRIVATE_KEY, key_type=KeyType.EC, label=label
            )
        except p11.NoSuchKey:
            raise HsmError(
                f"PKCS#11 token {self.label!r} holds no {kind.value} key labelled {label!r}: "
                f"create one with: aeo keys new --pkcs11 --token {self.label} --label {label} "
                f"--kind {kind.value}"
            ) from None
        except p11.MultipleObjectsReturned:
            raise HsmError(
                f"PKCS#11 token {self.label!r} holds several private keys labelled {label!r}; "
                "a label must name one key"
            ) from None
        if bytes(private[Attribute.EC_PARAMS]) != kind.ec_params:
            raise HsmError(
                f"the key labelled {label!r} in PKCS#11 token {self.label!r} is not on "
                f"{kind.curve_name}, the curve of a {kind.value} key"
            )
        if not private[Attribute.SIGN]:
            raise HsmError(
                f"the key labelled {label!r} in PKCS#11 token {self.label!r} may not sign "
                "(CKA_SIGN is false)"
            )
        if not private[Attribute.SENSITIVE] or private[Attribute.EXTRACTABLE]:
            logger.warning(
                "the %s key labelled %r in PKCS#11 token %r can leave the token (CKA_SENSITIVE "
                "false or CKA_EXTRACTABLE true): keys made by aeo keys new --pkcs11 cannot",
                kind.value,
                label,
                self.label,
            )
        self._keys[(label, kind)] = private
        return private

    def _public_point(self, session: Any, label: str, kind: KeyKind) -> bytes:
        try:
            public = session.get_key(
                object_class=ObjectClass.PUBLIC_KEY, key_type=KeyType.EC, label=label
            )
        except p11.NoSuchKey:
            raise HsmError(
                f"PKCS#11 token {self.label!r} holds no public key labelled {label!r} beside "
                "its private key: import the public half under the same label"
            ) from None
        except p11.MultipleObjectsReturned:
            raise HsmError(
                f"PKCS#11 token {self.label!r} holds several public keys labelled {label!r}; "
                "a label must name one key"
            ) from None
        if bytes(public[Attribute.EC_PARAMS]) != kind.ec_params:
            raise HsmError(
                f"the public key labelled {label!r} in PKCS#11 token {self.label!r} is not "
                f"on {kind.curve_name}"
            )
        return _ec_point(public)

    def public_key(self, label: str, kind: KeyKind) -> ec.EllipticCurvePublicKey:
        """The public half of the key pair ``label`` (its private half must be there too)."""

        def read(session: Any) -> bytes:
            self._private_key(session, label, kind)
            return self._public_point(session, label, kind)

        point = self._run(f"read the key {label!r}", read)
        try:
            return ec.EllipticCurvePublicKey.from_encoded_point(kind.curve, point)
        except ValueError:
            raise HsmError(
                f"the public key labelled {label!r} in PKCS#11 token {self.label!r} is not a "
                f"valid {kind.curve_name} point"
            ) from None

    def sign_digest(self, label: str, kind: KeyKind, digest: bytes) -> bytes:
        """``CKM_ECDSA`` over a 32-byte digest with the private key ``label``: ``r || s``,
        low-S."""
        if len(digest) != _COORDINATE:
            raise ValueError(f"a digest to sign has 32 bytes, got {len(digest)}")

        def sign(session: Any) -> bytes:
            private = self._private_key(session, label, kind)
            return bytes(private.sign(digest, mechanism=Mechanism.ECDSA))

        signature = self._run(f"sign with the key {label!r}", sign)
        if len(signature) != 2 * _COORDINATE:
            raise HsmError(
                f"PKCS#11 token {self.label!r} returned a {len(signature)}-byte ECDSA "
                "signature; expected r || s of 64 bytes"
            )
        return low_s(signature, kind.order)

    def signing_key(self, label: str = DEFAULT_SIGNING_KEY_LABEL) -> HsmSigningKey:
        """The document-signing key ``label`` (P-256)."""
        return HsmSigningKey(self, label)

    def operator_account(self, label: str = DEFAULT_OPERATOR_KEY_LABEL) -> HsmAccount:
        """The operator account whose secp256k1 key is ``label``."""
        return HsmAccount(self, label)

    def create_key(self, label: str, kind: KeyKind) -> HsmSigningKey | HsmAccount:
        """Generate a key pair of ``kind`` inside the token, under ``label``.

        The private key is a token object (CKA_TOKEN), sensitive and never extractable, and
        may only sign (no derive, decrypt or unwrap): its value never leaves the token, not
        even wrapped. A label already in use is refused: keys are never replaced."""
        if not label:
            raise HsmError("a key label must not be empty")

        def generate(session: Any) -> None:
            taken = list(session.get_objects({Attribute.LABEL: label}))
            if taken:
                raise HsmError(
                    f"PKCS#11 token {self.label!r} already holds an object labelled {label!r}; "
                    "keys are never replaced: choose another label"
                )
            key_id = secrets.token_bytes(8)  # CKA_ID pairs the two halves for other tools
            # The login is the application's, not the session's (PKCS#11 5.6): a read-write
            # session opened without a PIN is a user session too, and closing it (no
            # C_Logout, it never logged in) leaves the signing session logged in.
            with self._token.open(rw=True) as writer:
                parameters = writer.create_domain_parameters(
                    KeyType.EC, {Attribute.EC_PARAMS: kind.ec_params}, local=True
                )
                parameters.generate_keypair(
                    id=key_id,
                    label=label,
                    store=True,
                    capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                    public_template={Attribute.PRIVATE: False, Attribute.MODIFIABLE: False},
                    private_template={
                        Attribute.PRIVATE: True,
                        Attribute.SENSITIVE: True,
                        Attribute.EXTRACTABLE: False,
                        Attribute.DERIVE: False,
                        Attribute.DECRYPT: False,
                        Attribute.UNWRAP: False,
                        Attribute.MODIFIABLE: False,
                    },
                )

        self._run(f"generate the key {label!r}", generate)
        logger.info("generated a %s key labelled %r in PKCS#11 token %r", kind, label, self.label)
        return self.signing_key(label) if kind is KeyKind.SIGNING else self.operator_account(label)

    def key_attributes(self, label: str, kind: KeyKind) -> dict[str, bool]:
        """The protection flags of the private key ``label`` (what an auditor asks)."""

        def read(session: Any) -> dict[str, bool]:
            private = self._private_key(session, label, kind)
            names = (
                "TOKEN",
                "PRIVATE",
                "SENSITIVE",
                "EXTRACTABLE",
                "ALWAYS_SENSITIVE",
                "NEVER_EXTRACTABLE",
            )
            return {name.lower(): bool(private[Attribute[name]]) for name in names}

        return self._run(f"read the key {label!r}", read)

    def check_not_exportable(self, label: str, kind: KeyKind) -> None:
        """Ask the token for the private value of ``label`` (C_GetAttributeValue on
        CKA_VALUE) and return when it refuses, as it does for every key made here; raise
        HsmError, without the value, when the token gives it out. For audits and tests."""

        def ask(session: Any) -> bool:
            private = self._private_key(session, label, kind)
            try:
                private[Attribute.VALUE]
            except (p11.AttributeSensitive, p11.KeyUnextractable):
                return False
            return True

        if self._run(f"read the key {label!r}", ask):
            raise HsmError(
                f"PKCS#11 token {self.label!r} gives out the private value of key {label!r}: "
                "it is not sensitive; make a new key with aeo keys new --pkcs11"
            )

    def close(self) -> None:
        with self._lock:
            session, self._session = self._session, None
            self._keys.clear()
            if session is not None:
                with contextlib.suppress(p11.PKCS11Error):  # the token dropped it already
                    session.close()


def _token_error(label: str, what: str, exc: p11.PKCS11Error) -> HsmError:
    # The PKCS#11 return value names the cause (CKR_DEVICE_REMOVED...); nothing secret in it.
    return HsmError(f"PKCS#11 token {label!r} {what}: {type(exc).__name__} {exc}".rstrip())


_MODULE_LOCK = threading.Lock()


def _load_module(module: Path) -> Any:
    """The PKCS#11 module, loaded and initialised once per process (python-pkcs11 keeps one
    per path; the path is resolved so that a link and its target are the same module)."""
    if not module.is_file():
        raise HsmError(
            f"the PKCS#11 module {str(module)!r} does not exist (AEO_HSM_MODULE; for "
            "SoftHSM2 install the Debian package softhsm2)"
        )
    with _MODULE_LOCK:
        try:
            return pkcs11.lib(str(module.resolve()))
        except p11.PKCS11Error as exc:
            raise HsmError(f"the PKCS#11 module {str(module)!r} cannot be loaded: {exc}") from None


class _OpenTokens:
    """The tokens this process has logged in to, by (module, label). The PIN enters only as
    an HMAC under a per-process key, to notice a second configuration with another PIN."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._salt = secrets.token_bytes(32)
        self._tokens: dict[tuple[str, str], tuple[bytes, HsmToken]] = {}

    def _pin_tag(self, pin: SecretStr) -> bytes:
        return hmac.new(self._salt, pin.get_secret_value().encode("utf-8"), "sha256").digest()

    def open(self, config: TokenConfig) -> HsmToken:
        key = (str(config.module.resolve()), config.token_label)
        tag = self._pin_tag(config.pin)
        with self._lock:
            found = self._tokens.get(key)
            if found is not None:
                if not hmac.compare_digest(found[0], tag):
                    raise HsmError(
                        f"PKCS#11 token {config.token_label!r} is already open in this process "
                        "with another PIN"
                    )
                return found[1]
            token = HsmToken(config)
            self._tokens[key] = (tag, token)
            return token

    def close_all(self) -> None:
        with self._lock:
            tokens = [token for _tag, token in self._tokens.values()]
            self._tokens.clear()
        for token in tokens:
            token.close()


_OPEN = _OpenTokens()


def open_token(config: TokenConfig) -> HsmToken:
    """The logged-in token ``config`` names, opened on first use and kept for the process."""
    return _OPEN.open(config)


def close_tokens() -> None:
    """Log out of and close every token this process opened (tests, shutdown)."""
    _OPEN.close_all()


# ---------------------------------------------------------------- ES256 documents


class HsmEcPrivateKey(ec.EllipticCurvePrivateKey):
    """A P-256 private key that lives in a token: ``cryptography``'s interface, so that the
    COSE code (``verifier.keys.sign``) signs with it as with a key in memory. Everything
    that would reveal the private value raises HsmError.

    ``sign`` ignores ``deterministic_signing``: a token draws its own nonce (RFC 6979 is not
    a PKCS#11 mechanism), so two signatures of one payload differ, and both verify. The
    registry's payload cache keeps one signed text per certificate version and process."""

    def __init__(self, token: HsmToken, label: str, public: ec.EllipticCurvePublicKey) -> None:
        self._token = token
        self._label = label
        self._public = public

    def sign(
        self,
        data: Buffer,
        signature_algorithm: ec.EllipticCurveSignatureAlgorithm,
    ) -> bytes:
        if not isinstance(signature_algorithm, ec.ECDSA):
            raise HsmError(f"a token key signs ECDSA only, not {signature_algorithm!r}")
        algorithm = signature_algorithm.algorithm
        if isinstance(algorithm, asym_utils.Prehashed):
            if not isinstance(algorithm._algorithm, hashes.SHA256):
                raise HsmError("ES256 signs SHA-256 digests only")
            digest = bytes(data)
        elif isinstance(algorithm, hashes.SHA256):
            digest = hashlib.sha256(bytes(data)).digest()
        else:
            raise HsmError(f"ES256 hashes with SHA-256, not {algorithm.name}")
        raw = self._token.sign_digest(self._label, KeyKind.SIGNING, digest)
        return asym_utils.encode_dss_signature(
            int.from_bytes(raw[:_COORDINATE], "big"), int.from_bytes(raw[_COORDINATE:], "big")
        )

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._public

    @property
    def curve(self) -> ec.EllipticCurve:
        return self._public.curve

    @property
    def key_size(self) -> int:
        return self._public.key_size

    def exchange(self, algorithm: ec.ECDH, peer_public_key: ec.EllipticCurvePublicKey) -> bytes:
        raise HsmError("a document-signing key in a token signs only (no key agreement)")

    def private_numbers(self) -> ec.EllipticCurvePrivateNumbers:
        raise HsmError("the private key stays inside the PKCS#11 token")

    def private_bytes(
        self,
        encoding: Any,
        format: Any,
        encryption_algorithm: Any,
    ) -> bytes:
        raise HsmError("the private key stays inside the PKCS#11 token")

    def __copy__(self) -> HsmEcPrivateKey:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> HsmEcPrivateKey:
        return self

    def __repr__(self) -> str:
        return f"HsmEcPrivateKey(token={self._token.label!r}, label={self._label!r})"

    def __reduce__(self) -> Any:
        raise TypeError("a key in a PKCS#11 token cannot be pickled")


class DocumentSigner(Protocol):
    """What the registry needs of a document-signing key, whichever backend holds it:
    :class:`~registry_api.keystore.SigningKey` (a file) and :class:`HsmSigningKey`."""

    @property
    def public(self) -> SigningPublicKey: ...

    @property
    def algorithm(self) -> KeyAlgorithm: ...

    @property
    def kid(self) -> bytes: ...

    def private_key(self) -> SigningPrivateKey: ...


class HsmSigningKey:
    """A document-signing key in a token (ES256). ``repr`` shows the key id only."""

    __slots__ = ("_private", "label", "public", "token")

    def __init__(self, token: HsmToken, label: str) -> None:
        self.token = token
        self.label = label
        point = token.public_key(label, KeyKind.SIGNING)
        self._private = HsmEcPrivateKey(token, label, point)
        compressed = point.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
        )
        self.public = SigningPublicKey(KeyAlgorithm.ES256, compressed)

    @property
    def algorithm(self) -> KeyAlgorithm:
        return self.public.algorithm

    @property
    def kid(self) -> bytes:
        return self.public.kid

    def private_key(self) -> HsmEcPrivateKey:
        """The token-backed key object, for the code that signs QR payloads."""
        return self._private

    def __repr__(self) -> str:
        return (
            f"HsmSigningKey(token={self.token.label!r}, label={self.label!r}, kid={self.kid.hex()})"
        )

    __str__ = __repr__


# ---------------------------------------------------------------- secp256k1 transactions


class _TokenEthKey:
    """The one method eth_account's signing helpers call on a private key,
    ``sign_msg_hash``, answered by the token: ECDSA over the keccak digest, low-S, and the
    recovery id whose public key is the token's."""

    __slots__ = ("_label", "_public", "_token")

    def __init__(self, token: HsmToken, label: str, public: EthPublicKey) -> None:
        self._token = token
        self._label = label
        self._public = public

    def sign_msg_hash(self, message_hash: bytes) -> Signature:
        raw = self._token.sign_digest(self._label, KeyKind.OPERATOR, bytes(message_hash))
        r = int.from_bytes(raw[:_COORDINATE], "big")
        s = int.from_bytes(raw[_COORDINATE:], "big")
        # r is the x of the nonce point reduced mod n; its y parity (and, once in 2^128, an
        # x above n) is what v says. PKCS#11 does not return it: try both and keep the one
        # that recovers to this key.
        for v in (0, 1):
            signature = Signature(vrs=(v, r, s))
            try:
                recovered = signature.recover_public_key_from_msg_hash(bytes(message_hash))
            except Exception:  # noqa: S112 - eth_keys' BadSignature: try the other v
                continue
            if recovered == self._public:
                return signature
        raise HsmError(
            f"the signature of PKCS#11 token {self._token.label!r} with key {self._label!r} "
            "does not recover to its public key"
        )


class HsmAccount(BaseAccount):
    """An operator account whose key is in a token: an ``eth_account`` account (the
    sender's ``address`` and ``sign_transaction``). ``repr`` shows the address only."""

    def __init__(self, token: HsmToken, label: str) -> None:
        self.token = token
        self.label = label
        point = token.public_key(label, KeyKind.OPERATOR)
        uncompressed = point.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self._public = EthPublicKey(uncompressed[1:])
        self._address = self._public.to_checksum_address()
        # eth_account's own signing helpers (sign_transaction_dict, sign_message_hash: the
        # code LocalAccount runs) take an eth_keys PrivateKey and call only its
        # sign_msg_hash, which this object answers from the token; no transaction encoding
        # is written again here. They are private names: the tests fail if they change.
        self._key = cast(EthPrivateKey, _TokenEthKey(token, label, self._public))

    @property
    def address(self) -> ChecksumAddress:
        return self._address

    @property
    def public_key(self) -> bytes:
        """The 64-byte uncompressed public key (X || Y), as Ethereum tools show it."""
        return self._public.to_bytes()

    def unsafe_sign_hash(self, message_hash: Hash32) -> SignedMessage:
        digest = HexBytes(message_hash)
        if len(digest) != _COORDINATE:
            raise ValueError("the message hash must be exactly 32 bytes")
        v, r, s, signature = sign_message_hash(self._key, Hash32(bytes(digest)))
        return SignedMessage(message_hash=digest, r=r, s=s, v=v, signature=HexBytes(signature))

    def sign_message(self, signable_message: SignableMessage) -> SignedMessage:
        return self.unsafe_sign_hash(_hash_eip191_message(signable_message))

    def sign_transaction(
        self, transaction_dict: TransactionDictType, blobs: Blobs | None = None
    ) -> SignedTransaction:
        """What ``LocalAccount.sign_transaction`` does, with the signature from the token:
        eth_account fills and serialises the unsigned transaction (legacy with EIP-155, or
        typed), hashes it, and encodes the signed one."""
        if "from" in transaction_dict:
            if transaction_dict["from"] != self.address:
                raise TypeError(
                    f"from field must match the token key's {self.address}, but it was "
                    f"{transaction_dict['from']!r}"
                )
            transaction_dict = cast(
                TransactionDictType,
                {name: value for name, value in transaction_dict.items() if name != "from"},
            )
        v, r, s, encoded = sign_transaction_dict(self._key, transaction_dict, blobs=blobs)
        return SignedTransaction(
            raw_transaction=HexBytes(encoded),
            hash=HexBytes(keccak(encoded)),
            r=r,
            s=s,
            v=v,
        )

    def __repr__(self) -> str:
        return (
            f"HsmAccount(token={self.token.label!r}, label={self.label!r}, address={self.address})"
        )

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("an account in a PKCS#11 token cannot be pickled")


# ---------------------------------------------------------------- the backend the settings name


def token_config(settings: Settings) -> TokenConfig:
    """The token the settings name (``AEO_HSM_*``)."""
    if settings.hsm_token_label is None or settings.hsm_pin is None:
        # The settings refuse this combination already; a hand-built one may not.
        raise HsmError(
            "AEO_KEY_BACKEND=pkcs11 needs AEO_HSM_TOKEN_LABEL and a PIN "
            "(AEO_HSM_PIN or AEO_HSM_PIN_FILE)"
        )
    return TokenConfig(settings.hsm_module, settings.hsm_token_label, settings.hsm_pin)


def document_signing_keys(settings: Settings) -> Mapping[bytes, DocumentSigner]:
    """Every document-signing key this registry can sign with, by key id: the token's key
    (``pkcs11``), or the key files and the ones a rotation left beside them (``file``).
    Raises a 503 problem (UnavailableError) when the keys cannot be used."""
    if settings.key_backend is KeyBackend.FILE:
        # Imported here: the documents service is the file backend's reader (and may one
        # day call this function itself).
        from .services.documents import local_signing_keys

        return local_signing_keys(settings)
    try:
        key = open_token(token_config(settings)).signing_key(settings.hsm_signing_key_label)
    except HsmError as exc:
        raise UnavailableError(f"this registry cannot use its signing keys: {exc.detail}") from exc
    return {key.kid: key}


def transaction_signer(settings: Settings) -> BaseAccount | None:
    """The account the outbox signs with: the token's operator key (``pkcs11``; HsmError
    when it cannot be used), or the operator key file (``file``; None when there is none,
    and the service accepts writes without sending them)."""
    if settings.key_backend is KeyBackend.PKCS11:
        return open_token(token_config(settings)).operator_account(settings.hsm_operator_key_label)
    if not settings.operator_key_path.exists():
        return None
    return load_operator_key(settings.operator_key_path, settings.key_passphrase()).account()
