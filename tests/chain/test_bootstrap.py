"""Founding a consortium: fresh accounts, roles, and a deployer left without power."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount

from contracts.bootstrap import Consortium, bootstrap_consortium
from contracts.chain import Chain
from contracts.deploy import Deployment
from contracts.domain.enums import AccountRole, AuthorityStatus
from contracts.errors import ConflictRevertError
from contracts.reader import RegistryReader
from contracts.writer import RegistryWriter

# Slow, so not in `make test-fast` (`make test` runs it): bootstraps fresh consortiums (the
# consortium fixture does it in the fast run).
pytestmark = pytest.mark.slow


@pytest.mark.both_chains
def test_each_member_is_active_with_its_own_admin_and_operator(consortium: Consortium) -> None:
    reader = RegistryReader(consortium.chain, consortium.deployment)
    addresses = set()
    for code in ("MN", "KZ", "KR"):
        member = consortium.member(code)
        assert reader.get_authority(code).status is AuthorityStatus.ACTIVE
        assert reader.account_of(member.admin.address).roles == AccountRole.ADMIN
        assert reader.account_of(member.operator.address).roles == AccountRole.OPERATOR
        assert consortium.chain.w3.eth.get_balance(member.operator.address) > 0
        addresses |= {member.admin.address, member.operator.address}
    assert len(addresses) == 6


@pytest.mark.both_chains
def test_after_bootstrap_the_deployer_can_no_longer_admit_members(
    consortium: Consortium, deployer: LocalAccount
) -> None:
    assert RegistryReader(consortium.chain, consortium.deployment).bootstrapper() is None
    former = RegistryWriter(consortium.chain, consortium.deployment, deployer)
    with pytest.raises(ConflictRevertError) as caught:
        former.bootstrap_member("UZ", "Uzbekistan", deployer.address)
    assert caught.value.name == "AuthorityBootstrapClosed"


def test_bootstrap_can_leave_the_bootstrap_open(
    memory_chain: Chain, deployment: Deployment, deployer: LocalAccount
) -> None:
    consortium = bootstrap_consortium(
        memory_chain, deployment, deployer, [("MN", "Mongolia")], close=False
    )
    reader = RegistryReader(memory_chain, deployment)
    assert reader.bootstrapper() == deployer.address
    assert list(consortium.members) == ["MN"]
    with pytest.raises(ConflictRevertError, match="AuthorityAlreadyExists"):
        bootstrap_consortium(
            memory_chain, deployment, deployer, [("MN", "Mongolia"), ("KZ", "Kazakhstan")]
        )


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([], "at least one"),
        ([("MN", "Mongolia")], "at least two"),
        ([("MN", "A"), ("MN", "B")], "twice"),
        ([("mn", "A")], "authority code"),
        ([("MN", "")], "needs a name"),
    ],
)
def test_bad_member_lists_are_refused_before_any_transaction(
    memory_chain: Chain,
    deployment: Deployment,
    deployer: LocalAccount,
    members: list[tuple[str, str]],
    message: str,
) -> None:
    head = memory_chain.block_number()
    with pytest.raises(ValueError, match=message):
        bootstrap_consortium(memory_chain, deployment, deployer, members)
    assert memory_chain.block_number() == head
