"""The console's keys, derived from the service's passphrase: one scrypt derivation per
process, then HKDF for each use, so that no key serves two purposes.

- TOTP secrets are stored sealed (AES-256-GCM), each bound to its person's id (associated
  data): a sealed value copied to another row does not open there. This is how the webhook
  secrets are kept (``services.webhooks.WebhookSecrets``), under a key of its own.
- The short-lived sign-in state cookie (the form's CSRF token before a session exists; the
  OpenID Connect state, nonce and PKCE verifier) is signed with another. Every process of
  the service derives the same key, so a provider's callback may land on any of them.

A service without a passphrase (development only: production refuses to start without one)
cannot seal: TOTP is refused with a message that says so, and the sign-in state is signed
with a random key of this process.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ..errors import ConfigurationError
from ..settings import Settings

KDF_LABEL = b"aeo-registry/console/v1/"
#: as for the webhook secrets: the passphrase is long and random (43 characters in the
#: demo), so scrypt's cost guards against little; 2^15 keeps start-up quick
SCRYPT_N = 2**15
SEALED_PREFIX = "v1:"
_NONCE_BYTES = 12


class SealingError(ConfigurationError):
    """A sealed value does not open (another passphrase, an altered row), or this service
    has no passphrase to seal with."""


@lru_cache(maxsize=8)
def _master_key(passphrase: str, authority: str) -> bytes:
    kdf = Scrypt(salt=KDF_LABEL + authority.encode("ascii"), length=32, n=SCRYPT_N, r=8, p=1)
    return kdf.derive(passphrase.encode("utf-8"))


def _subkey(master: bytes, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode("ascii")
    ).derive(master)


class Sealer:
    """Seals and opens TOTP secrets (AES-256-GCM, bound to the person's id)."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "Sealer()"

    @staticmethod
    def _context(person_id: int) -> bytes:
        return f"aeo-registry console totp {person_id}".encode("ascii")

    def seal(self, person_id: int, secret: str) -> str:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.encode("utf-8"), self._context(person_id))
        return SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, person_id: int, stored: str) -> str:
        try:
            if not stored.startswith(SEALED_PREFIX):
                raise ValueError("not sealed")
            raw = base64.urlsafe_b64decode(stored.removeprefix(SEALED_PREFIX))
            opened = self._aead.decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], self._context(person_id)
            )
        except (InvalidTag, ValueError):
            raise SealingError(
                f"the TOTP secret of person {person_id} does not open with this service's "
                "passphrase: it was sealed under another one, or the row was altered "
                "(aeo users reset NAME --totp gives a new one)"
            ) from None
        return opened.decode("utf-8")


@dataclass(frozen=True)
class ConsoleKeys:
    #: None without a passphrase
    sealer: Sealer | None
    #: signs the sign-in state cookie
    login_state_key: str

    @classmethod
    def of(cls, settings: Settings) -> ConsoleKeys:
        passphrase = settings.passphrase.get_secret_value() if settings.passphrase else ""
        if not passphrase:
            return cls(sealer=None, login_state_key=secrets.token_urlsafe(32))
        master = _master_key(passphrase, settings.authority)
        login_key = base64.urlsafe_b64encode(_subkey(master, "login-state")).decode("ascii")
        return cls(sealer=Sealer(_subkey(master, "totp-secrets")), login_state_key=login_key)

    def require_sealer(self) -> Sealer:
        if self.sealer is None:
            raise SealingError(
                "a TOTP second factor needs the service's passphrase to seal its secret "
                "(AEO_PASSPHRASE or AEO_PASSPHRASE_FILE)"
            )
        return self.sealer
