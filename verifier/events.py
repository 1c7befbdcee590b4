"""The chain events the offline cache is filled from, as plain dataclasses.

One class per contract event the verifier needs. Names and fields are the contracts' events
in snake_case (``id`` spelled ``certificate_id``, ``bytes4`` codes as strings like ``"MN"``),
the same as the domain's events (``contracts.domain.events``), so the cache takes
those as they are: it reads events by class name and field name (see
:meth:`verifier.offline.OfflineCache.apply_events`). Every event carries where it happened
(``block_number``, ``log_index``) and the block's time (``block_timestamp``, unix seconds),
which dates status changes. :func:`event_from_mapping` also accepts
``{"event": "CertificateIssued", ...}`` dicts with hex strings for byte fields.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contracts.domain.enums import CertificateStatus, KeyAlgorithm
from verifier.errors import CacheError


@dataclass(frozen=True, kw_only=True)
class ChainEvent:
    block_number: int
    log_index: int
    block_timestamp: int
    """Unix seconds."""


@dataclass(frozen=True)
class AuthorityAdmitted(ChainEvent):
    code: str
    name: str


@dataclass(frozen=True)
class AuthoritySuspended(ChainEvent):
    code: str


@dataclass(frozen=True)
class AuthorityReinstated(ChainEvent):
    code: str


@dataclass(frozen=True)
class AuthorityRemoved(ChainEvent):
    code: str


@dataclass(frozen=True)
class SigningKeyRegistered(ChainEvent):
    kid: bytes
    authority: str
    algorithm: KeyAlgorithm
    public_key: bytes
    valid_from: int


@dataclass(frozen=True)
class SigningKeyRevoked(ChainEvent):
    kid: bytes
    authority: str
    revoked_at: int


@dataclass(frozen=True)
class CertificateIssued(ChainEvent):
    certificate_id: bytes
    issuer: str
    number: str
    tiers: int
    valid_from: int
    valid_until: int
    holder_ref: bytes
    commitment: bytes


@dataclass(frozen=True)
class CertificateAmended(ChainEvent):
    certificate_id: bytes
    version: int
    tiers: int
    holder_ref: bytes
    commitment: bytes
    reason: int


@dataclass(frozen=True)
class CertificateRenewed(ChainEvent):
    certificate_id: bytes
    valid_until: int
    reason: int


@dataclass(frozen=True)
class CertificateStatusChanged(ChainEvent):
    certificate_id: bytes
    status: CertificateStatus
    reason: int


@dataclass(frozen=True)
class MraProposed(ChainEvent):
    mra_id: int
    parties: tuple[str, ...]
    recognized_tiers: tuple[int, ...]
    effective_from: int
    ends_on: int
    text_hash: bytes
    party: str
    """The proposing party; its signature counts."""


@dataclass(frozen=True)
class MraSigned(ChainEvent):
    mra_id: int
    party: str


@dataclass(frozen=True)
class MraInForce(ChainEvent):
    mra_id: int


@dataclass(frozen=True)
class MraSuspended(ChainEvent):
    mra_id: int
    party: str


@dataclass(frozen=True)
class MraResumed(ChainEvent):
    mra_id: int
    party: str


@dataclass(frozen=True)
class MraTerminated(ChainEvent):
    mra_id: int
    party: str


# Contract events that change nothing a verifier reads (accounts, votes before they execute).
IGNORED_EVENTS = frozenset(
    {
        "AccountAdded",
        "AccountRemoved",
        "BootstrapClosed",
        "MembershipProposed",
        "MembershipVoted",
        "MembershipExecuted",
    }
)

EVENT_TYPES: dict[str, type[ChainEvent]] = {
    cls.__name__: cls
    for cls in (
        AuthorityAdmitted,
        AuthoritySuspended,
        AuthorityReinstated,
        AuthorityRemoved,
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


def event_from_mapping(data: Mapping[str, Any]) -> ChainEvent:
    """``{"event": "<ClassName>", field: value, ...}`` to the event dataclass.

    Byte fields accept ``bytes`` or hex strings (``0x`` optional); enum fields accept the
    number or the member name; sequences become tuples. Raises :class:`CacheError` naming
    the event and field when something does not fit.
    """
    name = data.get("event")
    cls = EVENT_TYPES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise CacheError(f"unknown event {name!r}; known: {', '.join(sorted(EVENT_TYPES))}")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(cls):
        if spec.name not in data:
            raise CacheError(f"{name}: field {spec.name!r} is missing")
        try:
            values[spec.name] = _coerce(hints[spec.name], data[spec.name])
        except (TypeError, ValueError, KeyError) as exc:
            raise CacheError(f"{name}: field {spec.name!r}: {exc}") from exc
    return cls(**values)


def _coerce(hint: Any, value: Any) -> Any:
    if hint is bytes:
        if isinstance(value, bytes | bytearray):
            return bytes(value)
        if isinstance(value, str):
            return bytes.fromhex(value.removeprefix("0x"))
        raise TypeError(f"expected bytes or hex, got {type(value).__name__}")
    if hint in (KeyAlgorithm, CertificateStatus):
        return hint[value] if isinstance(value, str) else hint(value)
    if hint is int:
        if type(value) is not int:
            raise TypeError(f"expected an integer, got {type(value).__name__}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise TypeError(f"expected text, got {type(value).__name__}")
        return value
    if typing.get_origin(hint) is tuple:
        (item,) = {arg for arg in typing.get_args(hint) if arg is not Ellipsis}
        return tuple(_coerce(item, v) for v in value)
    return value
