"""Certificates: the full off-chain record, and its history as indexed from the chain."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from contracts.domain.enums import CertificateStatus
from contracts.domain.record import (
    Address,
    Alias,
    CertificateRecord,
    Holder,
    Identification,
    PublicConsent,
    Site,
    normalise_alias_value,
)

from .base import Base, NulSafeString, enum_column, utc_now

#: characters of a holder's legal name (the record allows as many)
HOLDER_NAME_LENGTH = 512

#: the columns a record is rebuilt from (:func:`record_from_columns`)
RECORD_COLUMNS = (
    "issuer",
    "number",
    "holder_legal_name",
    "holder_address",
    "holder_id_scheme",
    "holder_id_number",
    "business_roles",
    "sites",
    "tiers",
    "validated_criteria",
    "issuing_office",
    "officer",
    "valid_from",
    "valid_until",
    "aliases",
    "public_consent_date",
)
#: those of them that hold JSON
RECORD_JSON_COLUMNS = frozenset(
    {"holder_address", "business_roles", "sites", "validated_criteria", "aliases"}
)


def record_from_columns(values: Mapping[str, Any]) -> CertificateRecord:
    """The record held by the :data:`RECORD_COLUMNS` of a certificate row (JSON decoded)."""
    return CertificateRecord(
        issuer=values["issuer"],
        number=values["number"],
        holder=Holder(
            legal_name=values["holder_legal_name"],
            address=Address.model_validate(values["holder_address"]),
            identification=Identification(
                scheme=values["holder_id_scheme"], number=values["holder_id_number"]
            ),
        ),
        business_roles=list(values["business_roles"]),
        sites=[Site.model_validate(site) for site in values["sites"]],
        tiers=values["tiers"],
        validated_criteria=list(values["validated_criteria"]),
        issuing_office=values["issuing_office"],
        officer=values["officer"],
        valid_from=values["valid_from"],
        valid_until=values["valid_until"],
        aliases=[Alias.model_validate(alias) for alias in values["aliases"] or ()],
        public_consent=(
            PublicConsent(date=values["public_consent_date"])
            if values["public_consent_date"] is not None
            else None
        ),
    )


def lookup_keys(record: CertificateRecord) -> set[tuple[str, str]]:
    """The (scheme, normalised value) pairs a record is found by: its aliases and the holder's
    own identification (normalised the same way when it can be, so v1 records are found by
    it too)."""
    keys = {(alias.scheme, alias.value) for alias in record.aliases}
    ident = record.holder.identification
    try:
        value = normalise_alias_value(ident.number)
    except ValueError:
        # An identification with characters no alias may hold is found by its number only.
        return keys
    assert isinstance(value, str)
    keys.add((ident.scheme.upper(), value))
    return keys


class LocalStatus(StrEnum):
    """The status of this administration's copy of a certificate.

    ``pending`` means the issuing operation is accepted but not yet confirmed on-chain;
    ``failed`` that it never will be. The other values mirror the chain (expiry is not a
    stored status: it follows from ``valid_until`` and the date).
    """

    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    FAILED = "failed"

    @classmethod
    def of_chain(cls, status: CertificateStatus) -> LocalStatus:
        """The stored form of a status the contract holds (``NONE`` has none)."""
        return cls[status.name]

    @property
    def on_chain(self) -> CertificateStatus | None:
        """The contract's status this one mirrors; None for a copy not (yet) on-chain."""
        if self in (LocalStatus.PENDING, LocalStatus.FAILED):
            return None
        return CertificateStatus[self.name]


class Certificate(Base):
    """One certificate this administration issued, with every field of its record.

    The columns hold exactly what :class:`contracts.domain.record.CertificateRecord` needs,
    so the record (and so the on-chain commitment) can be rebuilt from the row.
    """

    __tablename__ = "certificates"
    __table_args__ = (
        sa.Index(None, "holder_id_scheme", "holder_id_number"),
        sa.Index(None, "valid_from", "valid_until"),
        # the console's search by status, paged by number (migration 0007)
        sa.Index(None, "status", "number"),
        # expiry windows (migration 0009)
        sa.Index("ix_certificates_valid_until", "valid_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: keccak256(issuer bytes4 ++ number bytes32), see contracts.domain.ids.certificate_id
    certificate_id: Mapped[bytes] = mapped_column(sa.LargeBinary(32), unique=True)
    issuer: Mapped[str] = mapped_column(NulSafeString(4))
    number: Mapped[str] = mapped_column(NulSafeString(32), unique=True)

    holder_legal_name: Mapped[str] = mapped_column(NulSafeString(HOLDER_NAME_LENGTH))
    #: casefolded legal name, for case-insensitive search without a functional index
    holder_name_folded: Mapped[str] = mapped_column(NulSafeString(HOLDER_NAME_LENGTH), index=True)
    holder_address: Mapped[dict[str, Any]] = mapped_column()
    holder_id_scheme: Mapped[str] = mapped_column(NulSafeString(16))
    holder_id_number: Mapped[str] = mapped_column(NulSafeString(64))
    business_roles: Mapped[list[Any]] = mapped_column()
    sites: Mapped[list[Any]] = mapped_column()
    tiers: Mapped[int] = mapped_column(index=True)
    validated_criteria: Mapped[list[Any]] = mapped_column()
    issuing_office: Mapped[str] = mapped_column(NulSafeString(256))
    officer: Mapped[str] = mapped_column(NulSafeString(256))
    valid_from: Mapped[date] = mapped_column()
    valid_until: Mapped[date | None] = mapped_column()
    #: the record's identifier aliases (record version 2), as the record holds them; NULL
    #: (no aliases) in rows written by bulk inserts that name only the version 1 columns
    aliases: Mapped[list[Any] | None] = mapped_column()
    #: the day the holder consented to publication (None: no consent)
    public_consent_date: Mapped[date | None] = mapped_column()

    #: the lookup rows of :func:`lookup_keys`, kept equal to the record by apply_record
    alias_rows: Mapped[list[CertificateAlias]] = relationship(
        cascade="all, delete-orphan", lazy="select"
    )

    status: Mapped[LocalStatus] = mapped_column(enum_column(LocalStatus), index=True)
    #: reason code of the last suspension or revocation (the contracts' table)
    status_reason: Mapped[int | None] = mapped_column()
    remedy_deadline: Mapped[date | None] = mapped_column()
    #: the on-chain version counter (1 at issue, +1 per amendment)
    version: Mapped[int] = mapped_column(default=1)

    holder_ref: Mapped[bytes] = mapped_column(sa.LargeBinary(32), index=True)
    commitment: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    digest: Mapped[bytes] = mapped_column(sa.LargeBinary(20))

    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)

    @classmethod
    def from_record(
        cls, record: CertificateRecord, status: LocalStatus = LocalStatus.PENDING
    ) -> Certificate:
        certificate = cls(status=status, version=1)
        certificate.apply_record(record)
        return certificate

    def apply_record(self, record: CertificateRecord) -> None:
        """Store ``record`` in the columns, with the hashes derived from it."""
        hashes = record.hashes()
        holder = record.holder
        self.certificate_id = hashes.certificate_id
        self.issuer = record.issuer
        self.number = record.number
        self.holder_legal_name = holder.legal_name
        # Case folding can lengthen a name (ß -> ss): keep what fits the column, far more
        # than anyone types into a search.
        self.holder_name_folded = holder.legal_name.casefold()[:HOLDER_NAME_LENGTH]
        self.holder_address = holder.address.model_dump(mode="json", exclude_none=True)
        self.holder_id_scheme = holder.identification.scheme
        self.holder_id_number = holder.identification.number
        self.business_roles = list(record.business_roles)
        self.sites = [site.model_dump(mode="json", exclude_none=True) for site in record.sites]
        self.tiers = record.tiers
        self.validated_criteria = list(record.validated_criteria)
        self.issuing_office = record.issuing_office
        self.officer = record.officer
        self.valid_from = record.valid_from
        self.valid_until = record.valid_until
        self.aliases = [alias.model_dump(mode="json") for alias in record.aliases]
        self.public_consent_date = (
            record.public_consent.date if record.public_consent is not None else None
        )
        self._sync_alias_rows(record)
        self.holder_ref = hashes.holder_ref
        self.commitment = hashes.commitment
        self.digest = hashes.digest

    def _sync_alias_rows(self, record: CertificateRecord) -> None:
        # Rows that stay are kept, not deleted and inserted again: the unit of work inserts
        # before it deletes, which a re-added (scheme, value) would collide with.
        wanted = lookup_keys(record)
        kept = [row for row in self.alias_rows if (row.scheme, row.value) in wanted]
        held = {(row.scheme, row.value) for row in kept}
        self.alias_rows = kept + [
            CertificateAlias(scheme=scheme, value=value) for scheme, value in sorted(wanted - held)
        ]

    def to_record(self) -> CertificateRecord:
        """The record as stored; its commitment equals ``self.commitment`` unless the row
        was altered behind the service's back (which is what the comparison detects)."""
        return record_from_columns({name: getattr(self, name) for name in RECORD_COLUMNS})


class CertificateAlias(Base):
    """One (scheme, normalised value) a certificate of this administration is found by: an
    alias of its record or the holder's identification (:func:`lookup_keys`). Several
    certificates may share one (a holder's revoked certificate and its new one)."""

    __tablename__ = "certificate_aliases"
    __table_args__ = (
        sa.UniqueConstraint("certificate_id", "scheme", "value"),
        sa.Index(None, "scheme", "value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[bytes] = mapped_column(
        sa.LargeBinary(32), sa.ForeignKey("certificates.certificate_id", ondelete="CASCADE")
    )
    #: an alias scheme (records.ALIAS_SCHEMES, NAT:<CC>-<NAME>) or an identification scheme
    scheme: Mapped[str] = mapped_column(NulSafeString(24))
    #: records.normalise_alias_value of the identifier
    value: Mapped[str] = mapped_column(NulSafeString(64))


class CertificateEvent(Base):
    """One certificate event read from the chain by the indexer (any issuer's).

    ``(tx_hash, log_index)`` identifies a log, so re-indexing a block range is harmless.
    """

    __tablename__ = "certificate_events"
    __table_args__ = (
        sa.UniqueConstraint("tx_hash", "log_index"),
        sa.Index(None, "block_number", "log_index"),
        # a certificate's events in chain order; an issuer's, per certificate (migration 0009)
        sa.Index(
            "ix_certificate_events_certificate_order", "certificate_id", "block_number", "log_index"
        ),
        sa.Index(
            "ix_certificate_events_issuer_certificate",
            "issuer",
            "certificate_id",
            "block_number",
            "log_index",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[bytes] = mapped_column(sa.LargeBinary(32), index=True)
    issuer: Mapped[str] = mapped_column(NulSafeString(4), index=True)
    #: known when the event (or this database) names it
    number: Mapped[str | None] = mapped_column(NulSafeString(32), index=True)
    #: issued, amended, renewed, suspended, reinstated, revoked, ...
    kind: Mapped[str] = mapped_column(NulSafeString(24))
    #: the certificate's status after the event
    status: Mapped[str | None] = mapped_column(NulSafeString(16))
    reason_code: Mapped[int | None] = mapped_column()
    operator: Mapped[str] = mapped_column(NulSafeString(42))
    version: Mapped[int | None] = mapped_column()
    commitment: Mapped[bytes | None] = mapped_column(sa.LargeBinary(32))
    #: every decoded event argument, for what the columns above do not cover
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tx_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    block_number: Mapped[int] = mapped_column(sa.BigInteger)
    block_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    log_index: Mapped[int] = mapped_column()
    block_time: Mapped[datetime] = mapped_column()
    indexed_at: Mapped[datetime] = mapped_column(default=utc_now)
