"""MRAs and recognition: ``MraCreate`` in; ``MraPublic``, ``MrasPublic`` and
``RecognitionPublic`` out."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic.config import JsonDict

from contracts.domain import days
from contracts.domain.record import MAX_TIERS, AuthorityCode

#: an MRA has 2 to 8 parties (MraRegistry packs eight in one storage slot)
MIN_PARTIES = 2
MAX_PARTIES = 8
#: the arrangement text may be sent for hashing; longer texts are hashed by the caller
MAX_TEXT_LENGTH = 1_000_000

Hash32 = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{64}$")]

_TEXT_HASH = "0x3e6f21c9242c7978c4b2af0168eddbaf6b243ff4e5a361543761f965f2bd2190"
_KR_CERTIFICATE = "0x45eeed311b2d07a1f7ce1595c250e204c42e2655aa3c1fa5861f12dfc8587e07"
_KZ_CERTIFICATE = "0x943ab1ff44ab64cf79e0524524c54a00e3cb4f172ebcdadaee018a6203022d26"


class MraPartyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    authority: AuthorityCode = Field(description="The party's authority code.", examples=["KR"])
    recognized_tiers: int = Field(
        ge=0,
        le=MAX_TIERS,
        description="Which tiers of this party's certificates the other parties recognize "
        "(tier bit set: 1 C, 2 S, 4 A, 8 AA, 16 AAA; 0 recognizes none of them).",
        examples=[2],
    )


class MraCreate(BaseModel):
    """A proposed arrangement. This administration must be one of the parties; proposing
    counts as its signature."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "parties": [
                        {"authority": "MN", "recognized_tiers": 2},
                        {"authority": "KR", "recognized_tiers": 24},
                    ],
                    "effective_from": "2025-07-01",
                    "text": "Arrangement between the customs administrations of Mongolia and "
                    "the Republic of Korea on the mutual recognition of AEO programmes ...",
                },
                {
                    "parties": [
                        {"authority": "MN", "recognized_tiers": 3},
                        {"authority": "KZ", "recognized_tiers": 2},
                    ],
                    "effective_from": "2025-09-01",
                    "ends_on": "2030-08-31",
                    "text_hash": _TEXT_HASH,
                },
            ]
        },
    )

    parties: list[MraPartyIn] = Field(min_length=MIN_PARTIES, max_length=MAX_PARTIES)
    effective_from: date = Field(description="First day in force once every party signed.")
    ends_on: date | None = Field(
        default=None, description="Last day in force (inclusive); absent for open-ended."
    )
    text_hash: Hash32 | None = Field(
        default=None, description="keccak256 of the arrangement text (0x hex); or send `text`."
    )
    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_LENGTH)] | None = (
        Field(
            default=None,
            description="The arrangement text; the service stores keccak256 of its UTF-8 bytes "
            "(exactly as sent) on-chain. Send this or `text_hash`, not both.",
        )
    )

    @field_validator("parties")
    @classmethod
    def _distinct_parties(cls, parties: list[MraPartyIn]) -> list[MraPartyIn]:
        codes = [party.authority for party in parties]
        duplicates = sorted({code for code in codes if codes.count(code) > 1})
        if duplicates:
            raise ValueError(f"lists {', '.join(duplicates)} more than once")
        return parties

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.text is None) == (self.text_hash is None):
            raise ValueError("send exactly one of text and text_hash")
        days.to_day(self.effective_from)
        if self.ends_on is not None:
            days.to_day(self.ends_on)
            if self.ends_on < self.effective_from:
                raise ValueError("ends_on must not be before effective_from")
        return self


class MraPartyPublic(BaseModel):
    authority: str
    recognized_tiers: int = Field(
        description="The tiers of this party's certificates the others recognize."
    )
    signed: bool
    signed_at: datetime | None = Field(description="The block time of its signature.")


_MRA_EXAMPLE: JsonDict = {
    "id": 1,
    "status": "in_force",
    "state": "in_force",
    "proposer": "MN",
    "effective_from": "2025-07-01",
    "ends_on": None,
    "text_hash": _TEXT_HASH,
    "parties": [
        {
            "authority": "MN",
            "recognized_tiers": 2,
            "signed": True,
            "signed_at": "2025-06-02T08:00:12Z",
        },
        {
            "authority": "KR",
            "recognized_tiers": 24,
            "signed": True,
            "signed_at": "2025-06-20T03:41:09Z",
        },
    ],
    "updated_block": 812,
}


class MraPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_MRA_EXAMPLE]})

    id: int = Field(description="The MRA's on-chain id.")
    status: str = Field(
        description="Effective status today, as the contract's mraStatus computes it: "
        "proposed, not_yet_in_force, in_force, suspended, terminated or ended."
    )
    state: str = Field(
        description="The stored state as indexed: proposed, in_force (every party signed), "
        "suspended or terminated."
    )
    proposer: str
    effective_from: date
    ends_on: date | None
    text_hash: str
    parties: list[MraPartyPublic]
    updated_block: int = Field(description="The block of the last indexed change.")


class MrasPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"data": [_MRA_EXAMPLE], "count": 1}]}
    )

    data: list[MraPublic]
    count: int = Field(description="How many MRAs match, over all pages.")


class RecognitionPublic(BaseModel):
    """Does this administration recognize a certificate today, and if not, why."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "authority": "MN",
                    "issuer": "KR",
                    "number": "KR-AEO-AA-0042",
                    "certificate_id": _KR_CERTIFICATE,
                    "recognized": True,
                    "reason": "recognized",
                    "mra_id": 1,
                    "certificate_status": "active",
                    "tiers": 8,
                    "as_of": "2025-07-15",
                },
                {
                    "authority": "MN",
                    "issuer": "KZ",
                    "number": "KZ-0007",
                    "certificate_id": _KZ_CERTIFICATE,
                    "recognized": False,
                    "reason": "tier_not_covered",
                    "mra_id": 2,
                    "certificate_status": "active",
                    "tiers": 1,
                    "as_of": "2025-07-15",
                },
            ]
        }
    )

    authority: str = Field(description="The administration asking (this registry's).")
    issuer: str
    number: str
    certificate_id: str
    recognized: bool
    reason: str = Field(
        description="recognized, own_certificate, unknown_certificate, certificate_not_active, "
        "issuer_not_active, no_mra, mra_not_signed, mra_not_yet_in_force, mra_suspended, "
        "mra_terminated, mra_ended or tier_not_covered (the contract's RecognitionReason)."
    )
    mra_id: int | None = Field(description="The MRA the answer rests on, when one does.")
    certificate_status: str = Field(
        description="The certificate's effective status: unknown, active, suspended, revoked, "
        "expired or not_yet_valid."
    )
    tiers: int | None = Field(description="The certificate's tier bit set, when known.")
    as_of: date = Field(description="The day the answer is for (UTC).")
