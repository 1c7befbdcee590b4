"""The typed Python client of the registry contracts.

Reads: ``RegistryReader`` answers with frozen dataclasses and enums that mirror the Solidity
ones (tests check they stay in step with the sources).

Writes are built in layers so the registry API's outbox can stop between any two of them:

1. an ``Operation`` (contract, function, ABI arguments) — the builders in ``Ops`` make them from
   friendly Python values and validate them; ``Operation.to_json`` lets the outbox store one;
2. ``TxClient.prepare(op)`` -> ``TxRequest`` (to, calldata);
3. ``sign(request, account, nonce=..., gas=..., fees=..., chain_id=...)`` -> ``SignedTx``
   (raw bytes and hash, computed locally: persist them BEFORE broadcasting);
4. ``TxClient.broadcast(raw)`` — safe to repeat with the same bytes after a crash;
5. ``TxClient.wait_receipt(hash, timeout)``.

``RegistryWriter`` runs the whole path for one account (estimate, sign, send, wait) and raises
the decoded ``ContractRevertError`` when the contract refuses, already at gas estimation.
Transactions are always signed locally; no node account is ever asked to sign.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, cast

from eth_account import Account as EthAccount
from eth_account.signers.local import LocalAccount
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_typing import ABIFunction, ChecksumAddress
from eth_utils.address import is_address, to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3.exceptions import TransactionNotFound, Web3RPCError
from web3.types import TxParams, TxReceipt, Wei

from contracts.artifacts import MRAS, REGISTRY, load_artifact
from contracts.domain import days, ids
from contracts.domain.days import Day
from contracts.domain.encoding import jsonable
from contracts.domain.enums import (
    AccountRole,
    AuthorityStatus,
    CertificateStatus,
    EffectiveStatus,
    KeyAlgorithm,
    MembershipAction,
    MraState,
    MraStatus,
    ProposalStatus,
    ReasonCode,
    RecognitionReason,
    Tier,
)
from contracts.errors import (
    ChainError,
    ContractRevertError,
    NonceConflictError,
    TransactionFailedError,
    TransactionRejectedError,
    TransactionTimeoutError,
    translate_errors,
)

if TYPE_CHECKING:
    from web3.contract import Contract

    from contracts.chain import Chain
    from contracts.deploy import Deployment

ZERO_ADDRESS: ChecksumAddress = to_checksum_address("0x" + "00" * 20)


# --- read models -------------------------------------------------------------------------------


def _code_or_none(raw: bytes) -> str | None:
    return ids.authority_code_str(raw) if any(raw) else None


@dataclass(frozen=True)
class Authority:
    code: str
    name: str
    status: AuthorityStatus
    admitted_at: int
    status_changed_at: int
    accounts: tuple[ChecksumAddress, ...]
    signing_keys: tuple[bytes, ...]

    @property
    def known(self) -> bool:
        return self.status is not AuthorityStatus.NONE


@dataclass(frozen=True)
class AccountInfo:
    address: ChecksumAddress
    authority: str | None
    roles: AccountRole
    authority_active: bool

    def has(self, role: AccountRole) -> bool:
        return bool(self.roles & role)


@dataclass(frozen=True)
class SigningKey:
    kid: bytes
    authority: str | None
    algorithm: KeyAlgorithm
    valid_from: int
    revoked_at: int  # 0 = not revoked
    public_key: bytes

    @property
    def known(self) -> bool:
        return self.algorithm is not KeyAlgorithm.NONE


@dataclass(frozen=True)
class MembershipProposal:
    id: int
    status: ProposalStatus
    action: MembershipAction
    code: str | None
    proposer: str | None
    approvals: int
    required: int  # approvals that execute it, fixed when it opened
    created_at: int
    expires_at: int
    admin: ChecksumAddress
    name: str


@dataclass(frozen=True)
class Certificate:
    """A certificate as the chain stores it. ``status`` NONE means unknown (never issued)."""

    id: bytes
    issuer: str | None
    tiers: Tier
    status: CertificateStatus
    effective_status: EffectiveStatus
    valid_from: Day
    valid_until: Day  # inclusive; OPEN_ENDED for no end date
    version: int
    digest: bytes  # ids.record_digest(holder_ref, commitment)

    @property
    def known(self) -> bool:
        return self.status is not CertificateStatus.NONE

    @property
    def valid_from_date(self) -> date:
        return days.from_day(self.valid_from)

    @property
    def valid_until_date(self) -> date:
        return days.from_day(self.valid_until)


@dataclass(frozen=True)
class Mra:
    id: int
    state: MraState
    status: MraStatus
    proposer: str | None
    suspended_by: str | None
    effective_from: Day
    ends_on: Day  # inclusive; 0 = open-ended
    proposed_at: int  # unix time
    text_hash: bytes
    parties: tuple[str, ...]
    recognized_tiers: tuple[Tier, ...]
    signed: tuple[bool, ...]

    @property
    def known(self) -> bool:
        return self.state is not MraState.NONE

    def tiers_of(self, party: str) -> Tier:
        return self.recognized_tiers[self.parties.index(party)]


@dataclass(frozen=True)
class Recognition:
    recognized: bool
    reason: RecognitionReason
    mra_id: int  # 0 when the reason concerns no MRA


class RegistryReader:
    """Views of the deployed contracts, as dataclasses. Network failures raise
    ``ChainUnavailableError``; nothing here sends a transaction."""

    def __init__(self, chain: Chain, deployment: Deployment) -> None:
        self.chain = chain
        self.deployment = deployment
        self.registry = contract_of(chain, deployment, "registry")
        self.mras = contract_of(chain, deployment, "mras")

    def _call(self, contract: Contract, function: str, *args: Any) -> Any:
        with translate_errors(f"{function}()"):
            return contract.functions[function](*args).call()

    # authorities
    def get_authority(self, code: str) -> Authority:
        raw = self._call(self.registry, "getAuthority", ids.authority_code(code))
        return Authority(
            code=code,
            name=raw.name,
            status=AuthorityStatus(raw.status),
            admitted_at=int(raw.admittedAt),
            status_changed_at=int(raw.statusChangedAt),
            accounts=tuple(to_checksum_address(a) for a in raw.accounts),
            signing_keys=tuple(bytes(k) for k in raw.signingKeys),
        )

    def account_of(self, address: str) -> AccountInfo:
        checked = _address(address, "address")
        raw = self._call(self.registry, "accountOf", checked)
        return AccountInfo(
            address=checked,
            authority=_code_or_none(raw.authority),
            roles=AccountRole(raw.roles),
            authority_active=bool(raw.authorityActive),
        )

    def get_signing_key(self, kid: bytes) -> SigningKey:
        raw = self._call(self.registry, "getSigningKey", _fixed_bytes(kid, 8, "kid"))
        return SigningKey(
            kid=bytes(kid),
            authority=_code_or_none(raw.authority),
            algorithm=KeyAlgorithm(raw.algorithm),
            valid_from=int(raw.validFrom),
            revoked_at=int(raw.revokedAt),
            public_key=bytes(raw.publicKey),
        )

    def member_codes(self) -> list[str]:
        return [ids.authority_code_str(c) for c in self._call(self.registry, "memberCodes")]

    def active_member_count(self) -> int:
        return int(self._call(self.registry, "activeMemberCount"))

    def member_count(self) -> int:
        """Members not removed: what a membership vote's majority is counted over."""
        return int(self._call(self.registry, "memberCount"))

    def get_proposal(self, proposal_id: int) -> MembershipProposal:
        raw = self._call(self.registry, "getProposal", proposal_id)
        return MembershipProposal(
            id=proposal_id,
            status=ProposalStatus(raw.status),
            action=MembershipAction(raw.action),
            code=_code_or_none(raw.code),
            proposer=_code_or_none(raw.proposer),
            approvals=int(raw.approvals),
            required=int(raw.required),
            created_at=int(raw.createdAt),
            expires_at=int(raw.expiresAt),
            admin=to_checksum_address(raw.admin),
            name=raw.name,
        )

    def has_voted(self, proposal_id: int, code: str) -> bool:
        return bool(self._call(self.registry, "hasVoted", proposal_id, ids.authority_code(code)))

    def bootstrapper(self) -> ChecksumAddress | None:
        address = to_checksum_address(self._call(self.registry, "bootstrapper"))
        return None if address == ZERO_ADDRESS else address

    # certificates
    def get_certificate(self, certificate_id: bytes) -> Certificate:
        raw = self._call(
            self.registry, "getCertificate", _fixed_bytes(certificate_id, 32, "certificate_id")
        )
        return Certificate(
            id=bytes(certificate_id),
            issuer=_code_or_none(raw.issuer),
            tiers=Tier(raw.tiers),
            status=CertificateStatus(raw.status),
            effective_status=EffectiveStatus(raw.effectiveStatus),
            valid_from=Day(int(raw.validFrom)),
            valid_until=Day(int(raw.validUntil)),
            version=int(raw.version),
            digest=bytes(raw.digest),
        )

    def status_of(self, certificate_id: bytes) -> EffectiveStatus:
        raw = self._call(
            self.registry, "statusOf", _fixed_bytes(certificate_id, 32, "certificate_id")
        )
        return EffectiveStatus(raw)

    def certificate_id(self, issuer: str, number: str) -> bytes:
        """The contract's own derivation (tests check it equals ``ids.certificate_id``)."""
        raw = self._call(
            self.registry,
            "certificateId",
            ids.authority_code(issuer),
            ids.certificate_number(number),
        )
        return bytes(raw)

    def record_digest(self, holder_ref: bytes, commitment: bytes) -> bytes:
        raw = self._call(
            self.registry,
            "recordDigest",
            _fixed_bytes(holder_ref, 32, "holder_ref"),
            _fixed_bytes(commitment, 32, "commitment"),
        )
        return bytes(raw)

    # MRAs
    def get_mra(self, mra_id: int) -> Mra:
        raw = self._call(self.mras, "getMra", mra_id)
        return Mra(
            id=mra_id,
            state=MraState(raw.state),
            status=MraStatus(raw.status),
            proposer=_code_or_none(raw.proposer),
            suspended_by=_code_or_none(raw.suspendedBy),
            effective_from=Day(int(raw.effectiveFrom)),
            ends_on=Day(int(raw.endsOn)),
            proposed_at=int(raw.proposedAt),
            text_hash=bytes(raw.textHash),
            parties=tuple(ids.authority_code_str(p) for p in raw.parties),
            recognized_tiers=tuple(Tier(t) for t in raw.recognizedTiers),
            signed=tuple(bool(s) for s in raw.signed),
        )

    def mras_of(self, party: str) -> list[int]:
        return [int(i) for i in self._call(self.mras, "mrasOf", ids.authority_code(party))]

    def mra_status(self, mra_id: int) -> MraStatus:
        return MraStatus(self._call(self.mras, "mraStatus", mra_id))

    def recognizes(self, authority: str, certificate_id: bytes) -> Recognition:
        recognized, reason, mra_id = self._call(
            self.mras,
            "recognizes",
            ids.authority_code(authority),
            _fixed_bytes(certificate_id, 32, "certificate_id"),
        )
        return Recognition(bool(recognized), RecognitionReason(reason), int(mra_id))


# --- operations --------------------------------------------------------------------------------

ContractName = Literal["registry", "mras"]
_ARTIFACT_OF: dict[str, str] = {"registry": REGISTRY, "mras": MRAS}


def contract_of(chain: Chain, deployment: Deployment, name: ContractName) -> Contract:
    address = deployment.registry if name == "registry" else deployment.mras
    return chain.w3.eth.contract(
        address=address, abi=load_artifact(_ARTIFACT_OF[name]).abi, decode_tuples=True
    )


def function_abi(contract: ContractName, function: str) -> ABIFunction:
    """The ABI of ``contract.function`` (overloads are not used by these contracts)."""
    if contract not in _ARTIFACT_OF:
        raise ValueError(f"contract must be 'registry' or 'mras'; got {contract!r}")
    for element in load_artifact(_ARTIFACT_OF[contract]).abi:
        if element["type"] == "function" and element["name"] == function:
            return element
    raise ValueError(f"{_ARTIFACT_OF[contract]} has no function {function!r}")


@dataclass(frozen=True)
class Operation:
    """One contract write: which contract, which function, ABI-level arguments."""

    contract: ContractName
    function: str
    args: tuple[Any, ...]

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe form (bytes as 0x-hex) for the outbox to store."""
        return {"contract": self.contract, "function": self.function, "args": jsonable(self.args)}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Operation:
        contract = raw.get("contract")
        if contract not in _ARTIFACT_OF:
            raise ValueError(f"operation contract must be 'registry' or 'mras'; got {contract!r}")
        function = str(raw.get("function"))
        abi = function_abi(cast(ContractName, contract), function)
        inputs = abi.get("inputs", [])
        args = raw.get("args")
        if not isinstance(args, list) or len(args) != len(inputs):
            raise ValueError(f"{function} takes {len(inputs)} arguments; got {args!r}")
        return cls(
            cast(ContractName, contract),
            function,
            tuple(
                _from_json(value, cast(dict[str, Any], spec))
                for value, spec in zip(args, inputs, strict=True)
            ),
        )


def _from_json(value: Any, spec: dict[str, Any]) -> Any:
    abi_type: str = spec["type"]
    if abi_type.endswith("[]"):
        inner = {**spec, "type": abi_type[:-2]}
        return [_from_json(v, inner) for v in value]
    if abi_type == "tuple":
        return tuple(_from_json(v, c) for v, c in zip(value, spec["components"], strict=True))
    if abi_type.startswith("bytes"):
        return bytes(HexBytes(value))
    return value


def _fixed_bytes(value: bytes | str, size: int, field: str) -> bytes:
    raw = bytes(HexBytes(value)) if isinstance(value, str) else bytes(value)
    if len(raw) != size:
        raise ValueError(f"{field} must be {size} bytes; got {len(raw)}")
    return raw


def _address(value: str, field: str) -> ChecksumAddress:
    if not isinstance(value, str) or not is_address(value):
        raise ValueError(f"{field} must be a 20-byte hex address; got {value!r}")
    return to_checksum_address(value)


def _uint(value: int, bits: int, field: str) -> int:
    if not isinstance(value, int) or not 0 <= value < 2**bits:
        raise ValueError(f"{field} must be an integer 0..{2**bits - 1}; got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Issuance:
    """One certificate to issue (an item of ``issue_batch``)."""

    number: str
    tiers: int
    valid_from: date | int
    valid_until: date | int
    holder_ref: bytes
    commitment: bytes

    def abi(self) -> tuple[bytes, int, int, int, bytes, bytes]:
        return (
            ids.certificate_number(self.number),
            _uint(self.tiers, 8, "tiers"),
            days.as_day(self.valid_from, "valid_from"),
            days.as_day(self.valid_until, "valid_until"),
            _fixed_bytes(self.holder_ref, 32, "holder_ref"),
            _fixed_bytes(self.commitment, 32, "commitment"),
        )


class Ops:
    """Builders of every contract write, from friendly values (codes as ``"MN"``, dates as
    ``date`` or day numbers). They validate shapes and raise ``ValueError`` naming the field;
    the contract still decides the rules."""

    # certificates (AeoRegistry)
    @staticmethod
    def issue(
        number: str,
        tiers: int,
        valid_from: date | int,
        valid_until: date | int,
        holder_ref: bytes,
        commitment: bytes,
    ) -> Operation:
        item = Issuance(number, tiers, valid_from, valid_until, holder_ref, commitment)
        return Operation("registry", "issue", item.abi())

    @staticmethod
    def issue_batch(items: Sequence[Issuance]) -> Operation:
        return Operation("registry", "issueBatch", ([item.abi() for item in items],))

    @staticmethod
    def amend(
        certificate_id: bytes, tiers: int, holder_ref: bytes, commitment: bytes, reason: int
    ) -> Operation:
        return Operation(
            "registry",
            "amend",
            (
                _fixed_bytes(certificate_id, 32, "certificate_id"),
                _uint(tiers, 8, "tiers"),
                _fixed_bytes(holder_ref, 32, "holder_ref"),
                _fixed_bytes(commitment, 32, "commitment"),
                _uint(reason, 8, "reason"),
            ),
        )

    @staticmethod
    def renew(
        certificate_id: bytes, valid_until: date | int, reason: int = ReasonCode.REASSESSED
    ) -> Operation:
        return Operation(
            "registry",
            "renew",
            (
                _fixed_bytes(certificate_id, 32, "certificate_id"),
                days.as_day(valid_until, "valid_until"),
                _uint(reason, 8, "reason"),
            ),
        )

    @staticmethod
    def _status_change(function: str, certificate_id: bytes, reason: int) -> Operation:
        return Operation(
            "registry",
            function,
            (_fixed_bytes(certificate_id, 32, "certificate_id"), _uint(reason, 8, "reason")),
        )

    @staticmethod
    def suspend(certificate_id: bytes, reason: int) -> Operation:
        return Ops._status_change("suspend", certificate_id, reason)

    @staticmethod
    def reinstate(certificate_id: bytes, reason: int) -> Operation:
        return Ops._status_change("reinstate", certificate_id, reason)

    @staticmethod
    def revoke(certificate_id: bytes, reason: int) -> Operation:
        return Ops._status_change("revoke", certificate_id, reason)

    # authorities (AeoRegistry)
    @staticmethod
    def bootstrap_member(code: str, name: str, admin: str) -> Operation:
        return Operation(
            "registry",
            "bootstrapMember",
            (ids.authority_code(code), name, _address(admin, "admin")),
        )

    @staticmethod
    def close_bootstrap() -> Operation:
        return Operation("registry", "closeBootstrap", ())

    @staticmethod
    def propose_membership(
        action: MembershipAction, code: str, name: str = "", admin: str = ZERO_ADDRESS
    ) -> Operation:
        return Operation(
            "registry",
            "proposeMembership",
            (
                int(MembershipAction(action)),
                ids.authority_code(code),
                name,
                _address(admin, "admin"),
            ),
        )

    @staticmethod
    def vote(proposal_id: int) -> Operation:
        return Operation("registry", "voteOnMembership", (_uint(proposal_id, 256, "proposal_id"),))

    @staticmethod
    def add_account(account: str, roles: int) -> Operation:
        return Operation(
            "registry", "addAccount", (_address(account, "account"), _uint(roles, 8, "roles"))
        )

    @staticmethod
    def remove_account(account: str) -> Operation:
        return Operation("registry", "removeAccount", (_address(account, "account"),))

    @staticmethod
    def register_signing_key(
        public_key: bytes,
        algorithm: int,
        valid_from: int = 0,
        kid: bytes | None = None,
    ) -> Operation:
        """``kid`` defaults to ``ids.key_id(public_key)`` (what the contract checks)."""
        key = bytes(public_key)
        return Operation(
            "registry",
            "registerSigningKey",
            (
                _fixed_bytes(kid, 8, "kid") if kid is not None else ids.key_id(key),
                _uint(algorithm, 8, "algorithm"),
                key,
                _uint(valid_from, 64, "valid_from"),
            ),
        )

    @staticmethod
    def revoke_signing_key(kid: bytes, revoked_at: int = 0) -> Operation:
        return Operation(
            "registry",
            "revokeSigningKey",
            (_fixed_bytes(kid, 8, "kid"), _uint(revoked_at, 64, "revoked_at")),
        )

    # MRAs (MraRegistry)
    @staticmethod
    def propose_mra(
        parties: Sequence[str],
        recognized_tiers: Sequence[int],
        effective_from: date | int,
        ends_on: date | int = 0,
        text_hash: bytes = b"",
    ) -> Operation:
        return Operation(
            "mras",
            "propose",
            (
                [ids.authority_code(p) for p in parties],
                [_uint(t, 8, "recognized_tiers") for t in recognized_tiers],
                days.as_day(effective_from, "effective_from"),
                days.as_day(ends_on, "ends_on"),
                _fixed_bytes(text_hash, 32, "text_hash"),
            ),
        )

    @staticmethod
    def _mra(function: str, mra_id: int) -> Operation:
        return Operation("mras", function, (_uint(mra_id, 256, "mra_id"),))

    @staticmethod
    def sign_mra(mra_id: int) -> Operation:
        return Ops._mra("sign", mra_id)

    @staticmethod
    def suspend_mra(mra_id: int) -> Operation:
        return Ops._mra("suspend", mra_id)

    @staticmethod
    def resume_mra(mra_id: int) -> Operation:
        return Ops._mra("resume", mra_id)

    @staticmethod
    def terminate_mra(mra_id: int) -> Operation:
        return Ops._mra("terminate", mra_id)


# --- transactions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TxRequest:
    """What to send: ``to`` None creates a contract."""

    to: ChecksumAddress | None
    data: HexBytes
    value: int = 0


@dataclass(frozen=True)
class Fees:
    """EIP-1559 fee caps, or a legacy gas price for chains without a base fee."""

    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    gas_price: int | None = None

    def __post_init__(self) -> None:
        eip1559 = self.max_fee_per_gas is not None and self.max_priority_fee_per_gas is not None
        if eip1559 == (self.gas_price is not None):
            raise ValueError("give either both EIP-1559 fee caps or a legacy gas_price")

    def fields(self) -> dict[str, int]:
        if self.gas_price is not None:
            return {"gasPrice": self.gas_price}
        assert self.max_fee_per_gas is not None
        assert self.max_priority_fee_per_gas is not None
        return {
            "maxFeePerGas": self.max_fee_per_gas,
            "maxPriorityFeePerGas": self.max_priority_fee_per_gas,
            "type": 2,
        }


@dataclass(frozen=True)
class SignedTx:
    """A transaction signed locally: ``raw`` is what to (re)broadcast, ``hash`` its id."""

    raw: HexBytes
    hash: HexBytes
    sender: ChecksumAddress
    nonce: int


def sign(
    request: TxRequest,
    account: LocalAccount,
    *,
    nonce: int,
    gas: int,
    fees: Fees,
    chain_id: int,
) -> SignedTx:
    """Sign ``request`` with ``account``'s key. Pure: no chain access, so the outbox can
    persist the result before anything leaves the process."""
    tx: dict[str, Any] = {
        "nonce": _uint(nonce, 64, "nonce"),
        "gas": _uint(gas, 64, "gas"),
        "value": request.value,
        "data": bytes(request.data),
        "chainId": chain_id,
        **fees.fields(),
    }
    if request.to is not None:
        tx["to"] = request.to
    signed = account.sign_transaction(tx)
    raw = HexBytes(signed.raw_transaction)
    return SignedTx(
        raw=raw,
        hash=HexBytes(keccak(raw)),
        sender=to_checksum_address(account.address),
        nonce=nonce,
    )


def recover_sender(raw: bytes) -> ChecksumAddress:
    return to_checksum_address(EthAccount.recover_transaction(bytes(raw)))


def _rpc_message(exc: Web3RPCError) -> str:
    error = (exc.rpc_response or {}).get("error")
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return str(exc.message)


def _nonce_of(raw: bytes) -> int | None:
    """The nonce of a typed (EIP-2718) raw transaction; None for a legacy one."""
    if raw and raw[0] < 0x7F:
        return int(TypedTransaction.from_bytes(HexBytes(raw)).as_dict()["nonce"])
    return None


_ALREADY_KNOWN = ("already known", "known transaction", "already imported", "already exists")
_NONCE_USED = ("nonce too low", "nonce is too low", "replacement transaction underpriced")


class TxClient:
    """Prepare, estimate, broadcast and follow transactions to the registry contracts."""

    def __init__(self, chain: Chain, deployment: Deployment | None = None) -> None:
        self.chain = chain
        self.deployment = deployment

    @property
    def chain_id(self) -> int:
        return self.chain.chain_id

    def prepare(self, op: Operation) -> TxRequest:
        if self.deployment is None:
            raise ChainError("preparing a registry call needs a deployment")
        contract = contract_of(self.chain, self.deployment, op.contract)
        data = contract.encode_abi(op.function, args=list(op.args))
        return TxRequest(to=contract.address, data=HexBytes(data))

    def estimate_gas(self, request: TxRequest, sender: str) -> int:
        """Gas the call needs; raises the decoded ``ContractRevertError`` when it would revert."""
        params: TxParams = {"from": to_checksum_address(sender), "data": request.data}
        if request.to is not None:
            params["to"] = request.to
        if request.value:
            params["value"] = Wei(request.value)
        with translate_errors("estimating gas"):
            return int(self.chain.w3.eth.estimate_gas(params))

    def gas_limit(self, request: TxRequest, sender: str) -> int:
        """The estimate with head room (a state change between estimate and mining can add
        a few cold accesses), capped at the block gas limit."""
        estimate = self.estimate_gas(request, sender)
        with translate_errors("reading the gas limit"):
            block_limit = int(self.chain.w3.eth.get_block("latest")["gasLimit"])
        return min(estimate + estimate // 5 + 10_000, block_limit)

    def fees(self) -> Fees:
        """Fees for the next block. On a zero-base-fee consortium chain (and our anvil) this is
        all zeros: nobody pays, yet receipts still report the real gas used."""
        with translate_errors("reading fees"):
            block = self.chain.w3.eth.get_block("latest")
            base_fee = block.get("baseFeePerGas")
            gas_price = int(self.chain.w3.eth.gas_price)
        if base_fee is None:
            return Fees(gas_price=gas_price)
        priority = max(gas_price - int(base_fee), 0)
        return Fees(max_fee_per_gas=2 * int(base_fee) + priority, max_priority_fee_per_gas=priority)

    def nonce(self, address: str, block: Literal["pending", "latest"] = "pending") -> int:
        with translate_errors("reading the nonce"):
            return int(self.chain.w3.eth.get_transaction_count(to_checksum_address(address), block))

    def broadcast(self, signed: SignedTx | bytes) -> HexBytes:
        """Send signed bytes; returns the transaction hash. Idempotent: sending bytes the
        node already has (pending or mined) succeeds. Raises ``NonceConflictError`` when a
        different transaction took the nonce, ``TransactionRejectedError`` otherwise."""
        raw = bytes(signed.raw) if isinstance(signed, SignedTx) else bytes(signed)
        tx_hash = HexBytes(keccak(raw))
        try:
            with translate_errors("broadcasting"):
                self.chain.w3.eth.send_raw_transaction(bytes(raw))
            return tx_hash
        except Web3RPCError as exc:
            message = _rpc_message(exc)
        if self.transaction_known(tx_hash) or any(s in message.lower() for s in _ALREADY_KNOWN):
            return tx_hash
        if any(s in message.lower() for s in _NONCE_USED):
            sender = recover_sender(raw)
            nonce = signed.nonce if isinstance(signed, SignedTx) else _nonce_of(raw)
            raise NonceConflictError(
                f"nonce {nonce} of {sender} is already used by another transaction ({message})",
                sender=sender,
                nonce=nonce,
            )
        raise TransactionRejectedError(f"the node refused the transaction: {message}")

    def transaction_known(self, tx_hash: bytes) -> bool:
        """True when the node has the transaction (pending or mined)."""
        try:
            with translate_errors("looking up a transaction"):
                self.chain.w3.eth.get_transaction(HexBytes(tx_hash))
        except TransactionNotFound:
            return False
        return True

    def receipt(self, tx_hash: bytes) -> TxReceipt | None:
        """The receipt, or None while the transaction is not mined (or unknown)."""
        try:
            with translate_errors("reading a receipt"):
                return self.chain.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return None

    def wait_receipt(
        self, tx_hash: bytes, timeout: float = 120.0, poll_interval: float = 0.05
    ) -> TxReceipt:
        """The receipt once mined; ``TransactionTimeoutError`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        interval = poll_interval
        while True:
            receipt = self.receipt(tx_hash)
            if receipt is not None:
                return receipt
            if time.monotonic() >= deadline:
                raise TransactionTimeoutError(
                    f"no receipt for 0x{bytes(tx_hash).hex()} within {timeout:g} s",
                    tx_hash=HexBytes(tx_hash),
                )
            time.sleep(interval)
            interval = min(interval * 2, 1.0)

    def revert_of(self, receipt: TxReceipt) -> ContractRevertError | None:
        """Why a mined transaction failed, by replaying it at its block (best effort: a node
        without that block's state answers None)."""
        try:
            with translate_errors("replaying a failed transaction"):
                tx = self.chain.w3.eth.get_transaction(receipt["transactionHash"])
                params: TxParams = {"from": tx["from"], "data": tx["input"], "gas": tx["gas"]}
                if tx.get("to"):
                    params["to"] = tx["to"]
                self.chain.w3.eth.call(params, block_identifier=receipt["blockNumber"])
        except ContractRevertError as exc:
            return exc
        except (ChainError, Web3RPCError, ValueError):
            return None
        return None

    def check(self, receipt: TxReceipt) -> TxReceipt:
        """Return a successful receipt; raise ``TransactionFailedError`` for status 0."""
        if receipt["status"] == 1:
            return receipt
        revert = self.revert_of(receipt)
        tx_hash = HexBytes(receipt["transactionHash"])
        reason = f": {revert}" if revert is not None else ""
        raise TransactionFailedError(
            f"transaction 0x{tx_hash.hex()} failed in block {receipt['blockNumber']}{reason}",
            tx_hash=tx_hash,
            receipt=receipt,
            revert=revert,
        )


def send_and_wait(
    chain: Chain,
    account: LocalAccount,
    *,
    to: ChecksumAddress | None,
    data: bytes,
    timeout: float = 120.0,
    client: TxClient | None = None,
) -> TxReceipt:
    """Estimate, sign with ``account``, send and wait; a revert at estimation raises the
    decoded ``ContractRevertError``, a failed receipt ``TransactionFailedError``."""
    tx = client or TxClient(chain)
    request = TxRequest(to=to, data=HexBytes(data))
    gas = tx.gas_limit(request, account.address)
    signed = sign(
        request,
        account,
        nonce=tx.nonce(account.address),
        gas=gas,
        fees=tx.fees(),
        chain_id=tx.chain_id,
    )
    tx.broadcast(signed.raw)
    return tx.check(tx.wait_receipt(signed.hash, timeout))


class RegistryWriter:
    """Every contract write for one account, signed locally, sent, and waited for.

    Each method returns the receipt, or raises ``ContractRevertError`` (decoded, already at
    gas estimation) / ``TransactionFailedError`` / ``ChainUnavailableError``. Calls from
    several threads are serialized so nonces never collide.
    """

    def __init__(
        self, chain: Chain, deployment: Deployment, account: LocalAccount, timeout: float = 120.0
    ) -> None:
        self.chain = chain
        self.deployment = deployment
        self.account = account
        self.timeout = timeout
        self.tx = TxClient(chain, deployment)
        self._lock = threading.Lock()

    @property
    def address(self) -> ChecksumAddress:
        return to_checksum_address(self.account.address)

    def transact(self, op: Operation) -> TxReceipt:
        request = self.tx.prepare(op)
        with self._lock:
            assert request.to is not None
            return send_and_wait(
                self.chain,
                self.account,
                to=request.to,
                data=request.data,
                timeout=self.timeout,
                client=self.tx,
            )

    def call(self, op: Operation) -> Any:
        """Run ``op`` as an eth_call from this account (no transaction): its return value,
        or the decoded revert."""
        contract = contract_of(self.chain, self.deployment, op.contract)
        with translate_errors(f"{op.function}()"):
            return contract.functions[op.function](*op.args).call({"from": self.address})

    # certificates
    def issue(
        self,
        number: str,
        tiers: int,
        valid_from: date | int,
        valid_until: date | int,
        holder_ref: bytes,
        commitment: bytes,
    ) -> TxReceipt:
        return self.transact(
            Ops.issue(number, tiers, valid_from, valid_until, holder_ref, commitment)
        )

    def issue_batch(self, items: Sequence[Issuance]) -> TxReceipt:
        return self.transact(Ops.issue_batch(items))

    def amend(
        self, certificate_id: bytes, tiers: int, holder_ref: bytes, commitment: bytes, reason: int
    ) -> TxReceipt:
        return self.transact(Ops.amend(certificate_id, tiers, holder_ref, commitment, reason))

    def renew(
        self, certificate_id: bytes, valid_until: date | int, reason: int = ReasonCode.REASSESSED
    ) -> TxReceipt:
        return self.transact(Ops.renew(certificate_id, valid_until, reason))

    def suspend(self, certificate_id: bytes, reason: int) -> TxReceipt:
        return self.transact(Ops.suspend(certificate_id, reason))

    def reinstate(self, certificate_id: bytes, reason: int) -> TxReceipt:
        return self.transact(Ops.reinstate(certificate_id, reason))

    def revoke(self, certificate_id: bytes, reason: int) -> TxReceipt:
        return self.transact(Ops.revoke(certificate_id, reason))

    # authorities
    def bootstrap_member(self, code: str, name: str, admin: str) -> TxReceipt:
        return self.transact(Ops.bootstrap_member(code, name, admin))

    def close_bootstrap(self) -> TxReceipt:
        return self.transact(Ops.close_bootstrap())

    def propose_membership(
        self,
        action: MembershipAction,
        code: str,
        name: str = "",
        admin: str = ZERO_ADDRESS,
    ) -> TxReceipt:
        return self.transact(Ops.propose_membership(action, code, name, admin))

    def vote(self, proposal_id: int) -> TxReceipt:
        return self.transact(Ops.vote(proposal_id))

    def add_account(self, account: str, roles: int) -> TxReceipt:
        return self.transact(Ops.add_account(account, roles))

    def remove_account(self, account: str) -> TxReceipt:
        return self.transact(Ops.remove_account(account))

    def register_signing_key(
        self, public_key: bytes, algorithm: int, valid_from: int = 0, kid: bytes | None = None
    ) -> TxReceipt:
        return self.transact(Ops.register_signing_key(public_key, algorithm, valid_from, kid))

    def revoke_signing_key(self, kid: bytes, revoked_at: int = 0) -> TxReceipt:
        return self.transact(Ops.revoke_signing_key(kid, revoked_at))

    # MRAs
    def propose_mra(
        self,
        parties: Sequence[str],
        recognized_tiers: Sequence[int],
        effective_from: date | int,
        ends_on: date | int = 0,
        text_hash: bytes = b"",
    ) -> TxReceipt:
        return self.transact(
            Ops.propose_mra(parties, recognized_tiers, effective_from, ends_on, text_hash)
        )

    def sign_mra(self, mra_id: int) -> TxReceipt:
        return self.transact(Ops.sign_mra(mra_id))

    def suspend_mra(self, mra_id: int) -> TxReceipt:
        return self.transact(Ops.suspend_mra(mra_id))

    def resume_mra(self, mra_id: int) -> TxReceipt:
        return self.transact(Ops.resume_mra(mra_id))

    def terminate_mra(self, mra_id: int) -> TxReceipt:
        return self.transact(Ops.terminate_mra(mra_id))


__all__ = [
    "ZERO_ADDRESS",
    "AccountInfo",
    "Authority",
    "Certificate",
    "ContractName",
    "Fees",
    "Issuance",
    "MembershipProposal",
    "Mra",
    "Operation",
    "Ops",
    "Recognition",
    "RegistryReader",
    "RegistryWriter",
    "SignedTx",
    "SigningKey",
    "TxClient",
    "TxRequest",
    "contract_of",
    "function_abi",
    "recover_sender",
    "send_and_wait",
    "sign",
]
