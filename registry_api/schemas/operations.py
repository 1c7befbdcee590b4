"""The operation resource: a chain write the API accepted, and how far it got."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from ..db import Operation, OperationState

_EXAMPLE: JsonDict = {
    "id": "0f8c2a4e-6b1d-4c3e-9a57-2d8e1f0b6c3a",
    "kind": "suspend",
    "subject": "MN-AEO-2025-0001",
    "state": "confirmed",
    "error": None,
    "tx_hash": "0x5b7e0c1f9a2d4e6b8c0a1f3e5d7b9c2a4e6f8d0b1c3e5a7f9d2b4c6e8a0f1d3e",
    "block_number": 57,
    "gas_used": 38211,
    "nonce": 12,
    "created_at": "2025-03-02T09:12:40Z",
    "submitted_at": "2025-03-02T09:12:41Z",
    "finished_at": "2025-03-02T09:12:44Z",
}


class OperationPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                _EXAMPLE,
                _EXAMPLE
                | {
                    "kind": "issue",
                    "state": "failed",
                    "error": "CertificateAlreadyExists(id=0x6b50a03c...): the contract "
                    "refused the operation at gas estimation; no transaction was sent",
                    "tx_hash": None,
                    "block_number": None,
                    "gas_used": None,
                    "nonce": None,
                    "submitted_at": None,
                },
            ]
        }
    )

    id: uuid.UUID
    kind: str = Field(description="What the operation does: issue, amend, suspend, ...")
    subject: str | None = Field(description="The certificate number (or other id) it is about.")
    state: OperationState = Field(
        description="pending -> signed -> submitted -> confirmed | failed (see docs/api.md)."
    )
    error: str | None = Field(description="Why a failed operation failed.")
    tx_hash: str | None = Field(description="The transaction, once signed (0x hex).")
    block_number: int | None = Field(description="The block it was mined in.")
    gas_used: int | None
    nonce: int | None
    created_at: datetime
    submitted_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, operation: Operation) -> OperationPublic:
        receipt = (operation.payload or {}).get("receipt") or {}
        gas_used = receipt.get("gas_used")
        return cls(
            id=operation.id,
            kind=operation.kind,
            subject=operation.certificate_number,
            state=operation.state,
            error=operation.error,
            tx_hash="0x" + operation.tx_hash.hex() if operation.tx_hash else None,
            block_number=operation.block_number,
            gas_used=int(gas_used) if gas_used is not None else None,
            nonce=operation.nonce,
            created_at=operation.created_at,
            submitted_at=operation.submitted_at,
            finished_at=operation.finished_at,
        )
