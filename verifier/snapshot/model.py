"""What a snapshot is built from, and what its queries answer.

The builder takes the consortium as an index sees it at one block, in plain values that do not
depend on the registry's database: the members (:class:`~verifier.source.AuthorityRecord`),
their signing keys (:class:`~verifier.source.SigningKeyRecord`), the MRAs
(:class:`~contracts.domain.state.MraRecord`), all three the verifier's own types, and one
:class:`CertificateState` per issued certificate, the one shape this package adds.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from contracts.domain.enums import CertificateStatus


@dataclass(frozen=True, slots=True)
class BlockRef:
    """The chain position a snapshot reflects."""

    number: int
    hash: bytes
    time: int
    """Unix seconds of the block."""


@dataclass(frozen=True, slots=True)
class CertificateState:
    """One issued certificate as the chain holds it at the snapshot's block.

    ``reason`` and ``since`` are those of the last status change (unix seconds); ``renewed``
    says the validity was extended after issuance, so QRs signed before carry an earlier
    ``valid_until`` than the chain's. The builder checks every field and names the one that is
    wrong.
    """

    certificate_id: bytes
    version: int
    digest: bytes
    holder_ref: bytes
    tiers: int
    valid_from: int
    valid_until: int
    status: CertificateStatus = CertificateStatus.ACTIVE
    reason: int = 0
    since: int = 0
    renewed: bool = False


class Membership(StrEnum):
    """How the snapshot knows a certificate id."""

    UNKNOWN = "unknown"
    """No entry: the certificate was not issued as of the snapshot's block."""
    FILTER = "filter"
    """Admitted by the filter: issued, or (with the table's false-positive rate) never issued."""
    LISTED = "listed"
    """In the exception list (suspended, revoked, amended or renewed): known exactly."""


class Binding(StrEnum):
    """How a QR's claims compare with the certificate's current version on the chain."""

    MATCHES = "matches"
    DIFFERS = "differs"
    """Same version, but the digest, holder, tiers or dates differ from the chain's."""
    SUPERSEDED = "superseded"
    """The QR shows an older version than the chain's."""
    NEWER = "newer"
    """The QR shows a newer version than the snapshot knows."""
    UNCHECKED = "unchecked"
    """The certificate is unknown: nothing to compare."""


class CertificateAnswer(NamedTuple):
    """What the snapshot says about one scanned certificate (:meth:`CompactState.status`).

    ``version`` and ``valid_until`` are the chain's as far as the snapshot tells them: the
    listed values for a listed certificate, otherwise version 1 and (when the binding matches)
    the QR's own date. ``false_positive_rate`` is the chance that a never-issued certificate is
    admitted with a matching binding (0 when the answer does not rest on the filter).

    A named tuple rather than a frozen dataclass: it is made once per scan, and a frozen
    dataclass takes several times longer to construct.
    """

    membership: Membership
    binding: Binding
    status: CertificateStatus
    version: int
    valid_until: int | None
    renewed: bool = False
    reason: int = 0
    since: int = 0
    false_positive_rate: float = 0.0

    @property
    def known(self) -> bool:
        return self.membership is not Membership.UNKNOWN
