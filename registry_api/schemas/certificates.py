"""Certificates: request bodies for each lifecycle action, and the read models."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from contracts.domain.record import (
    MAX_ALIASES,
    MAX_TIERS,
    Alias,
    CertificateNumber,
    Code,
    Holder,
    PublicConsent,
    Site,
    Text256,
)

_CERT_ID = "0x6b50a03c95270ae002c4144bf4cdc3cc7c5ad6bfe5fcb662d8419440ae80279d"
_HOLDER_REF = "0x7a6a7ec1c2cce6d4a5515d88faa3db4b54ee70c2ef59c03851af5201b600c8cc"
_COMMITMENT = "0x88427e74b50beec5c50f3b4c1e336de2222ecc5ae489b77173e2c623614b819c"
_TX_HASH = "0x5b7e0c1f9a2d4e6b8c0a1f3e5d7b9c2a4e6f8d0b1c3e5a7f9d2b4c6e8a0f1d3e"

_RECORD_EXAMPLE: JsonDict = {
    "holder": {
        "legal_name": "Tavan Bogd Trade LLC",
        "address": {"street": "Peace Avenue 17", "city": "Ulaanbaatar", "country": "MN"},
        "identification": {"scheme": "TIN", "number": "5012345"},
    },
    "business_roles": ["IM", "EX"],
    "sites": [
        {
            "name": "Zamiin-Uud bonded warehouse",
            "address": {"street": "Railway station road 3", "city": "Zamiin-Uud", "country": "MN"},
        }
    ],
    "tiers": 2,
    "validated_criteria": ["C1", "C2", "C6.2"],
    "issuing_office": "Ulaanbaatar Customs House",
    "officer": "B. Bat-Erdene",
    "valid_from": "2025-01-15",
    "valid_until": "2028-01-14",
    "aliases": [
        {"scheme": "EORI", "value": "DE123456789012345"},
        {"scheme": "NAT:KR-BRN", "value": "1058712345"},
    ],
    "public_consent": {"date": "2025-01-10"},
}


class RecordFields(BaseModel):
    """The certificate record as the issuing office writes it (docs/api.md, canonical form).
    ``tiers`` is the program tier bit set: 1 customs simplifications (AEOC), 2 security and
    safety (AEOS), 4 / 8 / 16 grades A / AA / AAA."""

    model_config = ConfigDict(extra="forbid")

    holder: Holder
    business_roles: list[Code] = Field(min_length=1, examples=[["IM", "EX"]])
    sites: list[Site] = Field(default_factory=list)
    tiers: int = Field(ge=1, le=MAX_TIERS, examples=[2])
    validated_criteria: list[Code] = Field(default_factory=list)
    issuing_office: Text256
    officer: Text256
    valid_from: date
    valid_until: date | None = Field(default=None, description="Inclusive; absent: open-ended.")
    aliases: list[Alias] = Field(
        default_factory=list,
        max_length=MAX_ALIASES,
        description="Identifiers the holder is known under elsewhere: scheme EORI, TIN, BIN, "
        "MID, AEO or a national code NAT:<CC>-<NAME>; values are stored normalised (upper "
        "case, spaces and - . / _ : , ; removed).",
    )
    public_consent: PublicConsent | None = Field(
        default=None,
        description="The day the holder agreed to publication of its name, tiers and validity "
        "in the public lookup; absent or null: no consent.",
    )


class CertificateCreate(RecordFields):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"number": "MN-AEO-2025-0001", **_RECORD_EXAMPLE}]},
    )

    number: CertificateNumber = Field(
        description="1 to 32 of A-Z 0-9 - / . (unique per issuing administration)."
    )


class CertificateAmend(RecordFields):
    """The whole amended record. Validity changes by renewal, not amendment: ``valid_from``
    and ``valid_until`` must equal the certificate's current ones."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                _RECORD_EXAMPLE
                | {"holder": {**_RECORD_EXAMPLE["holder"], "legal_name": "Tavan Bogd Group LLC"}}  # type: ignore[dict-item]
                | {"reason_code": 32}
            ]
        },
    )

    reason_code: int = Field(
        description="32 DATA_CHANGE, 33 TIER_CHANGE, 34 SITES_CHANGE, 35 CORRECTION.",
        examples=[32],
    )


class CertificateRenew(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"valid_until": "2031-01-14", "reason_code": 48}]},
    )

    valid_until: date = Field(description="The new last day of validity (inclusive).")
    reason_code: int = Field(default=48, description="48 REASSESSED.")


class CertificateSuspend(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason_code": 1, "remedy_deadline": "2025-06-30"}]},
    )

    reason_code: int = Field(
        description="1 FAILED_AUDIT, 2 NON_COMPLIANCE, 3 HOLDER_REQUEST, 6 ADMINISTRATIVE_ERROR, "
        "7 INSOLVENCY, 8 SECURITY_BREACH."
    )
    remedy_deadline: date | None = Field(
        default=None, description="The day by which the holder must remedy the findings."
    )


class CertificateReinstate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason_code": 16}]})

    reason_code: int = Field(description="16 REMEDIED, 17 SUSPENDED_IN_ERROR.")


class CertificateRevoke(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason_code": 5}]})

    reason_code: int = Field(
        description="Any suspension reason, or 4 CEASED_TRADING, 5 FRAUD (revocation is final)."
    )


# ---------------------------------------------------------------------- read models


class ReasonPublic(BaseModel):
    code: int
    name: str


class ChainStatePublic(BaseModel):
    """The certificate as the chain holds it, from the last indexed event."""

    certificate_id: str
    status: str
    version: int
    tiers: int
    valid_from: date
    valid_until: date | None
    holder_ref: str
    commitment: str
    block_number: int
    tx_hash: str


class ProofPublic(BaseModel):
    """The stored record, recomputed, against the commitment the chain holds."""

    commitment: str = Field(description="keccak256 of the stored record's canonical bytes.")
    chain_commitment: str | None = Field(description="The commitment the chain holds.")
    holder_ref: str
    chain_holder_ref: str | None
    matches: bool = Field(description="True when both equal the chain's.")
    canonical: str = Field(description="The canonical serialization that was hashed.")


class CertificatePublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "number": "MN-AEO-2025-0001",
                    "issuer": "MN",
                    "record": {"issuer": "MN", "number": "MN-AEO-2025-0001", **_RECORD_EXAMPLE},
                    "status": "suspended",
                    "effective_status": "suspended",
                    "status_reason": {"code": 1, "name": "FAILED_AUDIT"},
                    "remedy_deadline": "2025-06-30",
                    "version": 1,
                    "valid_until": "2028-01-14",
                    "chain": {
                        "certificate_id": _CERT_ID,
                        "status": "suspended",
                        "version": 1,
                        "tiers": 2,
                        "valid_from": "2025-01-15",
                        "valid_until": "2028-01-14",
                        "holder_ref": _HOLDER_REF,
                        "commitment": _COMMITMENT,
                        "block_number": 57,
                        "tx_hash": _TX_HASH,
                    },
                    "proof": {
                        "commitment": _COMMITMENT,
                        "chain_commitment": _COMMITMENT,
                        "holder_ref": _HOLDER_REF,
                        "chain_holder_ref": _HOLDER_REF,
                        "matches": True,
                        "canonical": '{"business_roles":["EX","IM"],...}',
                    },
                    "pending_operations": [],
                    "created_at": "2025-01-15T08:00:00Z",
                    "updated_at": "2025-03-02T09:12:45Z",
                }
            ]
        }
    )

    number: str
    issuer: str
    record: dict[str, Any] = Field(description="The full record (canonical JSON members).")
    status: str = Field(
        description="pending (issue accepted, not yet on-chain), active, suspended, revoked, "
        "failed (the issue operation failed)."
    )
    effective_status: str = Field(
        description="Today: the status, or expired / not_yet_valid for an active certificate."
    )
    status_reason: ReasonPublic | None
    remedy_deadline: date | None
    version: int
    valid_until: date | None = Field(description="The validity on-chain (after renewals).")
    chain: ChainStatePublic | None = Field(description="None until the issue is indexed.")
    proof: ProofPublic
    pending_operations: list[str] = Field(
        description="Ids of accepted operations on this certificate not yet on-chain."
    )
    created_at: datetime
    updated_at: datetime


class CertificateSummary(BaseModel):
    number: str
    holder_legal_name: str
    holder_identification: str = Field(examples=["TIN:5012345"])
    tiers: int
    status: str
    effective_status: str
    valid_from: date
    valid_until: date | None


class CertificatesPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "data": [
                        {
                            "number": "MN-AEO-2025-0001",
                            "holder_legal_name": "Tavan Bogd Trade LLC",
                            "holder_identification": "TIN:5012345",
                            "tiers": 2,
                            "status": "active",
                            "effective_status": "active",
                            "valid_from": "2025-01-15",
                            "valid_until": "2028-01-14",
                        }
                    ],
                    "count": 1,
                }
            ]
        }
    )

    data: list[CertificateSummary]
    count: int = Field(description="How many certificates match, over all pages.")


class HistoryEntry(BaseModel):
    kind: str = Field(description="issued, amended, renewed, suspended, reinstated, revoked.")
    status: str | None = Field(description="The status after the event.")
    reason: ReasonPublic | None
    version: int | None
    valid_until: date | None
    remedy_deadline: date | None
    operator: str = Field(description="The account that sent the transaction.")
    requested_by: str | None = Field(
        description="The user whose API request it was (None: not sent by this service)."
    )
    operation_id: str | None
    tx_hash: str
    block_number: int
    log_index: int
    at: datetime = Field(description="The block's time.")


class HistoryPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "number": "MN-AEO-2025-0001",
                    "data": [
                        {
                            "kind": "suspended",
                            "status": "suspended",
                            "reason": {"code": 1, "name": "FAILED_AUDIT"},
                            "version": 1,
                            "valid_until": "2028-01-14",
                            "remedy_deadline": "2025-06-30",
                            "operator": "0x8f3a6B1c2D4e5F60718293a4B5c6D7e8F9a0B1c2",
                            "requested_by": "b.bat-erdene",
                            "operation_id": "0f8c2a4e-6b1d-4c3e-9a57-2d8e1f0b6c3a",
                            "tx_hash": _TX_HASH,
                            "block_number": 57,
                            "log_index": 0,
                            "at": "2025-03-02T09:12:44Z",
                        }
                    ],
                }
            ]
        }
    )

    number: str
    data: list[HistoryEntry]
