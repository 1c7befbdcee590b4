"""The registry contracts' events, web3-free: one frozen dataclass per event of
``AeoRegistry`` and ``MraRegistry``.

Fields are the event's parameters in snake_case (``id`` is spelled ``certificate_id``), typed
by meaning: authority codes as ``"MN"`` (:data:`AuthorityCode`), certificate numbers as text
(:data:`CertificateNumber`), addresses checksummed (:data:`Address`), hashes as ``bytes``,
certificate and MRA dates as :data:`~contracts.domain.days.Day`, times as unix seconds, enums
and flags as :mod:`contracts.domain.enums`. Each also carries where it happened (block number,
hash and timestamp, transaction hash, log index, contract address).
:mod:`contracts.logs` decodes chain logs into these classes; a test keeps them in step with
the ABIs. :func:`event_from_mapping` builds any of them from a plain mapping (JSON fixtures,
tests), coercing each field by its type hint.
"""

from __future__ import annotations

import functools
import operator
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from enum import IntEnum, IntFlag
from typing import Any, ClassVar, NewType

from contracts.domain.days import Day
from contracts.domain.enums import (
    AccountRole,
    CertificateStatus,
    KeyAlgorithm,
    MembershipAction,
    ReasonCode,
    Tier,
)
from contracts.domain.errors import DomainError

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


class InvalidEvent(DomainError, ValueError):
    """A mapping that is not one of the events: an unknown name, a missing field or a value of
    the wrong type. The message names the event and the field."""


def event_from_mapping(data: Mapping[str, Any]) -> ChainEvent:
    """``{"event": "<EventName>", field: value, ...}`` to that event's dataclass.

    Every field, the position fields included, must be present. Byte fields take ``bytes`` or
    hex text (``0x`` optional); enum and flag fields the number or the member's name; text
    fields (codes, numbers, addresses) text; integer fields (days included) integers, not
    ``bool``; tuples any sequence. Raises :class:`InvalidEvent` naming the event and field.
    """
    name = data.get("event")
    cls = EVENT_CLASSES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise InvalidEvent(f"unknown event {name!r}; known: {', '.join(sorted(EVENT_CLASSES))}")
    values: dict[str, Any] = {}
    for field, coerce in _coercions(cls):
        if field not in data:
            raise InvalidEvent(f"{name}: field {field!r} is missing")
        try:
            values[field] = coerce(data[field])
        except (TypeError, ValueError, KeyError) as exc:
            raise InvalidEvent(f"{name}: field {field!r}: {exc}") from exc
    return cls(**values)


_Coercions = tuple[tuple[str, Callable[[Any], Any]], ...]
_COERCIONS: dict[str, _Coercions] = {}


def _coercions(cls: type[ChainEvent]) -> _Coercions:
    found = _COERCIONS.get(cls.event_name)
    if found is None:
        hints = typing.get_type_hints(cls)
        found = tuple((f.name, _coercion(hints[f.name])) for f in fields(cls))
        _COERCIONS[cls.event_name] = found
    return found


def _coercion(hint: Any) -> Callable[[Any], Any]:
    """How one field's value is taken from a mapping, from the field's type hint."""
    # A NewType (AuthorityCode, Address, Day...) is checked as the type it wraps.
    while isinstance(hint, NewType):
        hint = hint.__supertype__
    if typing.get_origin(hint) is tuple:
        item = _coercion(typing.get_args(hint)[0])

        def sequence(value: Any) -> tuple[Any, ...]:
            if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
                raise TypeError(f"expected a list, got {type(value).__name__}")
            return tuple(item(v) for v in value)

        return sequence
    if isinstance(hint, type) and issubclass(hint, IntEnum | IntFlag):
        enum = hint

        def member(value: Any) -> Any:
            if isinstance(value, str):
                # A flag's combined members read "ADMIN|OPERATOR", as Python names them.
                names = value.split("|") if issubclass(enum, IntFlag) else [value]
                return functools.reduce(operator.or_, (enum[name] for name in names))
            return enum(_integer(value))

        return member
    if hint is bytes:
        return _bytes
    if hint is int:
        return _integer
    if hint is str:
        return _text
    raise TypeError(f"no coercion for field type {hint!r}")  # a new field type: add it here


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        return bytes.fromhex(value.removeprefix("0x"))
    raise TypeError(f"expected bytes or hex, got {type(value).__name__}")


def _integer(value: Any) -> int:
    # bool is an int to Python, never to a contract.
    if type(value) is not int and not isinstance(value, IntEnum | IntFlag):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return int(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    return value
