"""The public lookup: up to 10 certificate numbers or identifiers, and what anyone may learn."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class PublicAnswerPublic(BaseModel):
    """``valid`` / ``not_valid`` with the holder's name, tiers and validity when the holder
    consented to publication; ``unknown`` otherwise (no such certificate, or no consent)."""

    query: str
    result: str = Field(description="valid, not_valid or unknown.")
    holder_name: str | None = None
    tiers: list[str] | None = Field(default=None, description="Tier names: C, S, A, AA, AAA.")
    valid_from: date | None = None
    valid_until: date | None = Field(default=None, description="Null: open-ended.")


class PublicLookupPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "issuer": "MN",
                    "data": [
                        {
                            "query": "MN-AEO-2024-0147",
                            "result": "valid",
                            "holder_name": "Khangai Cashmere Processing LLC",
                            "tiers": ["C", "S"],
                            "valid_from": "2024-10-13",
                            "valid_until": "2027-10-13",
                        },
                        {
                            "query": "EORI:NL000000000000",
                            "result": "unknown",
                            "holder_name": None,
                            "tiers": None,
                            "valid_from": None,
                            "valid_until": None,
                        },
                    ],
                }
            ]
        }
    )

    issuer: str = Field(description="The administration this registry serves.")
    data: list[PublicAnswerPublic]
