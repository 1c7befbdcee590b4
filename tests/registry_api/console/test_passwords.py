"""Password hashing: argon2id at RFC 9106's recommended parameters, verification, the
dummy check for unknown names, rehashing, and the bound on hashes at once."""

from __future__ import annotations

import threading
import time

import pytest
from argon2 import PasswordHasher, Type

from registry_api.console.passwords import (
    MIN_PASSWORD_LENGTH,
    PasswordPolicyError,
    Passwords,
    check_password_policy,
    generate_password,
)

from .support import cheap_passwords


def test_the_default_hash_is_argon2id_with_rfc_9106_low_memory_parameters() -> None:
    stored = Passwords().hash("correct horse battery staple")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    hasher = Passwords().hasher
    assert (hasher.type, hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (
        Type.ID, 3, 65536, 4,
    )  # fmt: skip


def test_a_hash_verifies_its_password_and_no_other() -> None:
    passwords = cheap_passwords()
    stored = passwords.hash("correct horse battery staple")
    assert passwords.verify(stored, "correct horse battery staple")
    assert not passwords.verify(stored, "correct horse battery stapl")
    assert not passwords.verify("not a hash", "correct horse battery staple")


def test_no_account_never_verifies_even_the_dummy_password() -> None:
    passwords = cheap_passwords()
    assert not passwords.verify(None, "")
    assert passwords._dummy_hash is not None
    assert not passwords.verify(None, "anything at all")


def test_a_hash_made_with_other_parameters_needs_a_rehash() -> None:
    old = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)).hash("pw")
    assert Passwords().needs_rehash(old)
    assert not cheap_passwords().needs_rehash(cheap_passwords().hash("pw"))


def test_no_more_hashes_run_at_once_than_the_bound() -> None:
    running = 0
    most = 0
    lock = threading.Lock()

    class Counting(PasswordHasher):
        def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
            nonlocal running, most
            with lock:
                running += 1
                most = max(most, running)
            time.sleep(0.02)  # hold the slot long enough for the others to queue
            with lock:
                running -= 1
            return "x"

    passwords = Passwords(Counting(), max_concurrent=2)
    threads = [threading.Thread(target=passwords.hash, args=("pw",)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 2


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short", f"at least {MIN_PASSWORD_LENGTH}"),
        ("x" * 257, "at most 256"),
        ("Bolor.Erdene1", "not be the account name"),
    ],
)
def test_the_policy_names_the_rule_a_password_breaks(password: str, rule: str) -> None:
    with pytest.raises(PasswordPolicyError, match=rule):
        check_password_policy(password, name="bolor.erdene1")


def test_generated_passwords_pass_the_policy_and_differ() -> None:
    first, second = generate_password(), generate_password()
    check_password_policy(first)
    assert first != second
