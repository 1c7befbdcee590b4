"""Found a consortium on a freshly deployed registry.

For each founding member: a fresh ADMIN and a fresh OPERATOR account (keys generated here,
never hard-coded; the caller stores them, encrypted, if they must outlive the process),
funded on development chains, the member admitted by the deployer, its operator added by its
admin; then the bootstrap is closed so the deployer keeps no power. Used by the tests,
``aeo consortium bootstrap`` and the demo.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from eth_account import Account
from eth_account.signers.local import LocalAccount

from contracts.chain import Chain, fund
from contracts.deploy import Deployment
from contracts.domain import ids
from contracts.domain.enums import AccountRole
from contracts.writer import RegistryWriter

DEFAULT_MEMBERS: tuple[tuple[str, str], ...] = (
    ("MN", "Mongolia Customs General Administration"),
    ("KZ", "State Revenue Committee of Kazakhstan"),
    ("KR", "Korea Customs Service"),
)

# Enough for many thousands of transactions on a chain that charges for gas (memory); anvil
# here charges nothing, the balance only keeps wallets and tools from refusing to sign.
DEV_FUNDING_WEI = 100 * 10**18


@dataclass(frozen=True)
class Member:
    code: str
    name: str
    admin: LocalAccount = field(repr=False)
    operator: LocalAccount = field(repr=False)


@dataclass(frozen=True)
class Consortium:
    chain: Chain = field(repr=False)
    deployment: Deployment
    members: dict[str, Member]

    def member(self, code: str) -> Member:
        try:
            return self.members[code]
        except KeyError:
            raise KeyError(f"no member {code!r} in this consortium") from None

    def operator(self, code: str) -> RegistryWriter:
        """A writer signing as ``code``'s OPERATOR (certificates and MRAs)."""
        return RegistryWriter(self.chain, self.deployment, self.member(code).operator)

    def admin(self, code: str) -> RegistryWriter:
        """A writer signing as ``code``'s ADMIN (accounts, keys, votes)."""
        return RegistryWriter(self.chain, self.deployment, self.member(code).admin)


def new_account(chain: Chain, funding_wei: int = DEV_FUNDING_WEI) -> LocalAccount:
    """A fresh key pair, funded when the chain is a development chain."""
    account: LocalAccount = Account.create()
    if chain.is_dev and funding_wei:
        fund(chain, account.address, funding_wei)
    return account


def bootstrap_consortium(
    chain: Chain,
    deployment: Deployment,
    deployer: LocalAccount,
    members: Sequence[tuple[str, str]] = DEFAULT_MEMBERS,
    *,
    close: bool = True,
    funding_wei: int = DEV_FUNDING_WEI,
) -> Consortium:
    """Admit ``members`` (code, name) with fresh accounts and close the bootstrap.

    On an ``rpc`` chain nothing is funded: a consortium network either charges no gas or its
    operators fund accounts by their own procedure. ``close=False`` leaves the bootstrap open
    (tests of bootstrap itself).
    """
    if not members:
        raise ValueError("members must name at least one founding member")
    seen: set[str] = set()
    for code, name in members:
        ids.authority_code(code)
        if code in seen:
            raise ValueError(f"members lists {code!r} twice")
        if not name:
            raise ValueError(f"member {code!r} needs a name")
        seen.add(code)
    if close and len(members) < 2:
        # The contract refuses to close the bootstrap then: a lone member could never carry a
        # membership vote, so the membership would be frozen for good.
        raise ValueError("members must name at least two founding members to close the bootstrap")
    deployer_writer = RegistryWriter(chain, deployment, deployer)
    founded: dict[str, Member] = {}
    for code, name in members:
        admin = new_account(chain, funding_wei)
        operator = new_account(chain, funding_wei)
        deployer_writer.bootstrap_member(code, name, admin.address)
        RegistryWriter(chain, deployment, admin).add_account(operator.address, AccountRole.OPERATOR)
        founded[code] = Member(code=code, name=name, admin=admin, operator=operator)
    if close:
        deployer_writer.close_bootstrap()
    return Consortium(chain=chain, deployment=deployment, members=founded)
