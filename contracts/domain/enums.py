"""The contracts' enums and code tables, in Python: one definition for every part.

The ``IntEnum`` classes named as in the Solidity interfaces (``AuthorityStatus`` ...
``RecognitionReason``) equal the Solidity enums member for member; a test reads the sources
and compares names and order. ``KeyAlgorithm``, ``ReasonCode``, ``AccountRole`` and ``Tier``
are Solidity constants, not enums; a test compares their values with the sources too.
"""

from __future__ import annotations

import functools
from enum import IntEnum, IntFlag
from typing import Final


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


# ---------------------------------------------------------------- document-signing keys


class KeyAlgorithm(IntEnum):
    """A document-signing key's algorithm, numbered as the Authorities contract stores it
    (``SigningKey.algorithm``; 0 is "no such key"). The API and the CLI spell it
    :attr:`label` (``ES256``, ``EdDSA``); the QR's COSE header carries :attr:`cose`."""

    NONE = 0
    ES256 = 1  # a 33-byte compressed P-256 point on-chain
    EDDSA = 2  # a 32-byte Ed25519 key on-chain

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def cose(self) -> int:
        """The COSE algorithm identifier carried in the protected header."""
        if self is KeyAlgorithm.NONE:
            raise ValueError("no signing algorithm has no COSE identifier")
        return _COSE[self]

    @property
    def public_key_length(self) -> int:
        """Bytes of the public key as published on-chain (0 for NONE)."""
        return _PUBLIC_KEY_LENGTHS[self]

    @classmethod
    def from_cose(cls, cose_alg: int) -> KeyAlgorithm:
        for algorithm, value in _COSE.items():
            if value == cose_alg:
                return algorithm
        raise ValueError(f"COSE algorithm {cose_alg} is not ES256 (-7) or EdDSA (-8)")

    @classmethod
    def from_label(cls, label: str) -> KeyAlgorithm:
        """``"ES256"`` or ``"EdDSA"`` (exactly) to the algorithm; ValueError otherwise."""
        for algorithm in SIGNING_ALGORITHMS:
            if algorithm.label == label:
                return algorithm
        raise ValueError(f"signing algorithm must be 'ES256' or 'EdDSA'; got {label!r}")


#: the algorithms a key can sign with (every member but NONE)
SIGNING_ALGORITHMS: Final = (KeyAlgorithm.ES256, KeyAlgorithm.EDDSA)
_LABELS: Final = {
    KeyAlgorithm.NONE: "none",
    KeyAlgorithm.ES256: "ES256",
    KeyAlgorithm.EDDSA: "EdDSA",
}
_COSE: Final = {KeyAlgorithm.ES256: -7, KeyAlgorithm.EDDSA: -8}
_PUBLIC_KEY_LENGTHS: Final = {KeyAlgorithm.NONE: 0, KeyAlgorithm.ES256: 33, KeyAlgorithm.EDDSA: 32}


# ---------------------------------------------------------------- accounts


class AccountRole(IntFlag):
    """An account's roles on-chain (Authorities.sol ``ROLE_ADMIN``, ``ROLE_OPERATOR``): ADMIN
    manages accounts, keys and votes; OPERATOR writes certificates and MRAs."""

    ADMIN = 1
    OPERATOR = 2


# ---------------------------------------------------------------- tiers


class Tier(IntFlag):
    """Certificate tier bits (contracts/src/Tiers.sol); bits 5..7 are reserved."""

    CUSTOMS_SIMPLIFICATIONS = 1 << 0  # C (EU AEOC)
    SECURITY_SAFETY = 1 << 1  # S (EU AEOS); AEOF = C | S
    GRADE_A = 1 << 2
    GRADE_AA = 1 << 3
    GRADE_AAA = 1 << 4


#: every tier bit defined (a certificate's tiers are a non-empty subset of them)
DEFINED_TIERS: Final = Tier(0b11111)
#: the short name of each tier bit, bit 0 first: C (customs simplifications), S (security and
#: safety), then the graded levels
TIER_NAMES: Final[tuple[str, ...]] = ("C", "S", "A", "AA", "AAA")
# Names people write for tier bits (case-insensitive): the short names, the EU's AEOC, AEOS
# and AEOF (both C and S), and F for AEOF.
_TIER_BY_NAME: Final[dict[str, Tier]] = {
    **{name: Tier(1 << bit) for bit, name in enumerate(TIER_NAMES)},
    "AEOC": Tier.CUSTOMS_SIMPLIFICATIONS,
    "AEOS": Tier.SECURITY_SAFETY,
    "F": Tier.CUSTOMS_SIMPLIFICATIONS | Tier.SECURITY_SAFETY,
    "AEOF": Tier.CUSTOMS_SIMPLIFICATIONS | Tier.SECURITY_SAFETY,
}


@functools.lru_cache(maxsize=256)
def tier_names(tiers: int) -> tuple[str, ...]:
    """``3`` -> ``("C", "S")``; reserved bits show as ``bit5``..``bit7``.

    Cached: every verdict names its tiers, and a tier set is one byte (256 answers)."""
    names = (*TIER_NAMES, "bit5", "bit6", "bit7")
    return tuple(name for bit, name in enumerate(names) if tiers & (1 << bit))


def parse_tier_name(name: str) -> Tier | None:
    """``"S"``, ``"aeof"``, ``"AA"`` ... to the tier bits it names; None for no tier name."""
    return _TIER_BY_NAME.get(name.upper())


# ---------------------------------------------------------------- reason codes


class ReasonCode(IntEnum):
    """Reason codes of certificate transitions (contracts/src/ReasonCodes.sol; which
    transition takes which is :data:`contracts.domain.rules.ALLOWED_REASONS`)."""

    FAILED_AUDIT = 1
    NON_COMPLIANCE = 2
    HOLDER_REQUEST = 3
    CEASED_TRADING = 4
    FRAUD = 5
    ADMINISTRATIVE_ERROR = 6
    INSOLVENCY = 7
    SECURITY_BREACH = 8
    REMEDIED = 16
    SUSPENDED_IN_ERROR = 17
    DATA_CHANGE = 32
    TIER_CHANGE = 33
    SITES_CHANGE = 34
    CORRECTION = 35
    REASSESSED = 48


# 0 is the reason a certificate's history gives its issue (the event carries none).
_REASON_NAMES: Final[dict[int, str]] = {0: "ISSUED", **{int(r): r.name for r in ReasonCode}}


def reason_name(code: int) -> str:
    """``1`` -> ``"FAILED_AUDIT"``, ``0`` -> ``"ISSUED"``; a code the contracts do not define
    (they refuse them, so only hand-made data has one) -> ``"REASON_<n>"``."""
    return _REASON_NAMES.get(code, f"REASON_{code}")
