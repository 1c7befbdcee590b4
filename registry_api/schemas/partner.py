"""What a partner administration reads: ``SharedCertificatePublic`` and
``SharedCertificatesPublic`` (this administration's certificates under an MRA in force)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

_RECORD_EXAMPLE: JsonDict = {
    "issuer": "MN",
    "number": "MN-AEO-2025-0001",
    "holder": {
        "legal_name": "Tavan Bogd Trade LLC",
        "address": {"street": "Peace Avenue 17", "city": "Ulaanbaatar", "country": "MN"},
        "identification": {"scheme": "TIN", "number": "5012345"},
    },
    "business_roles": ["IM"],
    "sites": [],
    "tiers": 2,
    "validated_criteria": [],
    "issuing_office": "Ulaanbaatar Customs House",
    "officer": "B. Bat-Erdene",
    "valid_from": "2025-01-15",
}
_SHARED_EXAMPLE: JsonDict = {
    "number": "MN-AEO-2025-0001",
    "issuer": "MN",
    "certificate_id": "0x6b50a03c95270ae002c4144bf4cdc3cc7c5ad6bfe5fcb662d8419440ae80279d",
    "record": _RECORD_EXAMPLE,
    "status": "active",
    "effective_status": "active",
    "status_reason": None,
    "remedy_deadline": None,
    "version": 1,
    "valid_until": None,
    "commitment": "0x88427e74b50beec5c50f3b4c1e336de2222ecc5ae489b77173e2c623614b819c",
    "proof_matches": True,
    "updated_at": "2025-03-02T09:12:45Z",
}


class SharedCertificatePublic(BaseModel):
    """One of this administration's certificates as a partner under an MRA in force sees it:
    the full record, its status, and whether the record matches the chain's commitment."""

    model_config = ConfigDict(json_schema_extra={"examples": [_SHARED_EXAMPLE]})

    number: str
    issuer: str
    certificate_id: str
    record: dict[str, Any] = Field(description="The full record (canonical JSON members).")
    status: str = Field(description="active, suspended or revoked.")
    effective_status: str = Field(
        description="Today: the status, or expired / not_yet_valid for an active certificate."
    )
    status_reason: int | None = Field(
        description="Reason code of the last suspension or revocation."
    )
    remedy_deadline: date | None
    version: int = Field(description="The on-chain version (1 at issue, +1 per amendment).")
    valid_until: date | None = Field(description="The validity on-chain (after renewals).")
    commitment: str | None = Field(
        description="The commitment the chain holds: keccak256 of the record's canonical form."
    )
    proof_matches: bool = Field(
        description="The record shown hashes to the chain's commitment and holder reference."
    )
    updated_at: datetime


class SharedCertificatesPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"data": [_SHARED_EXAMPLE], "count": 1}]}
    )

    data: list[SharedCertificatePublic]
    count: int = Field(description="How many certificates are shared, over all pages.")
