"""The partner feed: ``FeedEntryPublic`` (one entry, also a webhook's body and a stream
event's data) and ``FeedPage`` (one cursor page)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from ..db import FeedEntry

_ENTRY_EXAMPLE: JsonDict = {
    "sequence": 42,
    "kind": "certificate.suspended",
    "certificate_id": "0x6b50a03c95270ae002c4144bf4cdc3cc7c5ad6bfe5fcb662d8419440ae80279d",
    "number": "MN-AEO-2025-0001",
    "tiers": 2,
    "block_number": 57,
    "recorded_at": "2025-03-02T09:12:45Z",
    "payload": {
        "event": "CertificateStatusChanged",
        "chain": {
            "block_number": 57,
            "block_hash": "0x9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a9c0b2d4f6e8a1c3e5b7d9f0a2c4e6b8d0f",
            "block_time": "2025-03-02T09:12:44Z",
            "tx_hash": "0x5b7e0c1f9a2d4e6b8c0a1f3e5d7b9c2a4e6f8d0b1c3e5a7f9d2b4c6e8a0f1d3e",
            "log_index": 0,
        },
        "data": {
            "certificate_id": "0x6b50a03c95270ae002c4144bf4cdc3cc7c5ad6bfe5fcb662d8419440ae80279d",
            "issuer": "MN",
            "status": 2,
            "reason": 1,
            "operator": "0x1f9840a85d5aF5bf1D1762F925BDADdC4201F984",
        },
        "certificate": {
            "issuer": "MN",
            "number": "MN-AEO-2025-0001",
            "status": "suspended",
            "version": 1,
            "tiers": 2,
            "valid_from": "2025-01-15",
            "valid_until": "2028-01-14",
        },
    },
}


class FeedEntryPublic(BaseModel):
    """One change, as the indexer recorded it (docs/api.md, "Feed entries")."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ENTRY_EXAMPLE]})

    sequence: int = Field(
        description="The entry's id: strictly increasing, never reused. It is the feed "
        "cursor, the stream's event id and the webhooks' AEO-Event-Id."
    )
    kind: str = Field(description="certificate.suspended, mra.in_force, chain.rewound, ...")
    certificate_id: str | None = Field(description="For certificate entries (0x hex).")
    number: str | None = Field(description="The certificate number, for certificate entries.")
    tiers: int | None = Field(description="The certificate's tiers after the event.")
    block_number: int
    recorded_at: datetime = Field(description="When the indexer recorded the entry.")
    payload: dict[str, Any] = Field(
        description="The event (`event`, `chain`, `data`) and the certificate's or MRA's "
        "state after it (`certificate` or `mra`)."
    )

    @classmethod
    def of(cls, entry: FeedEntry) -> FeedEntryPublic:
        return cls(
            sequence=entry.sequence,
            kind=entry.kind,
            certificate_id="0x" + entry.certificate_id.hex() if entry.certificate_id else None,
            number=entry.number,
            tiers=entry.tiers,
            block_number=entry.block_number,
            recorded_at=entry.created_at,
            payload=entry.payload,
        )


class FeedPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"data": [_ENTRY_EXAMPLE], "next_cursor": 42, "has_more": False}]
        }
    )

    data: list[FeedEntryPublic]
    next_cursor: int = Field(
        description="Pass as `after` for the next page. It moves past entries the caller "
        "may not see, so an empty page still advances it."
    )
    has_more: bool = Field(description="More entries are there now; fetch the next page.")
