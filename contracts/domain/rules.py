"""The contracts' status and recognition rules, in Python, for sources that hold raw data.

A live chain source can ask the contracts (``statusOf``, ``recognizes``); the offline cache
and the registry's index hold the same data and answer with these functions instead. They
mirror the contracts (docs/contracts.md, ``Certificates._effectiveStatus``,
``MraRegistry.recognizes``); docs/qr-format.md ("Recognition") documents the orders below.

- Effective certificate status: Revoked > Expired > Suspended > NotYetValid > Active
  (Unknown when there is no record). ``valid_until`` is inclusive.
- Effective MRA status: Terminated > Ended > Suspended > Proposed > NotYetInForce > InForce.
- Recognition of certificate C by authority X: unknown certificate, certificate not active,
  own certificate (recognized), issuer not active, then over every MRA having both X and the
  issuer as parties: recognized if any recognizes; otherwise the reason of the closest one,
  closest first: TierNotCovered, MraNotYetInForce, MraSuspended, MraNotSigned, MraEnded,
  MraTerminated (the newest MRA on a tie). No such MRA: NoMra.
- Reason codes per transition: :data:`ALLOWED_REASONS` (``ReasonCodes.sol``'s masks).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from contracts.domain.days import Day
from contracts.domain.enums import (
    AuthorityStatus,
    CertificateStatus,
    EffectiveStatus,
    MraState,
    MraStatus,
    ReasonCode,
    RecognitionReason,
)
from contracts.domain.state import MraRecord

# Closest first: how near an MRA came to recognizing the certificate.
_CLOSENESS: Final = (
    RecognitionReason.TIER_NOT_COVERED,
    RecognitionReason.MRA_NOT_YET_IN_FORCE,
    RecognitionReason.MRA_SUSPENDED,
    RecognitionReason.MRA_NOT_SIGNED,
    RecognitionReason.MRA_ENDED,
    RecognitionReason.MRA_TERMINATED,
)


def effective_status(
    stored: CertificateStatus, valid_from: Day, valid_until: Day, day: Day
) -> EffectiveStatus:
    """The contract's ``statusOf`` at ``day``."""
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


def mra_status(mra: MraRecord, day: Day) -> MraStatus:
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
    day: Day,
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


# ---------------------------------------------------------------- reason codes


class Transition(StrEnum):
    """A certificate transition that takes a reason code (issuing takes none)."""

    AMEND = "amend"
    RENEW = "renew"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    REVOKE = "revoke"


_FINDINGS: Final = frozenset(
    {
        ReasonCode.FAILED_AUDIT,
        ReasonCode.NON_COMPLIANCE,
        ReasonCode.HOLDER_REQUEST,
        ReasonCode.ADMINISTRATIVE_ERROR,
        ReasonCode.INSOLVENCY,
        ReasonCode.SECURITY_BREACH,
    }
)
#: which reason codes each transition takes: the table of docs/reason-codes.md, as
#: contracts/src/ReasonCodes.sol enforces it (fraud and ceased trading are final: they
#: revoke but never suspend)
ALLOWED_REASONS: Final[Mapping[Transition, frozenset[ReasonCode]]] = {
    Transition.SUSPEND: _FINDINGS,
    Transition.REVOKE: _FINDINGS | {ReasonCode.CEASED_TRADING, ReasonCode.FRAUD},
    Transition.REINSTATE: frozenset({ReasonCode.REMEDIED, ReasonCode.SUSPENDED_IN_ERROR}),
    Transition.AMEND: frozenset(
        {
            ReasonCode.DATA_CHANGE,
            ReasonCode.TIER_CHANGE,
            ReasonCode.SITES_CHANGE,
            ReasonCode.CORRECTION,
        }
    ),
    Transition.RENEW: frozenset({ReasonCode.REASSESSED}),
}
