"""A deployed, bootstrapped consortium for the contract behaviour tests, on both backends.

`deploy_and_bootstrap(backend)` deploys AeoRegistry and MraRegistry from the committed artifacts
and bootstraps MN, KZ and KR, each with an ADMIN and an OPERATOR account (fresh keys funded through
`contracts.chain.fund`, transactions signed locally). The session fixture `backend` is
parametrized: every test that touches a chain runs once on `memory` (eth-tester with py-evm in
process) and once on `anvil` (one real anvil process for the session, started through the chain
layer with no node accounts); the anvil runs carry the `anvil` mark. Everything below uses
standard JSON-RPC plus the chain layer's development helpers (fund, mine, advance_time,
snapshots), so the same test code reads the same on both.

Deployment happens once per backend; each test starts from an `evm_snapshot` taken right after
it and is reverted to it afterwards, which keeps the anvil run fast.
"""

from __future__ import annotations

import ast
import json
import os
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, cast

import pytest
from eth_abi.abi import decode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_tester.exceptions import TransactionFailed
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD
from web3.types import EventData, RPCEndpoint, TxParams, TxReceipt, Wei

from contracts import chain as chain_layer
from contracts.chain import Chain, ChainSettings, connect
from contracts.domain import days, ids
from contracts.domain.enums import (
    AuthorityStatus as AuthorityStatus,
    CertificateStatus,
    EffectiveStatus,
    MembershipAction,
    MraState as MraState,
    MraStatus as MraStatus,
    ProposalStatus as ProposalStatus,
    RecognitionReason,
)

ARTIFACT_DIR = Path(chain_layer.__file__).resolve().parent / "artifacts"
CODES = ("MN", "KZ", "KR")
NAMES = {
    "MN": "Mongolia Customs General Administration",
    "KZ": "Kazakhstan State Revenue Committee",
    "KR": "Korea Customs Service",
}
VOTE_THRESHOLD_BPS = 5001
PROPOSAL_LIFETIME = 7 * 86_400
ROLE_ADMIN = 1
ROLE_OPERATOR = 2
FUNDING_WEI = Wei(10**20)
TX_GAS_LIMIT = 3_000_000
MAX_FEE_PER_GAS = Wei(100 * 10**9)
PRIORITY_FEE_PER_GAS = Wei(10**9)
DAY = 86_400


# The contracts' enums, under the names these tests use (contracts/domain/enums.py;
# tests/contracts/domain/test_enums.py checks them against the Solidity sources).
Action = MembershipAction
Stored = CertificateStatus
Effective = EffectiveStatus
Reason = RecognitionReason


def _mask(*codes: int) -> int:
    return sum(1 << code for code in codes)


#: reason codes each certificate operation accepts (ReasonCodes.sol), as the on-chain bitmasks
SUSPEND_REASONS = (1, 2, 3, 6, 7, 8)
REVOKE_REASONS = (1, 2, 3, 4, 5, 6, 7, 8)
REINSTATE_REASONS = (16, 17)
AMEND_REASONS = (32, 33, 34, 35)
RENEW_REASONS = (48,)
SUSPEND_MASK = _mask(*SUSPEND_REASONS)
REVOKE_MASK = _mask(*REVOKE_REASONS)
REINSTATE_MASK = _mask(*REINSTATE_REASONS)
AMEND_MASK = _mask(*AMEND_REASONS)
RENEW_MASK = _mask(*RENEW_REASONS)
ZERO_ADDRESS = "0x" + "00" * 20


def load_artifact(name: str) -> dict[str, Any]:
    with (ARTIFACT_DIR / f"{name}.json").open(encoding="utf-8") as handle:
        artifact: dict[str, Any] = json.load(handle)
    return artifact


# ---------------------------------------------------------------- reverts


@cache
def _errors_by_name() -> dict[str, tuple[bytes, list[str]]]:
    """Every custom error of the deployed contracts: name -> (selector, argument types)."""
    table: dict[str, tuple[bytes, list[str]]] = {}
    for contract in ("AeoRegistry", "MraRegistry"):
        for item in load_artifact(contract)["abi"]:
            if item["type"] == "error":
                types = [arg["type"] for arg in item["inputs"]]
                signature = f"{item['name']}({','.join(types)})"
                table[item["name"]] = (function_signature_to_4byte_selector(signature), types)
    return table


def _describe(data: bytes) -> str:
    for name, (selector, types) in _errors_by_name().items():
        if data[:4] == selector:
            return f"{name}{tuple(_normalize(decode(types, data[4:])))}"
    return f"unrecognized revert data 0x{data.hex()}"


def _normalize(values: Sequence[Any]) -> list[Any]:
    return [
        to_checksum_address(v) if isinstance(v, str) and v.startswith("0x") else v for v in values
    ]


def revert_data(exc: BaseException) -> bytes:
    """The raw revert data of a failed call, on eth-tester and on a JSON-RPC node alike."""
    data = getattr(exc, "data", None)
    if isinstance(data, str) and data.startswith("0x"):
        return bytes.fromhex(data[2:])
    message = str(exc.args[0]) if exc.args else ""
    prefix = "execution reverted: "
    if message.startswith(prefix):
        # eth-tester renders the revert output as a Python bytes literal after the prefix.
        value = ast.literal_eval(message[len(prefix) :])
        if isinstance(value, bytes):
            return value
    raise AssertionError(f"no revert data in {exc!r}")


def assert_reverts(
    call: Callable[[], object], error: str, expected_args: Sequence[Any] = ()
) -> None:
    """Run `call`, which must revert with custom error `error` carrying exactly `expected_args`
    (bytesN as bytes, enums and integers as int, addresses checksummed)."""
    selector, types = _errors_by_name()[error]
    try:
        call()
    except (ContractLogicError, TransactionFailed) as exc:
        data = revert_data(exc)
    else:
        raise AssertionError(f"expected {error}{tuple(expected_args)}, but the call succeeded")
    expected = f"{error}{tuple(_normalize(list(expected_args)))}"
    assert data[:4] == selector, f"expected {expected}, got {_describe(data)}"
    assert _normalize(decode(types, data[4:])) == _normalize(list(expected_args)), (
        f"expected {expected}, got {_describe(data)}"
    )


# ---------------------------------------------------------------- chain helpers


def time_travel(backend: Chain, timestamp: int) -> None:
    """Mine a block whose timestamp is exactly `timestamp` (later than the latest block's)."""
    seconds = timestamp - chain_layer.latest_timestamp(backend)
    assert seconds >= 1, f"cannot travel back in time ({seconds} s)"
    if backend.kind == "memory":
        chain_layer.advance_time(backend, seconds)
        return
    # advance_time is relative to anvil's wall clock: the block lands one second late whenever a
    # second has ticked since the last block, and the 23:59:59 boundary tests need the exact
    # second. Pin the next block's time instead, then mine it through the chain layer.
    response = backend.w3.provider.make_request(
        RPCEndpoint("evm_setNextBlockTimestamp"), [timestamp]
    )
    assert "error" not in response, f"evm_setNextBlockTimestamp failed: {response}"
    chain_layer.mine(backend)


def take_snapshot(backend: Chain) -> Any:
    return chain_layer.snapshot(backend)


def revert_to_snapshot(backend: Chain, snapshot: Any) -> None:
    chain_layer.revert_to_snapshot(backend, snapshot)


#: gas used per contract function, from every receipt of the session (printed with AEO_GAS_REPORT=1)
GAS_USED: dict[str, list[int]] = defaultdict(list)


@dataclass
class Member:
    """A bootstrapped authority and its two accounts."""

    code: str
    admin: LocalAccount
    operator: LocalAccount

    @property
    def raw(self) -> bytes:
        return ids.authority_code(self.code)


@dataclass
class Consortium:
    """The deployed contracts, the founding members, and helpers to act on them."""

    backend: Chain
    registry: Contract
    mras: Contract
    deployer: LocalAccount
    members: dict[str, Member]
    chain_id: int
    _numbers: Iterator[int] = field(default_factory=lambda: iter(range(1, 10**9)))

    @property
    def w3(self) -> Web3:
        return self.backend.w3

    # -- accounts and transactions

    def new_account(self, funded: bool = True) -> LocalAccount:
        account: LocalAccount = Account.create()
        if funded:
            chain_layer.fund(self.backend, account.address, FUNDING_WEI)
        return account

    def _transaction(self, account: LocalAccount, fn: ContractFunction) -> TxParams:
        # Every field given, so building costs no RPC round trip and no gas estimate: a call
        # that should succeed but reverts then fails loudly at submission or in its receipt.
        return fn.build_transaction(
            {
                "from": account.address,
                "nonce": self.w3.eth.get_transaction_count(account.address),
                "gas": TX_GAS_LIMIT,
                "maxFeePerGas": MAX_FEE_PER_GAS,
                "maxPriorityFeePerGas": PRIORITY_FEE_PER_GAS,
                "chainId": self.chain_id,
            }
        )

    def transact(self, account: LocalAccount, fn: ContractFunction) -> TxReceipt:
        """Sign `fn` with `account`'s key, send it, and return its (successful) receipt."""
        signed = account.sign_transaction(self._transaction(account, fn))  # type: ignore[arg-type]
        receipt = self.w3.eth.wait_for_transaction_receipt(
            self.w3.eth.send_raw_transaction(signed.raw_transaction)
        )
        assert receipt["status"] == 1, f"{fn.fn_name} failed: {receipt}"
        GAS_USED[fn.fn_name].append(receipt["gasUsed"])
        return receipt

    def send_failing(self, account: LocalAccount, fn: ContractFunction) -> None:
        """Send `fn` for real (fixed gas, no estimate) and check the chain refused it: eth-tester
        raises at submission, a JSON-RPC node mines it with status 0."""
        signed = account.sign_transaction(self._transaction(account, fn))  # type: ignore[arg-type]
        try:
            tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        except (ContractLogicError, TransactionFailed):
            return
        assert self.w3.eth.wait_for_transaction_receipt(tx_hash)["status"] == 0

    def reverts(
        self, account: LocalAccount, fn: ContractFunction, error: str, args: Sequence[Any] = ()
    ) -> None:
        """`fn` sent by `account` reverts with `error(*args)`."""
        assert_reverts(lambda: fn.call({"from": account.address}), error, args)

    def events(self, receipt: TxReceipt, contract: Contract, name: str) -> list[EventData]:
        return list(contract.events[name]().process_receipt(receipt, errors=DISCARD))

    def event(self, receipt: TxReceipt, contract: Contract, name: str) -> EventData:
        found = self.events(receipt, contract, name)
        assert len(found) == 1, f"expected one {name} event, got {len(found)}"
        return found[0]

    # -- time

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def today(self) -> int:
        return days.day_of(self.now())

    def travel_to_day(self, day: int, second: int = 43_200) -> None:
        """Mine a block at noon (by default) of `day`."""
        time_travel(self.backend, day * DAY + second)

    # -- certificates

    def number(self, prefix: str = "AEO") -> bytes:
        return ids.certificate_number(f"{prefix}-{next(self._numbers):06d}")

    def issue(
        self,
        member: Member,
        *,
        number: bytes | None = None,
        tiers: int = 3,
        valid_from: int | None = None,
        valid_until: int | None = None,
        holder: bytes | None = None,
        commitment: bytes | None = None,
    ) -> bytes:
        """Issue as `member`'s operator; valid from today for three years by default."""
        today = self.today()
        number = number or self.number(member.code)
        fn = self.registry.functions.issue(
            number,
            tiers,
            today if valid_from is None else valid_from,
            today + 3 * 365 if valid_until is None else valid_until,
            holder or os.urandom(32),
            commitment or os.urandom(32),
        )
        self.transact(member.operator, fn)
        return ids.certificate_id(member.code, ids.certificate_number_str(number))

    def certificate(self, certificate_id: bytes) -> Any:
        return self.registry.functions.getCertificate(certificate_id).call()

    def status(self, certificate_id: bytes) -> int:
        return int(self.registry.functions.statusOf(certificate_id).call())

    # -- membership

    def vote_through(self, action: int, target: str, voters: Sequence[str]) -> int:
        """`action` on `target`, proposed by the first voter's admin, voted by the others."""
        first, *rest = voters
        receipt = self.transact(
            self.members[first].admin,
            self.registry.functions.proposeMembership(
                action, ids.authority_code(target), "", ZERO_ADDRESS
            ),
        )
        proposal_id = int(
            self.event(receipt, self.registry, "MembershipProposed")["args"]["proposalId"]
        )
        for voter in rest:
            self.transact(
                self.members[voter].admin, self.registry.functions.voteOnMembership(proposal_id)
            )
        return proposal_id

    # -- MRAs

    def propose_mra(
        self,
        proposer: str,
        parties: Sequence[str],
        tiers: Sequence[int] | None = None,
        *,
        effective_from: int | None = None,
        ends_on: int = 0,
        text_hash: bytes = b"\x11" * 32,
    ) -> int:
        receipt = self.transact(
            self.members[proposer].operator,
            self.mras.functions.propose(
                [ids.authority_code(p) for p in parties],
                list(tiers) if tiers is not None else [2] * len(parties),
                self.today() if effective_from is None else effective_from,
                ends_on,
                text_hash,
            ),
        )
        return int(self.event(receipt, self.mras, "MraProposed")["args"]["mraId"])

    def mra_in_force(
        self, parties: Sequence[str], tiers: Sequence[int] | None = None, **kwargs: Any
    ) -> int:
        mra_id = self.propose_mra(parties[0], parties, tiers, **kwargs)
        for party in parties[1:]:
            self.transact(self.members[party].operator, self.mras.functions.sign(mra_id))
        return mra_id


def deploy_and_bootstrap(
    backend: Chain,
    *,
    codes: Sequence[str] = CODES,
    vote_threshold_bps: int = VOTE_THRESHOLD_BPS,
    proposal_lifetime: int = PROPOSAL_LIFETIME,
    close_bootstrap: bool = True,
) -> Consortium:
    """Deploy both contracts from their artifacts and bootstrap `codes`, each with one ADMIN and
    one OPERATOR account, on a development chain (accounts are funded by the chain layer)."""
    w3 = backend.w3
    deployer: LocalAccount = Account.create()
    chain_layer.fund(backend, deployer.address, FUNDING_WEI)

    def deploy(name: str, *args: Any) -> Contract:
        artifact = load_artifact(name)
        factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        tx = factory.constructor(*args).build_transaction(
            {"from": deployer.address, "nonce": w3.eth.get_transaction_count(deployer.address)}
        )
        receipt = w3.eth.wait_for_transaction_receipt(
            w3.eth.send_raw_transaction(deployer.sign_transaction(tx).raw_transaction)
        )
        assert receipt["status"] == 1, f"deploying {name} failed"
        GAS_USED[f"deploy {name}"].append(receipt["gasUsed"])
        return cast(
            Contract, w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])
        )

    registry = deploy("AeoRegistry", vote_threshold_bps, proposal_lifetime)
    mras = deploy("MraRegistry", registry.address)
    consortium = Consortium(backend, registry, mras, deployer, {}, backend.chain_id)
    for code in codes:
        member = Member(code, consortium.new_account(), consortium.new_account())
        consortium.transact(
            deployer,
            registry.functions.bootstrapMember(
                ids.authority_code(code), NAMES.get(code, code), member.admin.address
            ),
        )
        consortium.transact(
            member.admin, registry.functions.addAccount(member.operator.address, ROLE_OPERATOR)
        )
        consortium.members[code] = member
    if close_bootstrap:
        consortium.transact(deployer, registry.functions.closeBootstrap())
    return consortium


# ---------------------------------------------------------------- fixtures


BACKENDS = ("memory", pytest.param("anvil", marks=pytest.mark.anvil))


@pytest.fixture(scope="session", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Chain]:
    """The chain under test: eth-tester in process, or one real anvil process for the session
    (its state in a temporary data dir, stopped at the end). A test or module that must run on
    one backend only parametrizes it: `@pytest.mark.parametrize("backend", ["memory"],
    indirect=True)`."""
    kind = request.param
    if kind == "memory":
        backend = connect(ChainSettings(kind="memory"))
    elif kind == "anvil":
        backend = connect(ChainSettings(kind="anvil", data_dir=tmp_path_factory.mktemp("anvil")))
    else:
        raise ValueError(f"backend must be 'memory' or 'anvil', got {kind!r}")
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture(scope="session")
def w3(backend: Chain) -> Web3:
    """The web3 of `backend`, for a test that only reads the chain."""
    return backend.w3


@dataclass
class Deployed:
    consortium: Consortium
    snapshot: Any


@pytest.fixture(scope="session")
def deployed(backend: Chain) -> Deployed:
    consortium = deploy_and_bootstrap(backend)
    return Deployed(consortium, take_snapshot(backend))


@pytest.fixture
def chain(deployed: Deployed) -> Iterator[Consortium]:
    """The bootstrapped consortium as it was right after deployment (reverted after each test),
    at noon of the next day so that no test crosses midnight by accident."""
    deployed.consortium.travel_to_day(deployed.consortium.today() + 1)
    yield deployed.consortium
    revert_to_snapshot(deployed.consortium.backend, deployed.snapshot)
    # anvil forgets a snapshot once reverted to it.
    deployed.snapshot = take_snapshot(deployed.consortium.backend)


@pytest.fixture
def mn(chain: Consortium) -> Member:
    return chain.members["MN"]


@pytest.fixture
def kz(chain: Consortium) -> Member:
    return chain.members["KZ"]


@pytest.fixture
def kr(chain: Consortium) -> Member:
    return chain.members["KR"]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if os.environ.get("AEO_GAS_REPORT") and GAS_USED:
        terminalreporter.section("gas used per call (from receipts)")
        for name, values in sorted(GAS_USED.items()):
            terminalreporter.write_line(
                f"{name:28} min {min(values):>9,} max {max(values):>9,} n={len(values)}"
            )
