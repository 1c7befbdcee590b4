"""The contracts' status and recognition rules, in Python, for sources that hold raw data.

A live chain source can ask the contracts (``statusOf``, ``recognizes``); the offline cache
holds the same data and answers with these functions instead. They mirror the contracts
(docs/contracts.md, MraRegistry.recognizes); docs/qr-format.md ("Recognition") documents
the orders below.

- Effective certificate status: Revoked > Expired > Suspended > NotYetValid > Active
  (Unknown when there is no record). ``valid_until`` is inclusive.
- Effective MRA status: Terminated > Ended > Suspended > Proposed > NotYetInForce > InForce.
- Recognition of certificate C by authority X: unknown certificate, certificate not active,
  own certificate (recognized), issuer not active, then over every MRA having both X and the
  issuer as parties: recognized if any recognizes; otherwise the reason of the closest one,
  closest first: TierNotCovered, MraNotYetInForce, MraSuspended, MraNotSigned, MraEnded,
  MraTerminated (the newest MRA on a tie). No such MRA: NoMra.

The enums are ``contracts.enums`` (web3-free, so an offline verifier does not import the web3
stack); this module re-exports them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from contracts.enums import (  # re-exported: the verifier's modules import them from here
    AuthorityStatus as AuthorityStatus,
    CertificateStatus as CertificateStatus,
    EffectiveStatus as EffectiveStatus,
    MraState as MraState,
    MraStatus as MraStatus,
    RecognitionReason as RecognitionReason,
)

# Closest first: how near an MRA came to recognizing the certificate.
_CLOSENESS: Final = (
    RecognitionReason.TIER_NOT_COVERED,
    RecognitionReason.MRA_NOT_YET_IN_FORCE,
    RecognitionReason.MRA_SUSPENDED,
    RecognitionReason.MRA_NOT_SIGNED,
    RecognitionReason.MRA_ENDED,
    RecognitionReason.MRA_TERMINATED,
)

# Reason codes of certificate transitions (contracts' ReasonCodes library).
REASON_NAMES: Final[dict[int, str]] = {
    0: "ISSUED",
    1: "FAILED_AUDIT",
    2: "NON_COMPLIANCE",
    3: "HOLDER_REQUEST",
    4: "CEASED_TRADING",
    5: "FRAUD",
    6: "ADMINISTRATIVE_ERROR",
    7: "INSOLVENCY",
    8: "SECURITY_BREACH",
    16: "REMEDIED",
    17: "SUSPENDED_IN_ERROR",
    32: "DATA_CHANGE",
    33: "TIER_CHANGE",
    34: "SITES_CHANGE",
    35: "CORRECTION",
    48: "REASSESSED",
}

# Tier bits: 0 C (customs simplifications), 1 S (security and safety), 2..4 graded levels.
TIER_NAMES: Final[tuple[str, ...]] = ("C", "S", "A", "AA", "AAA")


def reason_name(code: int) -> str:
    return REASON_NAMES.get(code, f"REASON_{code}")


@functools.lru_cache(maxsize=256)
def tier_names(tiers: int) -> tuple[str, ...]:
    """``3`` -> ``("C", "S")``; reserved bits show as ``bit5``..``bit7``.

    Cached: every verdict names its tiers, and a tier set is one byte (256 answers)."""
    names = (*TIER_NAMES, "bit5", "bit6", "bit7")
    return tuple(name for bit, name in enumerate(names) if tiers & (1 << bit))


def effective_status(
    stored: CertificateStatus, valid_from: int, valid_until: int, day: int
) -> EffectiveStatus:
    """The contract's ``statusOf`` at ``day`` (days since epoch)."""
    if stored is CertificateStatus.NONE:
        return EffectiveStatus.UNKNOWN
    if stored is CertificateStatus.REVOKED:
        return EffectiveStatus.REVOKED
    if day > valid_until:
        return EffectiveStatus.EXPIRED
    if stored is CertificateStatus.SUSPENDED:
        return EffectiveStatus.SUSPENDED
    if day < valid_from:
        return EffectiveStatus.NOT_YET_VALID
    return EffectiveStatus.ACTIVE


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
    effective_from: int
    ends_on: int
    """Last day in force, inclusive; 0 = open-ended."""
    text_hash: bytes = b""

    def party(self, authority: str) -> MraParty | None:
        return next((p for p in self.parties if p.authority == authority), None)


def mra_status(mra: MraRecord, day: int) -> MraStatus:
    """The contract's ``mraStatus`` at ``day``."""
    if mra.status is MraState.NONE:
        return MraStatus.UNKNOWN
    if mra.status is MraState.TERMINATED:
        return MraStatus.TERMINATED
    if mra.ends_on and day > mra.ends_on:
        return MraStatus.ENDED
    if mra.status is MraState.SUSPENDED:
        return MraStatus.SUSPENDED
    if mra.status is MraState.PROPOSED:
        return MraStatus.PROPOSED
    if day < mra.effective_from:
        return MraStatus.NOT_YET_IN_FORCE
    return MraStatus.IN_FORCE


_REASON_OF_MRA_STATUS: Final = {
    MraStatus.UNKNOWN: RecognitionReason.NO_MRA,
    MraStatus.PROPOSED: RecognitionReason.MRA_NOT_SIGNED,
    MraStatus.NOT_YET_IN_FORCE: RecognitionReason.MRA_NOT_YET_IN_FORCE,
    MraStatus.SUSPENDED: RecognitionReason.MRA_SUSPENDED,
    MraStatus.TERMINATED: RecognitionReason.MRA_TERMINATED,
    MraStatus.ENDED: RecognitionReason.MRA_ENDED,
}


@dataclass(frozen=True)
class RecognitionAnswer:
    """What ``recognizes(authority, certificateId)`` answers."""

    recognized: bool
    reason: RecognitionReason
    mra_id: int | None = None


def recognize(
    authority: str,
    *,
    issuer: str,
    tiers: int,
    status: EffectiveStatus,
    issuer_status: AuthorityStatus,
    mras: Iterable[MraRecord],
    day: int,
) -> RecognitionAnswer:
    """Does ``authority`` recognize this certificate on ``day``, and if not, why."""
    if status is EffectiveStatus.UNKNOWN:
        return RecognitionAnswer(False, RecognitionReason.UNKNOWN_CERTIFICATE)
    if status is not EffectiveStatus.ACTIVE:
        return RecognitionAnswer(False, RecognitionReason.CERTIFICATE_NOT_ACTIVE)
    if authority == issuer:
        return RecognitionAnswer(True, RecognitionReason.OWN_CERTIFICATE)
    if issuer_status is not AuthorityStatus.ACTIVE:
        return RecognitionAnswer(False, RecognitionReason.ISSUER_NOT_ACTIVE)
    best: tuple[int, int, RecognitionReason] | None = None
    for mra in sorted(mras, key=lambda m: m.mra_id):
        issuer_party = mra.party(issuer)
        if issuer_party is None or mra.party(authority) is None:
            continue
        state = mra_status(mra, day)
        if state is MraStatus.IN_FORCE:
            if tiers & issuer_party.recognized_tiers:
                return RecognitionAnswer(True, RecognitionReason.RECOGNIZED, mra.mra_id)
            reason = RecognitionReason.TIER_NOT_COVERED
        else:
            reason = _REASON_OF_MRA_STATUS[state]
        if reason is RecognitionReason.NO_MRA:
            continue
        # Lower index = closer; on a tie the newer (higher id) MRA is reported.
        candidate = (_CLOSENESS.index(reason), -mra.mra_id, reason)
        if best is None or candidate < best:
            best = candidate
    if best is None:
        return RecognitionAnswer(False, RecognitionReason.NO_MRA)
    return RecognitionAnswer(False, best[2], -best[1])
