"""Authorities: construction, bootstrap, own accounts, signing keys and the membership views."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_account.signers.local import LocalAccount

from contracts.chain import Chain
from contracts.domain import ids

from .conftest import (
    NAMES,
    ROLE_ADMIN,
    ROLE_OPERATOR,
    ZERO_ADDRESS,
    AuthorityStatus,
    Consortium,
    Member,
    assert_reverts,
    deploy_and_bootstrap,
    load_artifact,
)

# Slow, so not in `make test-fast` (`make test` runs it): every bootstrap, account and signing-key
# rule on the contract; test_access_matrix keeps who-may-call-what in the fast run.
pytestmark = pytest.mark.slow

ES256 = 1
EDDSA = 2


def es256_key() -> bytes:
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    return public.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)


def eddsa_key() -> bytes:
    public = ed25519.Ed25519PrivateKey.generate().public_key()
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def authority(chain: Consortium, code: str) -> dict[str, object]:
    fields = ("code", "name", "status", "admittedAt", "statusChangedAt", "accounts", "signingKeys")
    raw = chain.registry.functions.getAuthority(ids.authority_code(code)).call()
    return dict(zip(fields, raw, strict=True))


def account_of(chain: Consortium, address: str) -> tuple[bytes, int, bool]:
    authority_code, roles, active = chain.registry.functions.accountOf(address).call()
    return authority_code, roles, active


# ---------------------------------------------------------------- construction


@pytest.mark.parametrize(
    ("bps", "lifetime", "error", "args"),
    [
        (0, 86_400, "AuthorityInvalidVoteThreshold", [0]),
        # Half is not a majority: two of four would decide about the other two.
        (5000, 86_400, "AuthorityInvalidVoteThreshold", [5000]),
        (10_001, 86_400, "AuthorityInvalidVoteThreshold", [10_001]),
        (5001, 0, "AuthorityInvalidProposalLifetime", [0]),
    ],
)
def test_constructor_refuses_an_unusable_vote_configuration(
    chain: Consortium, bps: int, lifetime: int, error: str, args: list[int]
) -> None:
    artifact = load_artifact("AeoRegistry")
    factory = chain.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    data = factory.constructor(bps, lifetime).data_in_transaction
    assert_reverts(
        lambda: chain.w3.eth.call({"from": chain.deployer.address, "data": data}), error, args
    )


def test_mra_registry_constructor_refuses_an_address_without_code(chain: Consortium) -> None:
    artifact = load_artifact("MraRegistry")
    factory = chain.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    stranger = chain.new_account(funded=False).address
    data = factory.constructor(stranger).data_in_transaction
    assert_reverts(
        lambda: chain.w3.eth.call({"from": chain.deployer.address, "data": data}),
        "MraInvalidRegistry",
        [stranger],
    )


def test_deployment_records_its_configuration(chain: Consortium) -> None:
    functions = chain.registry.functions
    assert functions.voteThresholdBps().call() == 5001
    assert functions.proposalLifetime().call() == 7 * 86_400
    assert chain.mras.functions.registry().call() == chain.registry.address


# ---------------------------------------------------------------- bootstrap


def test_bootstrap_admits_each_founding_member_with_its_admin(chain: Consortium) -> None:
    assert chain.registry.functions.memberCodes().call() == [
        ids.authority_code(code) for code in ("MN", "KZ", "KR")
    ]
    assert chain.registry.functions.activeMemberCount().call() == 3
    for code, member in chain.members.items():
        record = authority(chain, code)
        assert record["code"] == member.raw
        assert record["name"] == NAMES[code]
        assert record["status"] == AuthorityStatus.ACTIVE
        assert record["admittedAt"] == record["statusChangedAt"] != 0
        assert record["accounts"] == [member.admin.address, member.operator.address]
        assert account_of(chain, member.admin.address) == (member.raw, ROLE_ADMIN, True)
        assert account_of(chain, member.operator.address) == (member.raw, ROLE_OPERATOR, True)
        status = chain.registry.functions.authorityStatus(member.raw).call()
        assert status == AuthorityStatus.ACTIVE


def test_bootstrap_member_emits_admission_and_the_admin_account(
    backend: Chain, chain: Consortium
) -> None:
    fresh = deploy_and_bootstrap(backend, codes=(), close_bootstrap=False)
    admin = fresh.new_account(funded=False)
    receipt = fresh.transact(
        fresh.deployer,
        fresh.registry.functions.bootstrapMember(
            ids.authority_code("EAEU"), "Union", admin.address
        ),
    )
    raw = ids.authority_code("EAEU")
    assert dict(fresh.event(receipt, fresh.registry, "AuthorityAdmitted")["args"]) == {
        "code": raw,
        "name": "Union",
        "admin": admin.address,
    }
    assert dict(fresh.event(receipt, fresh.registry, "AccountAdded")["args"]) == {
        "authority": raw,
        "account": admin.address,
        "roles": ROLE_ADMIN,
        "by": fresh.deployer.address,
    }


def test_bootstrap_by_anyone_but_the_deployer_is_refused(backend: Chain, chain: Consortium) -> None:
    fresh = deploy_and_bootstrap(backend, codes=(), close_bootstrap=False)
    stranger = fresh.new_account()
    fresh.reverts(
        stranger,
        fresh.registry.functions.bootstrapMember(
            ids.authority_code("UZ"), "Uzbekistan", stranger.address
        ),
        "AuthorityNotBootstrapper",
        [stranger.address],
    )
    fresh.reverts(
        stranger,
        fresh.registry.functions.closeBootstrap(),
        "AuthorityNotBootstrapper",
        [stranger.address],
    )


@pytest.mark.parametrize("codes", [(), ("MN",)])
def test_closing_the_bootstrap_with_fewer_than_two_members_is_refused(
    backend: Chain, chain: Consortium, codes: tuple[str, ...]
) -> None:
    """A lone member could never reach the two approvals a membership change needs: closing
    would freeze the membership for good."""
    fresh = deploy_and_bootstrap(backend, codes=codes, close_bootstrap=False)
    fresh.reverts(
        fresh.deployer,
        fresh.registry.functions.closeBootstrap(),
        "AuthorityTooFewMembers",
        [len(codes), 2],
    )


def test_after_closing_the_bootstrap_the_deployer_has_no_power(chain: Consortium) -> None:
    assert chain.registry.functions.bootstrapper().call() == ZERO_ADDRESS
    newcomer = chain.new_account()
    functions = chain.registry.functions
    chain.reverts(
        chain.deployer,
        functions.bootstrapMember(ids.authority_code("UZ"), "Uzbekistan", newcomer.address),
        "AuthorityBootstrapClosed",
    )
    chain.reverts(chain.deployer, functions.closeBootstrap(), "AuthorityBootstrapClosed")


def test_closing_the_bootstrap_emits_the_member_count(backend: Chain, chain: Consortium) -> None:
    fresh = deploy_and_bootstrap(backend, codes=("MN", "KZ"), close_bootstrap=False)
    assert fresh.registry.functions.bootstrapper().call() == fresh.deployer.address
    receipt = fresh.transact(fresh.deployer, fresh.registry.functions.closeBootstrap())
    assert fresh.event(receipt, fresh.registry, "BootstrapClosed")["args"]["memberCount"] == 2


@pytest.mark.parametrize(
    "code",
    [
        b"M\x00\x00\x00",
        b"mn\x00\x00",
        b"M1\x00\x00",
        b"MN\x00K",
        b"\x00MN\x00",
        b"MN \x00",
        b"\x00" * 4,
    ],
)
def test_bootstrap_of_a_malformed_code_is_refused(
    backend: Chain, chain: Consortium, code: bytes
) -> None:
    fresh = deploy_and_bootstrap(backend, codes=(), close_bootstrap=False)
    admin = fresh.new_account(funded=False)
    fresh.reverts(
        fresh.deployer,
        fresh.registry.functions.bootstrapMember(code, "Name", admin.address),
        "AuthorityInvalidCode",
        [code],
    )


@pytest.mark.parametrize("code", ["MN", "KAZ", "EAEU"])
def test_bootstrap_accepts_two_to_four_letter_codes(
    backend: Chain, chain: Consortium, code: str
) -> None:
    fresh = deploy_and_bootstrap(backend, codes=(code,), close_bootstrap=False)
    assert authority(fresh, code)["status"] == AuthorityStatus.ACTIVE


def test_bootstrap_of_an_admitted_code_or_account_or_a_bad_name_is_refused(
    backend: Chain, chain: Consortium
) -> None:
    fresh = deploy_and_bootstrap(backend, codes=("MN",), close_bootstrap=False)
    mn = fresh.members["MN"]
    functions = fresh.registry.functions
    new = fresh.new_account(funded=False).address
    uz = ids.authority_code("UZ")
    fresh.reverts(
        fresh.deployer,
        functions.bootstrapMember(mn.raw, "Again", new),
        "AuthorityAlreadyExists",
        [mn.raw, AuthorityStatus.ACTIVE],
    )
    fresh.reverts(
        fresh.deployer,
        functions.bootstrapMember(uz, "Uzbekistan", mn.operator.address),
        "AuthorityAccountAlreadyRegistered",
        [mn.operator.address, mn.raw],
    )
    fresh.reverts(
        fresh.deployer,
        functions.bootstrapMember(uz, "Uzbekistan", ZERO_ADDRESS),
        "AuthorityInvalidAccount",
        [ZERO_ADDRESS],
    )
    fresh.reverts(
        fresh.deployer, functions.bootstrapMember(uz, "", new), "AuthorityInvalidName", [uz, 0]
    )
    fresh.reverts(
        fresh.deployer,
        functions.bootstrapMember(uz, "x" * 65, new),
        "AuthorityInvalidName",
        [uz, 65],
    )
    fresh.transact(fresh.deployer, functions.bootstrapMember(uz, "x" * 64, new))


# ---------------------------------------------------------------- own accounts


def test_add_account_grants_roles_in_the_admins_own_authority(
    chain: Consortium, mn: Member
) -> None:
    account = chain.new_account(funded=False)
    receipt = chain.transact(mn.admin, chain.registry.functions.addAccount(account.address, 3))
    assert dict(chain.event(receipt, chain.registry, "AccountAdded")["args"]) == {
        "authority": mn.raw,
        "account": account.address,
        "roles": 3,
        "by": mn.admin.address,
    }
    assert account_of(chain, account.address) == (mn.raw, 3, True)
    assert authority(chain, "MN")["accounts"][-1] == account.address


@pytest.mark.parametrize("roles", [0, 4, 7, 255])
def test_add_account_with_unknown_roles_is_refused(
    chain: Consortium, mn: Member, roles: int
) -> None:
    account = chain.new_account(funded=False)
    chain.reverts(
        mn.admin,
        chain.registry.functions.addAccount(account.address, roles),
        "AuthorityInvalidRoles",
        [roles],
    )


def test_add_account_of_an_account_of_any_authority_is_refused(
    chain: Consortium, mn: Member, kz: Member
) -> None:
    functions = chain.registry.functions
    chain.reverts(
        mn.admin,
        functions.addAccount(kz.operator.address, 2),
        "AuthorityAccountAlreadyRegistered",
        [kz.operator.address, kz.raw],
    )
    chain.reverts(
        mn.admin,
        functions.addAccount(mn.operator.address, 3),
        "AuthorityAccountAlreadyRegistered",
        [mn.operator.address, mn.raw],
    )
    chain.reverts(
        mn.admin, functions.addAccount(ZERO_ADDRESS, 2), "AuthorityInvalidAccount", [ZERO_ADDRESS]
    )


def test_an_authority_holds_at_most_sixteen_accounts(chain: Consortium, mn: Member) -> None:
    for _ in range(14):
        chain.transact(
            mn.admin, chain.registry.functions.addAccount(chain.new_account(False).address, 2)
        )
    assert len(authority(chain, "MN")["accounts"]) == 16  # type: ignore[arg-type]
    chain.reverts(
        mn.admin,
        chain.registry.functions.addAccount(chain.new_account(False).address, 2),
        "AuthorityTooManyAccounts",
        [mn.raw, 16],
    )


def test_remove_account_takes_away_every_role(chain: Consortium, mn: Member) -> None:
    receipt = chain.transact(mn.admin, chain.registry.functions.removeAccount(mn.operator.address))
    assert dict(chain.event(receipt, chain.registry, "AccountRemoved")["args"]) == {
        "authority": mn.raw,
        "account": mn.operator.address,
        "by": mn.admin.address,
    }
    assert account_of(chain, mn.operator.address) == (b"\x00" * 4, 0, False)
    assert authority(chain, "MN")["accounts"] == [mn.admin.address]
    chain.reverts(
        mn.operator,
        chain.registry.functions.issue(chain.number(), 1, 0, 1, b"\x01" * 32, b"\x02" * 32),
        "AuthorityUnauthorizedAccount",
        [mn.operator.address, ROLE_OPERATOR],
    )


def test_a_removed_account_may_be_added_again(chain: Consortium, mn: Member, kz: Member) -> None:
    chain.transact(mn.admin, chain.registry.functions.removeAccount(mn.operator.address))
    chain.transact(kz.admin, chain.registry.functions.addAccount(mn.operator.address, 2))
    assert account_of(chain, mn.operator.address) == (kz.raw, 2, True)


def test_remove_account_keeps_the_order_of_the_others_compact(
    chain: Consortium, mn: Member
) -> None:
    extra = [chain.new_account(False).address for _ in range(3)]
    for address in extra:
        chain.transact(mn.admin, chain.registry.functions.addAccount(address, 2))
    chain.transact(mn.admin, chain.registry.functions.removeAccount(extra[0]))
    assert sorted(authority(chain, "MN")["accounts"]) == sorted(  # type: ignore[type-var]
        [mn.admin.address, mn.operator.address, extra[1], extra[2]]
    )


def test_remove_account_of_another_authority_or_a_stranger_is_refused(
    chain: Consortium, mn: Member, kz: Member
) -> None:
    stranger = chain.new_account(funded=False).address
    for address in (kz.operator.address, kz.admin.address, stranger):
        chain.reverts(
            mn.admin,
            chain.registry.functions.removeAccount(address),
            "AuthorityAccountNotFound",
            [
                mn.raw,
                address,
            ],
        )


def test_the_last_admin_cannot_be_removed(chain: Consortium, mn: Member) -> None:
    chain.reverts(
        mn.admin,
        chain.registry.functions.removeAccount(mn.admin.address),
        "AuthorityLastAdmin",
        [mn.raw, mn.admin.address],
    )
    second_admin = chain.new_account()
    chain.transact(mn.admin, chain.registry.functions.addAccount(second_admin.address, 1))
    chain.transact(second_admin, chain.registry.functions.removeAccount(mn.admin.address))
    chain.reverts(
        second_admin,
        chain.registry.functions.removeAccount(second_admin.address),
        "AuthorityLastAdmin",
        [mn.raw, second_admin.address],
    )


def test_an_account_with_both_roles_can_administer_and_issue(chain: Consortium, mn: Member) -> None:
    both = chain.new_account()
    chain.transact(mn.admin, chain.registry.functions.addAccount(both.address, 3))
    chain.transact(both, chain.registry.functions.addAccount(chain.new_account(False).address, 2))
    chain.issue(Member("MN", both, both))


# ---------------------------------------------------------------- signing keys


def signing_key(chain: Consortium, kid: bytes) -> tuple[bytes, int, int, int, bytes]:
    raw = chain.registry.functions.getSigningKey(kid).call()
    return raw[0], raw[1], raw[2], raw[3], raw[4]


@pytest.mark.parametrize(("algorithm", "make_key"), [(ES256, es256_key), (EDDSA, eddsa_key)])
def test_register_signing_key_publishes_it_in_the_trust_list(
    chain: Consortium, mn: Member, algorithm: int, make_key: object
) -> None:
    public_key: bytes = make_key()  # type: ignore[operator]
    kid = ids.key_id(public_key)
    valid_from = chain.now() + 3600
    receipt = chain.transact(
        mn.admin,
        chain.registry.functions.registerSigningKey(kid, algorithm, public_key, valid_from),
    )
    assert dict(chain.event(receipt, chain.registry, "SigningKeyRegistered")["args"]) == {
        "kid": kid,
        "authority": mn.raw,
        "algorithm": algorithm,
        "publicKey": public_key,
        "validFrom": valid_from,
    }
    assert signing_key(chain, kid) == (mn.raw, algorithm, valid_from, 0, public_key)
    assert authority(chain, "MN")["signingKeys"] == [kid]


def test_register_signing_key_valid_from_zero_means_now(chain: Consortium, mn: Member) -> None:
    public_key = eddsa_key()
    receipt = chain.transact(
        mn.admin,
        chain.registry.functions.registerSigningKey(ids.key_id(public_key), EDDSA, public_key, 0),
    )
    block_time = chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert signing_key(chain, ids.key_id(public_key))[2] == block_time


@pytest.mark.parametrize("back", [1, "a day"])
def test_a_valid_from_long_before_the_registration_block_is_raised_to_its_time(
    chain: Consortium, mn: Member, back: int | str
) -> None:
    """validFrom = 1 (1970) once made the key vouch for QR codes dated 2001: a key never
    vouches for what was signed before it was published."""
    public_key = eddsa_key()
    kid = ids.key_id(public_key)
    valid_from = 1 if back == 1 else chain.now() - 86_400
    receipt = chain.transact(
        mn.admin, chain.registry.functions.registerSigningKey(kid, EDDSA, public_key, valid_from)
    )
    block_time = chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    event = chain.event(receipt, chain.registry, "SigningKeyRegistered")["args"]
    assert event["validFrom"] == block_time
    assert signing_key(chain, kid)[2] == block_time


def test_a_valid_from_within_the_hour_before_the_registration_block_is_kept(
    chain: Consortium, mn: Member
) -> None:
    """The registering service stamps its own clock's now, which the block may have passed."""
    public_key = eddsa_key()
    kid = ids.key_id(public_key)
    valid_from = chain.now() - 1800
    chain.transact(
        mn.admin, chain.registry.functions.registerSigningKey(kid, EDDSA, public_key, valid_from)
    )
    assert signing_key(chain, kid)[2] == valid_from


def test_an_unknown_signing_key_reads_as_algorithm_zero(chain: Consortium) -> None:
    assert signing_key(chain, b"\x01" * 8) == (b"\x00" * 4, 0, 0, 0, b"")


@pytest.mark.parametrize("algorithm", [0, 3, 255])
def test_register_signing_key_of_an_unsupported_algorithm_is_refused(
    chain: Consortium, mn: Member, algorithm: int
) -> None:
    public_key = eddsa_key()
    chain.reverts(
        mn.admin,
        chain.registry.functions.registerSigningKey(
            ids.key_id(public_key), algorithm, public_key, 0
        ),
        "SigningKeyUnsupportedAlgorithm",
        [algorithm],
    )


@pytest.mark.parametrize(
    ("algorithm", "public_key"),
    [
        (ES256, b"\x02" * 32),
        (ES256, b"\x04" + b"\x01" * 64),  # uncompressed point
        (ES256, b"\x04" + b"\x01" * 32),  # 33 bytes but not a compressed point
        (ES256, b"\x00" + b"\x01" * 32),
        (EDDSA, b"\x01" * 33),
        (EDDSA, b"\x01" * 31),
        (EDDSA, b""),
    ],
)
def test_register_signing_key_of_the_wrong_form_is_refused(
    chain: Consortium, mn: Member, algorithm: int, public_key: bytes
) -> None:
    chain.reverts(
        mn.admin,
        chain.registry.functions.registerSigningKey(
            ids.key_id(public_key), algorithm, public_key, 0
        ),
        "SigningKeyInvalidPublicKey",
        [algorithm, len(public_key)],
    )


def test_register_signing_key_whose_kid_is_not_its_hash_is_refused(
    chain: Consortium, mn: Member
) -> None:
    public_key = es256_key()
    chain.reverts(
        mn.admin,
        chain.registry.functions.registerSigningKey(b"\xff" * 8, ES256, public_key, 0),
        "SigningKeyIdMismatch",
        [b"\xff" * 8, ids.key_id(public_key)],
    )


def test_a_signing_key_is_registered_once_across_authorities(
    chain: Consortium, mn: Member, kz: Member
) -> None:
    public_key = es256_key()
    kid = ids.key_id(public_key)
    chain.transact(mn.admin, chain.registry.functions.registerSigningKey(kid, ES256, public_key, 0))
    for admin in (mn.admin, kz.admin):
        chain.reverts(
            admin,
            chain.registry.functions.registerSigningKey(kid, ES256, public_key, 0),
            "SigningKeyAlreadyRegistered",
            [kid],
        )


def register(chain: Consortium, admin: LocalAccount, valid_from: int = 0) -> bytes:
    public_key = eddsa_key()
    kid = ids.key_id(public_key)
    chain.transact(
        admin, chain.registry.functions.registerSigningKey(kid, EDDSA, public_key, valid_from)
    )
    return kid


def test_revoke_signing_key_now_records_the_block_time(chain: Consortium, mn: Member) -> None:
    kid = register(chain, mn.admin)
    receipt = chain.transact(mn.admin, chain.registry.functions.revokeSigningKey(kid, 0))
    block_time = chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert dict(chain.event(receipt, chain.registry, "SigningKeyRevoked")["args"]) == {
        "kid": kid,
        "authority": mn.raw,
        "revokedAt": block_time,
    }
    assert signing_key(chain, kid)[3] == block_time


def test_a_compromised_key_may_be_revoked_in_the_past_but_not_before_valid_from(
    chain: Consortium, mn: Member
) -> None:
    kid = register(chain, mn.admin)
    valid_from = signing_key(chain, kid)[2]
    chain.travel_to_day(chain.today() + 10)
    chain.reverts(
        mn.admin,
        chain.registry.functions.revokeSigningKey(kid, valid_from - 1),
        "SigningKeyRevokedBeforeValidFrom",
        [kid, valid_from - 1, valid_from],
    )
    chain.transact(mn.admin, chain.registry.functions.revokeSigningKey(kid, valid_from + 86_400))
    assert signing_key(chain, kid)[3] == valid_from + 86_400


def test_revoke_signing_key_in_the_future_is_refused(chain: Consortium, mn: Member) -> None:
    kid = register(chain, mn.admin)
    chain.travel_to_day(chain.today() + 1)
    now = chain.now()
    chain.reverts(
        mn.admin,
        chain.registry.functions.revokeSigningKey(kid, now + 3600),
        "SigningKeyRevokedInFuture",
        [kid, now + 3600, now],
    )


def test_a_key_not_valid_yet_is_withdrawn_as_of_its_valid_from(
    chain: Consortium, mn: Member
) -> None:
    valid_from = chain.now() + 30 * 86_400
    kid = register(chain, mn.admin, valid_from)
    chain.transact(mn.admin, chain.registry.functions.revokeSigningKey(kid, 0))
    assert signing_key(chain, kid)[2:4] == (valid_from, valid_from)


def test_revoke_signing_key_twice_unknown_or_of_another_authority_is_refused(
    chain: Consortium, mn: Member, kz: Member
) -> None:
    kid = register(chain, mn.admin)
    functions = chain.registry.functions
    chain.reverts(
        kz.admin, functions.revokeSigningKey(kid, 0), "SigningKeyNotOwned", [kid, mn.raw, kz.raw]
    )
    chain.reverts(
        mn.admin, functions.revokeSigningKey(b"\x07" * 8, 0), "SigningKeyUnknown", [b"\x07" * 8]
    )
    chain.transact(mn.admin, functions.revokeSigningKey(kid, 0))
    revoked_at = signing_key(chain, kid)[3]
    chain.reverts(
        mn.admin, functions.revokeSigningKey(kid, 0), "SigningKeyAlreadyRevoked", [kid, revoked_at]
    )


def test_unknown_authority_reads_as_status_none(chain: Consortium) -> None:
    assert authority(chain, "UZ") == {
        "code": ids.authority_code("UZ"),
        "name": "",
        "status": AuthorityStatus.NONE,
        "admittedAt": 0,
        "statusChangedAt": 0,
        "accounts": [],
        "signingKeys": [],
    }
    assert chain.registry.functions.accountOf(ZERO_ADDRESS).call() == (b"\x00" * 4, 0, False)
