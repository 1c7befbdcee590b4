"""Contract writes as values: a :class:`ContractCall` (contract, function, ABI arguments) and
one builder function per write of ``AeoRegistry`` and ``MraRegistry``.

The builders take friendly Python values (codes as ``"MN"``, dates as ``date`` or day numbers)
and check their shapes, raising ``ValueError`` naming the field; the contract still decides
the rules. ``ContractCall.to_json`` lets the registry's outbox store a call and
``from_json`` read it back; :mod:`contracts.transactions` turns a call into a signed
transaction and :class:`contracts.writer.RegistryWriter` sends one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, cast

from eth_typing import ABIFunction, ChecksumAddress
from eth_utils.address import is_address, to_checksum_address
from hexbytes import HexBytes

from contracts.artifacts import MRAS, REGISTRY, load_artifact
from contracts.domain import days, ids
from contracts.domain.encoding import jsonable
from contracts.domain.enums import MembershipAction, ReasonCode

if TYPE_CHECKING:
    from web3.contract import Contract

    from contracts.chain import Chain
    from contracts.deploy import Deployment

ZERO_ADDRESS: ChecksumAddress = to_checksum_address("0x" + "00" * 20)

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
class ContractCall:
    """One contract write: which contract, which function, ABI-level arguments."""

    contract: ContractName
    function: str
    args: tuple[Any, ...]

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe form (bytes as 0x-hex) for the outbox to store."""
        return {"contract": self.contract, "function": self.function, "args": jsonable(self.args)}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ContractCall:
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


def fixed_bytes(value: bytes | str, size: int, field: str) -> bytes:
    """``value`` (bytes or hex) as exactly ``size`` bytes; ValueError naming ``field``."""
    raw = bytes(HexBytes(value)) if isinstance(value, str) else bytes(value)
    if len(raw) != size:
        raise ValueError(f"{field} must be {size} bytes; got {len(raw)}")
    return raw


def checked_address(value: str, field: str) -> ChecksumAddress:
    """``value`` as a checksummed address; ValueError naming ``field``."""
    if not isinstance(value, str) or not is_address(value):
        raise ValueError(f"{field} must be a 20-byte hex address; got {value!r}")
    return to_checksum_address(value)


def uint(value: int, bits: int, field: str) -> int:
    """``value`` checked to fit a ``uint<bits>``; ValueError naming ``field``."""
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
            uint(self.tiers, 8, "tiers"),
            days.as_day(self.valid_from, "valid_from"),
            days.as_day(self.valid_until, "valid_until"),
            fixed_bytes(self.holder_ref, 32, "holder_ref"),
            fixed_bytes(self.commitment, 32, "commitment"),
        )


# --- certificates (AeoRegistry) ---------------------------------------------------------------


def issue(
    number: str,
    tiers: int,
    valid_from: date | int,
    valid_until: date | int,
    holder_ref: bytes,
    commitment: bytes,
) -> ContractCall:
    item = Issuance(number, tiers, valid_from, valid_until, holder_ref, commitment)
    return ContractCall("registry", "issue", item.abi())


def issue_batch(items: Sequence[Issuance]) -> ContractCall:
    return ContractCall("registry", "issueBatch", ([item.abi() for item in items],))


def amend(
    certificate_id: bytes, tiers: int, holder_ref: bytes, commitment: bytes, reason: int
) -> ContractCall:
    return ContractCall(
        "registry",
        "amend",
        (
            fixed_bytes(certificate_id, 32, "certificate_id"),
            uint(tiers, 8, "tiers"),
            fixed_bytes(holder_ref, 32, "holder_ref"),
            fixed_bytes(commitment, 32, "commitment"),
            uint(reason, 8, "reason"),
        ),
    )


def renew(
    certificate_id: bytes, valid_until: date | int, reason: int = ReasonCode.REASSESSED
) -> ContractCall:
    return ContractCall(
        "registry",
        "renew",
        (
            fixed_bytes(certificate_id, 32, "certificate_id"),
            days.as_day(valid_until, "valid_until"),
            uint(reason, 8, "reason"),
        ),
    )


def _status_change(function: str, certificate_id: bytes, reason: int) -> ContractCall:
    return ContractCall(
        "registry",
        function,
        (fixed_bytes(certificate_id, 32, "certificate_id"), uint(reason, 8, "reason")),
    )


def suspend(certificate_id: bytes, reason: int) -> ContractCall:
    return _status_change("suspend", certificate_id, reason)


def reinstate(certificate_id: bytes, reason: int) -> ContractCall:
    return _status_change("reinstate", certificate_id, reason)


def revoke(certificate_id: bytes, reason: int) -> ContractCall:
    return _status_change("revoke", certificate_id, reason)


# --- authorities (AeoRegistry) ----------------------------------------------------------------


def bootstrap_member(code: str, name: str, admin: str) -> ContractCall:
    return ContractCall(
        "registry",
        "bootstrapMember",
        (ids.authority_code(code), name, checked_address(admin, "admin")),
    )


def close_bootstrap() -> ContractCall:
    return ContractCall("registry", "closeBootstrap", ())


def propose_membership(
    action: MembershipAction, code: str, name: str = "", admin: str = ZERO_ADDRESS
) -> ContractCall:
    return ContractCall(
        "registry",
        "proposeMembership",
        (
            int(MembershipAction(action)),
            ids.authority_code(code),
            name,
            checked_address(admin, "admin"),
        ),
    )


def vote(proposal_id: int) -> ContractCall:
    return ContractCall("registry", "voteOnMembership", (uint(proposal_id, 256, "proposal_id"),))


def add_account(account: str, roles: int) -> ContractCall:
    return ContractCall(
        "registry", "addAccount", (checked_address(account, "account"), uint(roles, 8, "roles"))
    )


def remove_account(account: str) -> ContractCall:
    return ContractCall("registry", "removeAccount", (checked_address(account, "account"),))


def register_signing_key(
    public_key: bytes,
    algorithm: int,
    valid_from: int = 0,
    kid: bytes | None = None,
) -> ContractCall:
    """``kid`` defaults to ``ids.key_id(public_key)`` (what the contract checks)."""
    key = bytes(public_key)
    return ContractCall(
        "registry",
        "registerSigningKey",
        (
            fixed_bytes(kid, 8, "kid") if kid is not None else ids.key_id(key),
            uint(algorithm, 8, "algorithm"),
            key,
            uint(valid_from, 64, "valid_from"),
        ),
    )


def revoke_signing_key(kid: bytes, revoked_at: int = 0) -> ContractCall:
    return ContractCall(
        "registry",
        "revokeSigningKey",
        (fixed_bytes(kid, 8, "kid"), uint(revoked_at, 64, "revoked_at")),
    )


# --- MRAs (MraRegistry) -----------------------------------------------------------------------


def propose_mra(
    parties: Sequence[str],
    recognized_tiers: Sequence[int],
    effective_from: date | int,
    ends_on: date | int = 0,
    text_hash: bytes = b"",
) -> ContractCall:
    return ContractCall(
        "mras",
        "propose",
        (
            [ids.authority_code(p) for p in parties],
            [uint(t, 8, "recognized_tiers") for t in recognized_tiers],
            days.as_day(effective_from, "effective_from"),
            days.as_day(ends_on, "ends_on"),
            fixed_bytes(text_hash, 32, "text_hash"),
        ),
    )


def _mra(function: str, mra_id: int) -> ContractCall:
    return ContractCall("mras", function, (uint(mra_id, 256, "mra_id"),))


def sign_mra(mra_id: int) -> ContractCall:
    return _mra("sign", mra_id)


def suspend_mra(mra_id: int) -> ContractCall:
    return _mra("suspend", mra_id)


def resume_mra(mra_id: int) -> ContractCall:
    return _mra("resume", mra_id)


def terminate_mra(mra_id: int) -> ContractCall:
    return _mra("terminate", mra_id)
