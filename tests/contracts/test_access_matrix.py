"""Who may call each write function: every kind of account x every write.

The kinds: the deployer (after the bootstrap), an admin and an operator of the authority that
owns the target ("own", MN), an admin and an operator of another active authority ("other", KZ),
an admin and an operator of a suspended authority ("suspended", KR), and a stranger. Each cell is
checked with a call from that account against the same prepared state: either it would succeed,
or it reverts with exactly the error the table names.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_account.signers.local import LocalAccount
from web3.contract.contract import ContractFunction

from contracts.domain import ids

from .conftest import (
    ROLE_ADMIN,
    ROLE_OPERATOR,
    ZERO_ADDRESS,
    Action,
    AuthorityStatus,
    Consortium,
    Deployed,
    assert_reverts,
    revert_to_snapshot,
    take_snapshot,
)

ACTORS = (
    "deployer",
    "own_admin",
    "own_operator",
    "other_admin",
    "other_operator",
    "suspended_admin",
    "suspended_operator",
    "stranger",
)
OK = None
UZ = ids.authority_code("UZ")


def ed25519_key() -> bytes:
    public = ed25519.Ed25519PrivateKey.generate().public_key()
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass
class World:
    """The prepared state every cell is called against."""

    chain: Consortium
    actors: dict[str, LocalAccount]
    certificate: bytes  # MN's, Active
    suspended_certificate: bytes  # MN's, Suspended
    kid: bytes  # MN's signing key
    proposal: int  # MN's open proposal to admit UZ
    mra_to_sign: int  # [MN, KR], proposed by KR
    mra_in_force: int  # [MN, KR], signed by both
    mra_suspended: int  # [MN, KR], suspended by MN

    def address(self, actor: str) -> str:
        return self.actors[actor].address


def prepare(chain: Consortium) -> World:
    mn, kz, kr = chain.members["MN"], chain.members["KZ"], chain.members["KR"]
    certificate = chain.issue(mn)
    suspended_certificate = chain.issue(mn)
    chain.transact(mn.operator, chain.registry.functions.suspend(suspended_certificate, 1))
    public_key = ed25519_key()
    kid = ids.key_id(public_key)
    chain.transact(mn.admin, chain.registry.functions.registerSigningKey(kid, 2, public_key, 0))
    mra_to_sign = chain.propose_mra("KR", ["MN", "KR"])
    mra_in_force = chain.mra_in_force(["MN", "KR"])
    mra_suspended = chain.mra_in_force(["MN", "KR"])
    chain.transact(mn.operator, chain.mras.functions.suspend(mra_suspended))
    chain.vote_through(Action.SUSPEND, "KR", ["MN", "KZ"])
    receipt = chain.transact(
        mn.admin,
        chain.registry.functions.proposeMembership(
            Action.ADMIT, UZ, "Uzbekistan", chain.new_account(False).address
        ),
    )
    proposal = chain.event(receipt, chain.registry, "MembershipProposed")["args"]["proposalId"]
    actors = {
        "deployer": chain.deployer,
        "own_admin": mn.admin,
        "own_operator": mn.operator,
        "other_admin": kz.admin,
        "other_operator": kz.operator,
        "suspended_admin": kr.admin,
        "suspended_operator": kr.operator,
        "stranger": chain.new_account(),
    }
    return World(
        chain,
        actors,
        certificate,
        suspended_certificate,
        kid,
        proposal,
        mra_to_sign,
        mra_in_force,
        mra_suspended,
    )


@dataclass
class Prepared:
    world: World
    snapshot: Any


@pytest.fixture(scope="module")
def prepared(deployed: Deployed) -> Iterator[Prepared]:
    """The world, built once for the module on top of the fresh deployment."""
    backend = deployed.consortium.backend
    deployed.consortium.travel_to_day(deployed.consortium.today() + 1)
    state = Prepared(prepare(deployed.consortium), None)
    state.snapshot = take_snapshot(backend)
    yield state
    revert_to_snapshot(backend, deployed.snapshot)
    deployed.snapshot = take_snapshot(backend)


@pytest.fixture
def world(prepared: Prepared) -> Iterator[World]:
    """The prepared world, as it was before each test (these tests do not use `chain`)."""
    yield prepared.world
    backend = prepared.world.chain.backend
    revert_to_snapshot(backend, prepared.snapshot)
    prepared.snapshot = take_snapshot(backend)


Expectation = tuple[str, list[Any]] | None
Row = tuple[Callable[[World], ContractFunction], dict[str, Expectation]]

MN = ids.authority_code("MN")
KZ = ids.authority_code("KZ")
KR = ids.authority_code("KR")


def _unauthorized(w: World, actor: str, role: int) -> Expectation:
    return ("AuthorityUnauthorizedAccount", [w.address(actor), role])


def _suspended() -> Expectation:
    return ("AuthorityNotActive", [KR, AuthorityStatus.SUSPENDED])


def _admin_row(
    w: World, own: Expectation, other: Expectation, suspended: Expectation
) -> dict[str, Expectation]:
    """An ADMIN-only function: operators, the deployer and strangers lack the role."""
    return {
        "deployer": _unauthorized(w, "deployer", ROLE_ADMIN),
        "own_admin": own,
        "own_operator": _unauthorized(w, "own_operator", ROLE_ADMIN),
        "other_admin": other,
        "other_operator": _unauthorized(w, "other_operator", ROLE_ADMIN),
        "suspended_admin": suspended,
        "suspended_operator": _unauthorized(w, "suspended_operator", ROLE_ADMIN),
        "stranger": _unauthorized(w, "stranger", ROLE_ADMIN),
    }


def _operator_row(w: World, own: Expectation, other: Expectation) -> dict[str, Expectation]:
    """An OPERATOR-only function: admins, the deployer and strangers lack the role."""
    return {
        "deployer": _unauthorized(w, "deployer", ROLE_OPERATOR),
        "own_admin": _unauthorized(w, "own_admin", ROLE_OPERATOR),
        "own_operator": own,
        "other_admin": _unauthorized(w, "other_admin", ROLE_OPERATOR),
        "other_operator": other,
        "suspended_admin": _unauthorized(w, "suspended_admin", ROLE_OPERATOR),
        "suspended_operator": _suspended(),
        "stranger": _unauthorized(w, "stranger", ROLE_OPERATOR),
    }


def _issuance(w: World) -> tuple[bytes, int, int, int, bytes, bytes]:
    return (w.chain.number(), 3, 0, 1, os.urandom(32), os.urandom(32))


def _not_issuer(certificate: bytes) -> Expectation:
    return ("CertificateNotIssuer", [certificate, MN, KZ])


def matrix(w: World) -> dict[str, Row]:
    registry = w.chain.registry.functions
    mras = w.chain.mras.functions
    closed: dict[str, Expectation] = dict.fromkeys(ACTORS, ("AuthorityBootstrapClosed", []))
    return {
        "bootstrapMember": (
            lambda w: registry.bootstrapMember(
                UZ, "Uzbekistan", w.chain.new_account(False).address
            ),
            closed,
        ),
        "closeBootstrap": (lambda w: registry.closeBootstrap(), closed),
        "proposeMembership": (
            lambda w: registry.proposeMembership(
                Action.ADMIT, UZ, "Uzbekistan", ZERO_ADDRESS[:-1] + "1"
            ),
            _admin_row(w, OK, OK, _suspended()),
        ),
        "voteOnMembership": (
            lambda w: registry.voteOnMembership(w.proposal),
            _admin_row(w, ("MembershipAlreadyVoted", [w.proposal, MN]), OK, _suspended()),
        ),
        "addAccount": (
            lambda w: registry.addAccount(w.chain.new_account(False).address, ROLE_OPERATOR),
            _admin_row(w, OK, OK, _suspended()),
        ),
        "removeAccount": (
            lambda w: registry.removeAccount(w.address("own_operator")),
            _admin_row(
                w,
                OK,
                ("AuthorityAccountNotFound", [KZ, w.address("own_operator")]),
                _suspended(),
            ),
        ),
        "registerSigningKey": (
            lambda w: (
                (key := ed25519_key()) and registry.registerSigningKey(ids.key_id(key), 2, key, 0)
            ),
            _admin_row(w, OK, OK, _suspended()),
        ),
        # Revoking only withdraws trust, so a suspended member's admin is not refused for its
        # status (only because the key is MN's).
        "revokeSigningKey": (
            lambda w: registry.revokeSigningKey(w.kid, 0),
            _admin_row(
                w,
                OK,
                ("SigningKeyNotOwned", [w.kid, MN, KZ]),
                ("SigningKeyNotOwned", [w.kid, MN, KR]),
            ),
        ),
        "issue": (lambda w: registry.issue(*_issuance(w)), _operator_row(w, OK, OK)),
        "issueBatch": (
            lambda w: registry.issueBatch([_issuance(w), _issuance(w)]),
            _operator_row(w, OK, OK),
        ),
        "amend": (
            lambda w: registry.amend(w.certificate, 1, os.urandom(32), os.urandom(32), 32),
            _operator_row(w, OK, _not_issuer(w.certificate)),
        ),
        "renew": (
            lambda w: registry.renew(w.certificate, 65_000, 48),
            _operator_row(w, OK, _not_issuer(w.certificate)),
        ),
        "suspend": (
            lambda w: registry.suspend(w.certificate, 1),
            _operator_row(w, OK, _not_issuer(w.certificate)),
        ),
        "reinstate": (
            lambda w: registry.reinstate(w.suspended_certificate, 16),
            _operator_row(w, OK, _not_issuer(w.suspended_certificate)),
        ),
        "revoke": (
            lambda w: registry.revoke(w.certificate, 5),
            _operator_row(w, OK, _not_issuer(w.certificate)),
        ),
        "mra.propose": (
            lambda w: mras.propose([MN, KZ], [2, 2], 0, 0, b"\x01" * 32),
            _operator_row(w, OK, OK),
        ),
        "mra.sign": (
            lambda w: mras.sign(w.mra_to_sign),
            _operator_row(w, OK, ("MraNotParty", [w.mra_to_sign, KZ])),
        ),
        "mra.suspend": (
            lambda w: mras.suspend(w.mra_in_force),
            _operator_row(w, OK, ("MraNotParty", [w.mra_in_force, KZ])),
        ),
        "mra.resume": (
            lambda w: mras.resume(w.mra_suspended),
            _operator_row(w, OK, ("MraNotParty", [w.mra_suspended, KZ])),
        ),
        "mra.terminate": (
            lambda w: mras.terminate(w.mra_in_force),
            _operator_row(w, OK, ("MraNotParty", [w.mra_in_force, KZ])),
        ),
    }


WRITES = (
    "bootstrapMember",
    "closeBootstrap",
    "proposeMembership",
    "voteOnMembership",
    "addAccount",
    "removeAccount",
    "registerSigningKey",
    "revokeSigningKey",
    "issue",
    "issueBatch",
    "amend",
    "renew",
    "suspend",
    "reinstate",
    "revoke",
    "mra.propose",
    "mra.sign",
    "mra.suspend",
    "mra.resume",
    "mra.terminate",
)


def test_the_matrix_covers_every_write_function_of_both_contracts(world: World) -> None:
    chain = world.chain
    writes = {
        item["name"]
        for item in chain.registry.abi
        if item["type"] == "function" and item["stateMutability"] == "nonpayable"
    } | {
        f"mra.{item['name']}"
        for item in chain.mras.abi
        if item["type"] == "function" and item["stateMutability"] == "nonpayable"
    }
    assert writes == set(WRITES)


@pytest.mark.parametrize("write", WRITES)
def test_each_kind_of_account_gets_exactly_its_access(world: World, write: str) -> None:
    build, row = matrix(world)[write]
    assert set(row) == set(ACTORS)
    for actor, expectation in row.items():
        account = world.actors[actor]
        fn = build(world)
        if expectation is None:
            fn.call({"from": account.address})  # allowed: does not revert
        else:
            error, args = expectation
            assert_reverts(lambda fn=fn, a=account: fn.call({"from": a.address}), error, args)


def test_a_suspended_members_admin_may_still_revoke_its_own_signing_key(
    world: World,
) -> None:
    chain = world.chain
    kr = chain.members["KR"]
    # Register a KR key while KR is active: reinstate, register, suspend again.
    chain.vote_through(Action.REINSTATE, "KR", ["MN", "KZ"])
    key = ed25519_key()
    chain.transact(
        kr.admin, chain.registry.functions.registerSigningKey(ids.key_id(key), 2, key, 0)
    )
    chain.vote_through(Action.SUSPEND, "KR", ["MN", "KZ"])
    chain.transact(kr.admin, chain.registry.functions.revokeSigningKey(ids.key_id(key), 0))
    assert chain.registry.functions.getSigningKey(ids.key_id(key)).call()[3] != 0
