"""The chain's state as the verifier reads it, web3-free: signing keys, certificate slots
with their status history, authorities and MRAs.

A live chain source fills these from contract views and logs, the offline cache from its
SQLite rows, tests and golden vectors from JSON; :mod:`contracts.domain.rules` answers
questions over them exactly as the contracts do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from contracts.domain import ids
from contracts.domain.days import Day
from contracts.domain.enums import AuthorityStatus, CertificateStatus, KeyAlgorithm, MraState


@dataclass(frozen=True)
class SigningKeyRecord:
    """A document-signing key as the trust list publishes it (``getSigningKey``)."""

    kid: bytes
    authority: str
    algorithm: KeyAlgorithm
    public_key: bytes
    valid_from: int
    """Unix time from which signatures are trusted."""
    revoked_at: int = 0
    """Unix time from which signatures are not trusted; 0 = not revoked."""


@dataclass(frozen=True)
class StatusChange:
    status: CertificateStatus
    reason: int
    since: int
    """Unix time of the block that made the change."""


@dataclass(frozen=True)
class CertificateSlot:
    """A certificate's storage slot, plus what events add (history, holder reference)."""

    certificate_id: bytes
    issuer: str
    tiers: int
    status: CertificateStatus
    valid_from: Day
    valid_until: Day
    version: int
    digest: bytes
    history: tuple[StatusChange, ...] = ()
    """Status changes, oldest first (issue, suspend, reinstate, revoke)."""
    holder_ref: bytes | None = None
    """From the issue/amend events when the source has them; the slot does not store it."""
    number: str | None = None

    @property
    def last_change(self) -> StatusChange | None:
        return self.history[-1] if self.history else None


@dataclass(frozen=True)
class AuthorityRecord:
    code: str
    name: str
    status: AuthorityStatus


@dataclass(frozen=True)
class MraParty:
    authority: str
    recognized_tiers: int
    """Which tiers of this party's certificates the other parties recognize."""
    signed: bool


@dataclass(frozen=True)
class MraRecord:
    mra_id: int
    parties: tuple[MraParty, ...]
    status: MraState
    effective_from: Day
    ends_on: Day
    """Last day in force, inclusive; 0 = open-ended."""
    text_hash: bytes = b""

    def party(self, authority: str) -> MraParty | None:
        return next((p for p in self.parties if p.authority == authority), None)


def certificate_slot_for(
    *,
    issuer: str,
    number: str,
    tiers: int,
    valid_from: Day,
    valid_until: Day,
    holder_ref: bytes,
    commitment: bytes,
    issued_at: int,
    version: int = 1,
    history: Iterable[StatusChange] = (),
) -> CertificateSlot:
    """The slot a freshly issued certificate has (tests and demos build state with it)."""
    status_history = (
        StatusChange(CertificateStatus.ACTIVE, 0, issued_at),
        *history,
    )
    return CertificateSlot(
        certificate_id=ids.certificate_id(issuer, number),
        issuer=issuer,
        number=number,
        tiers=tiers,
        status=status_history[-1].status,
        valid_from=valid_from,
        valid_until=valid_until,
        version=version,
        digest=ids.record_digest(holder_ref, commitment),
        history=status_history,
        holder_ref=holder_ref,
    )
