"""Password hashing (argon2id) with a bound on the memory it takes at once.

argon2-cffi's :class:`~argon2.PasswordHasher` defaults are RFC 9106's second recommended
option ("low memory": t=3, m=64 MiB, p=4): each hash or verification holds 64 MiB for its
duration (about half a second on two cores). Without a bound, a burst of sign-in attempts
would multiply that memory; :class:`Passwords` lets :data:`MAX_CONCURRENT_HASHES` run at once
and queues the others (they run in the thread pool, whose size bounds the queue).

An unknown account name is checked against a hash of a random password, so that the
answer takes as long as for a known name: timing does not tell which names exist.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

#: argon2 hashes computed at once: 2 x 64 MiB at the defaults
MAX_CONCURRENT_HASHES = 2
#: the shortest password a person may choose (NIST SP 800-63B asks for at least 8; a
#: customs officer's console warrants more). No composition rules, as that guide says.
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
#: the one-time passwords ``aeo users add/reset`` print: 128 random bits
GENERATED_PASSWORD_BYTES = 16


class PasswordPolicyError(ValueError):
    """A chosen password breaks the policy; the message says which rule."""


def check_password_policy(password: str, *, name: str | None = None) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"must have at most {MAX_PASSWORD_LENGTH} characters")
    if name is not None and password.strip().casefold() == name.strip().casefold():
        raise PasswordPolicyError("must not be the account name")


def generate_password() -> str:
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


@dataclass
class Passwords:
    """Hashes and verifies passwords; ``hasher`` defaults to argon2-cffi's recommended
    parameters (tests of other things may pass cheaper ones)."""

    hasher: PasswordHasher = field(default_factory=PasswordHasher)
    max_concurrent: int = MAX_CONCURRENT_HASHES
    _slots: threading.BoundedSemaphore = field(init=False, repr=False)
    _dummy_hash: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._slots = threading.BoundedSemaphore(self.max_concurrent)

    def hash(self, password: str) -> str:
        with self._slots:
            return self.hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored`` (None: no account; checked against a
        dummy hash all the same, and False)."""
        target = stored if stored is not None else self._dummy()
        with self._slots:
            matches: bool
            try:
                matches = self.hasher.verify(target, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                matches = False
        return matches and stored is not None

    def needs_rehash(self, stored: str) -> bool:
        """Whether ``stored`` was made with other parameters than today's (rehash it at the
        next successful sign-in)."""
        try:
            return self.hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self.hash(secrets.token_urlsafe(16))
        return self._dummy_hash
