"""The contracts' enums, in Python: one definition for the client, the registry and the verifier.

Each value equals the Solidity enum's (contracts/src/interfaces); a test reads the sources and
compares names and order. This module imports nothing from the web3 stack, so an offline
verifier can use it.
"""

from __future__ import annotations

from enum import IntEnum


class AuthorityStatus(IntEnum):
    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2
    REMOVED = 3


class MembershipAction(IntEnum):
    ADMIT = 0
    SUSPEND = 1
    REINSTATE = 2
    REMOVE = 3


class ProposalStatus(IntEnum):
    NONE = 0
    OPEN = 1
    EXECUTED = 2
    EXPIRED = 3
    STALE = 4


class CertificateStatus(IntEnum):
    """The stored status. NONE means never issued (unknown), never "not revoked"."""

    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2
    REVOKED = 3


class EffectiveStatus(IntEnum):
    """What ``statusOf`` answers: the stored status with the dates applied, precedence
    Revoked > Expired > Suspended > NotYetValid > Active."""

    UNKNOWN = 0
    ACTIVE = 1
    SUSPENDED = 2
    REVOKED = 3
    EXPIRED = 4
    NOT_YET_VALID = 5


class MraState(IntEnum):
    """The stored state of an MRA; SIGNED means every party signed (in force from its date)."""

    NONE = 0
    PROPOSED = 1
    SIGNED = 2
    SUSPENDED = 3
    TERMINATED = 4


class MraStatus(IntEnum):
    """What ``mraStatus`` answers on a given day."""

    UNKNOWN = 0
    PROPOSED = 1
    NOT_YET_IN_FORCE = 2
    IN_FORCE = 3
    SUSPENDED = 4
    TERMINATED = 5
    ENDED = 6


class RecognitionReason(IntEnum):
    """Why ``recognizes`` answered as it did (docs/contracts.md gives the order of checks)."""

    RECOGNIZED = 0
    UNKNOWN_CERTIFICATE = 1
    CERTIFICATE_NOT_ACTIVE = 2
    ISSUER_NOT_ACTIVE = 3
    OWN_CERTIFICATE = 4
    NO_MRA = 5
    MRA_NOT_SIGNED = 6
    MRA_NOT_YET_IN_FORCE = 7
    MRA_SUSPENDED = 8
    MRA_TERMINATED = 9
    MRA_ENDED = 10
    TIER_NOT_COVERED = 11

    @property
    def code(self) -> str:
        """The verdict reason code (docs/qr-format.md)."""
        return self.name.lower()
