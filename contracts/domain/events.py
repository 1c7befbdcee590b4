"""The registry contracts' events, web3-free: one frozen dataclass per event of
``AeoRegistry`` and ``MraRegistry``.

Fields are the event's parameters in snake_case (``id`` is spelled ``certificate_id``), typed
by meaning: authority codes as ``"MN"`` (:data:`AuthorityCode`), certificate numbers as text
(:data:`CertificateNumber`), addresses checksummed (:data:`Address`), hashes as ``bytes``,
certificate and MRA dates as :data:`~contracts.domain.days.Day`, times as unix seconds, enums
and flags as :mod:`contracts.domain.enums`. Each also carries where it happened (block number,
hash and timestamp, transaction hash, log index, contract address).
:mod:`contracts.logs` decodes chain logs into these classes; a test keeps them in step with
the ABIs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import ClassVar, NewType

from contracts.domain.days import Day
from contracts.domain.enums import (
    AccountRole,
    CertificateStatus,
    KeyAlgorithm,
    MembershipAction,
    ReasonCode,
    Tier,
)

#: a bytes4 authority code as text, ``"MN"`` (a distinct type so decoding tells it from a name)
AuthorityCode = NewType("AuthorityCode", str)
#: a bytes32 certificate number as text, ``"MN-AEO-2025-0001"``
CertificateNumber = NewType("CertificateNumber", str)
#: an account or contract address, checksummed (EIP-55)
Address = NewType("Address", str)


@dataclass(frozen=True, kw_only=True)
class ChainEvent:
    """Where an event happened; every event class adds its own fields."""

    event_name: ClassVar[str]
    block_number: int
    block_hash: bytes
    block_timestamp: int
    tx_hash: bytes
    log_index: int
    address: Address

    @property
    def position(self) -> tuple[int, int]:
        """(block number, log index): the order of events on the chain."""
        return (self.block_number, self.log_index)


# --- AeoRegistry: authorities -------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AuthorityAdmitted(ChainEvent):
    event_name = "AuthorityAdmitted"
    code: AuthorityCode
    name: str
    admin: Address


@dataclass(frozen=True, kw_only=True)
class AuthoritySuspended(ChainEvent):
    event_name = "AuthoritySuspended"
    code: AuthorityCode


@dataclass(frozen=True, kw_only=True)
class AuthorityReinstated(ChainEvent):
    event_name = "AuthorityReinstated"
    code: AuthorityCode


@dataclass(frozen=True, kw_only=True)
class AuthorityRemoved(ChainEvent):
    event_name = "AuthorityRemoved"
    code: AuthorityCode


@dataclass(frozen=True, kw_only=True)
class BootstrapClosed(ChainEvent):
    event_name = "BootstrapClosed"
    member_count: int


@dataclass(frozen=True, kw_only=True)
class AccountAdded(ChainEvent):
    event_name = "AccountAdded"
    authority: AuthorityCode
    account: Address
    roles: AccountRole
    by: Address


@dataclass(frozen=True, kw_only=True)
class AccountRemoved(ChainEvent):
    event_name = "AccountRemoved"
    authority: AuthorityCode
    account: Address
    by: Address


@dataclass(frozen=True, kw_only=True)
class MembershipProposed(ChainEvent):
    event_name = "MembershipProposed"
    proposal_id: int
    action: MembershipAction
    code: AuthorityCode
    proposer: AuthorityCode
    name: str
    admin: Address
    expires_at: int  # unix seconds


@dataclass(frozen=True, kw_only=True)
class MembershipVoted(ChainEvent):
    event_name = "MembershipVoted"
    proposal_id: int
    voter: AuthorityCode
    approvals: int
    required: int


@dataclass(frozen=True, kw_only=True)
class MembershipExecuted(ChainEvent):
    event_name = "MembershipExecuted"
    proposal_id: int
    action: MembershipAction
    code: AuthorityCode


@dataclass(frozen=True, kw_only=True)
class SigningKeyRegistered(ChainEvent):
    event_name = "SigningKeyRegistered"
    kid: bytes
    authority: AuthorityCode
    algorithm: KeyAlgorithm
    public_key: bytes
    valid_from: int  # unix seconds


@dataclass(frozen=True, kw_only=True)
class SigningKeyRevoked(ChainEvent):
    event_name = "SigningKeyRevoked"
    kid: bytes
    authority: AuthorityCode
    revoked_at: int  # unix seconds


# --- AeoRegistry: certificates ------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CertificateIssued(ChainEvent):
    event_name = "CertificateIssued"
    certificate_id: bytes
    issuer: AuthorityCode
    number: CertificateNumber
    tiers: Tier
    valid_from: Day
    valid_until: Day
    holder_ref: bytes
    commitment: bytes
    operator: Address


@dataclass(frozen=True, kw_only=True)
class CertificateAmended(ChainEvent):
    event_name = "CertificateAmended"
    certificate_id: bytes
    issuer: AuthorityCode
    version: int
    tiers: Tier
    holder_ref: bytes
    commitment: bytes
    reason: ReasonCode
    operator: Address


@dataclass(frozen=True, kw_only=True)
class CertificateRenewed(ChainEvent):
    event_name = "CertificateRenewed"
    certificate_id: bytes
    issuer: AuthorityCode
    valid_until: Day
    reason: ReasonCode
    operator: Address


@dataclass(frozen=True, kw_only=True)
class CertificateStatusChanged(ChainEvent):
    event_name = "CertificateStatusChanged"
    certificate_id: bytes
    issuer: AuthorityCode
    status: CertificateStatus
    reason: ReasonCode
    operator: Address


# --- MraRegistry --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class MraProposed(ChainEvent):
    event_name = "MraProposed"
    mra_id: int
    party: AuthorityCode
    parties: tuple[AuthorityCode, ...]
    recognized_tiers: tuple[Tier, ...]
    effective_from: Day
    ends_on: Day
    text_hash: bytes
    operator: Address


@dataclass(frozen=True, kw_only=True)
class MraSigned(ChainEvent):
    event_name = "MraSigned"
    mra_id: int
    party: AuthorityCode
    operator: Address


@dataclass(frozen=True, kw_only=True)
class MraInForce(ChainEvent):
    event_name = "MraInForce"
    mra_id: int
    party: AuthorityCode
    effective_from: Day
    operator: Address


@dataclass(frozen=True, kw_only=True)
class MraSuspended(ChainEvent):
    event_name = "MraSuspended"
    mra_id: int
    party: AuthorityCode
    operator: Address


@dataclass(frozen=True, kw_only=True)
class MraResumed(ChainEvent):
    event_name = "MraResumed"
    mra_id: int
    party: AuthorityCode
    operator: Address


@dataclass(frozen=True, kw_only=True)
class MraTerminated(ChainEvent):
    event_name = "MraTerminated"
    mra_id: int
    party: AuthorityCode
    operator: Address


EVENT_CLASSES: dict[str, type[ChainEvent]] = {
    cls.event_name: cls
    for cls in (
        AuthorityAdmitted,
        AuthoritySuspended,
        AuthorityReinstated,
        AuthorityRemoved,
        BootstrapClosed,
        AccountAdded,
        AccountRemoved,
        MembershipProposed,
        MembershipVoted,
        MembershipExecuted,
        SigningKeyRegistered,
        SigningKeyRevoked,
        CertificateIssued,
        CertificateAmended,
        CertificateRenewed,
        CertificateStatusChanged,
        MraProposed,
        MraSigned,
        MraInForce,
        MraSuspended,
        MraResumed,
        MraTerminated,
    )
}

_META_FIELDS = frozenset(f.name for f in fields(ChainEvent))
_RENAMES = {"id": "certificate_id"}


def field_name(abi_name: str) -> str:
    """The dataclass field for an ABI parameter: ``holderRef`` -> ``holder_ref``."""
    return _RENAMES.get(abi_name, re.sub(r"(?<!^)(?=[A-Z])", "_", abi_name).lower())


def event_fields(cls: type[ChainEvent]) -> list[str]:
    """The event-specific fields of ``cls``, in declaration order."""
    return [f.name for f in fields(cls) if f.name not in _META_FIELDS]
