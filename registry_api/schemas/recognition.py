"""Batch recognition: the request (items by number or by identifier) and its answers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.domain.record import AliasScheme, AliasValue, AuthorityCode, CertificateNumber

from ..services.recognition import MAX_BATCH_ITEMS

_MN_CERTIFICATE = "0x6b50a03c95270ae002c4144bf4cdc3cc7c5ad6bfe5fcb662d8419440ae80279d"


class RecognitionItem(BaseModel):
    """One certificate to answer for: ``number`` (with ``issuer`` for another member's
    certificate; officers only), or an identifier ``scheme`` and ``value`` (normalised as
    record aliases are: ``de 1234-5678`` finds ``DE12345678``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"number": "MN-AEO-2025-0001"},
                {"scheme": "EORI", "value": "DE123456789012345"},
                {"issuer": "KZ", "number": "KZ-0007"},
            ]
        },
    )

    number: CertificateNumber | None = None
    issuer: AuthorityCode | None = Field(
        default=None, description="The issuing member of ``number``; absent: this administration."
    )
    scheme: AliasScheme | None = Field(
        default=None, description="EORI, TIN, BIN, MID, AEO or a national code NAT:<CC>-<NAME>."
    )
    value: AliasValue | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        by_number = self.number is not None
        by_identifier = self.scheme is not None or self.value is not None
        if by_number == by_identifier:
            raise ValueError("give either number (and issuer) or scheme and value")
        if by_identifier and (self.scheme is None or self.value is None):
            raise ValueError("an identifier needs both scheme and value")
        if self.issuer is not None and not by_number:
            raise ValueError("issuer goes with number")
        return self


class RecognitionBatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {"number": "MN-AEO-2025-0001"},
                        {"scheme": "EORI", "value": "DE 1234 5678 9012 345"},
                        {"scheme": "TIN", "value": "9999999"},
                    ]
                }
            ]
        },
    )

    items: list[RecognitionItem] = Field(min_length=1, max_length=MAX_BATCH_ITEMS)
    authority: AuthorityCode | None = Field(
        default=None,
        description="Whose recognition to answer. Partner keys: their own administration "
        "(the default; no other). Officers: this administration by default, or any member.",
    )


class RecognitionAsOf(BaseModel):
    block: int = Field(description="The last block the index holds (-1: none yet).")
    indexed_at: datetime | None = Field(description="When the index reached that block.")
    day: date = Field(description="The day (UTC) statuses and MRAs are evaluated on.")


class RecognitionAnswerPublic(BaseModel):
    """The answer to one item. ``found`` false: the certificate is unknown or, to a partner,
    not shared with it; every certificate member is then null."""

    item: dict[str, str] = Field(description="The item asked, normalised.")
    found: bool
    issuer: str | None
    number: str | None
    certificate_id: str | None
    status: str | None = Field(
        description="Effective status: active, suspended, revoked, expired, not_yet_valid."
    )
    tiers: int | None
    valid_from: date | None
    valid_until: date | None = Field(description="Null: open-ended (or not found).")
    recognized: bool
    reason: str = Field(
        description="The verifier's recognition reason code (docs/qr-format.md): recognized, "
        "own_certificate, unknown_certificate, certificate_not_active, issuer_not_active, "
        "no_mra, mra_not_signed, mra_not_yet_in_force, mra_suspended, mra_terminated, "
        "mra_ended, tier_not_covered."
    )
    mra_id: int | None


class RecognitionBatchPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "authority": "KR",
                    "as_of": {
                        "block": 1042,
                        "indexed_at": "2025-07-15T08:30:02Z",
                        "day": "2025-07-15",
                    },
                    "count": 2,
                    "data": [
                        {
                            "item": {"number": "MN-AEO-2025-0001"},
                            "found": True,
                            "issuer": "MN",
                            "number": "MN-AEO-2025-0001",
                            "certificate_id": _MN_CERTIFICATE,
                            "status": "active",
                            "tiers": 2,
                            "valid_from": "2025-01-15",
                            "valid_until": "2028-01-14",
                            "recognized": True,
                            "reason": "recognized",
                            "mra_id": 1,
                        },
                        {
                            "item": {"scheme": "TIN", "value": "9999999"},
                            "found": False,
                            "issuer": None,
                            "number": None,
                            "certificate_id": None,
                            "status": None,
                            "tiers": None,
                            "valid_from": None,
                            "valid_until": None,
                            "recognized": False,
                            "reason": "unknown_certificate",
                            "mra_id": None,
                        },
                    ],
                }
            ]
        }
    )

    authority: str = Field(description="The administration whose recognition is answered.")
    as_of: RecognitionAsOf
    data: list[RecognitionAnswerPublic]
    count: int
