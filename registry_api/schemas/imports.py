"""Bulk-load jobs: ``ImportJobPublic`` (progress, errors page), ``ImportJobsPublic``."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from ..db import ImportState, OperationState
from .problems import FieldProblem

_COUNTS: JsonDict = {
    "total": 120,
    "valid": 118,
    "invalid": 2,
    "skipped": 0,
    "queued": 18,
    "confirmed": 100,
    "failed": 0,
}
_SUMMARY: JsonDict = {
    "id": "6a0d3c1e-8f2b-4d7a-9e5c-1b3f7a9d2c4e",
    "state": "running",
    "format": "csv",
    "filename": "aeo-list-2025.csv",
    "file_sha256": "9f2c" + "0" * 60,
    "created_at": "2025-03-02T09:12:40Z",
    "updated_at": "2025-03-02T09:12:45Z",
    "finished_at": None,
    "error": None,
    "counts": _COUNTS,
}
_ROW_ERRORS: JsonDict = {
    "row": 7,
    "certificate_number": "MN-AEO-2019-0007",
    "errors": [{"field": "valid_until", "message": "must be on or after valid_from"}],
}


class ImportCounts(BaseModel):
    """Rows by where they are. ``valid`` = ``skipped`` + ``queued`` + ``confirmed`` +
    ``failed`` once the file is validated."""

    total: int = Field(description="Rows in the file.")
    valid: int = Field(description="Rows that passed validation (0 until the job validated).")
    invalid: int = Field(description="Rows refused by validation (see errors).")
    skipped: int = Field(
        description="Valid rows whose certificate number this registry already holds "
        "(issued, or pending from an earlier run): nothing is issued twice."
    )
    queued: int = Field(description="Valid rows waiting for their batch transaction.")
    confirmed: int = Field(description="Rows issued on-chain (their batch is confirmed).")
    failed: int = Field(description="Rows whose batch transaction failed (see errors).")


class ImportOperation(BaseModel):
    id: uuid.UUID = Field(description="An issue_batch operation (GET /v1/operations/{id}).")
    state: OperationState
    rows: int = Field(description="Certificates it issues.")


class ImportRowErrors(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_ROW_ERRORS]})

    row: int = Field(
        description="1-based: CSV row 1 is the line after the header; JSON row 1 is the "
        "list's first element."
    )
    certificate_number: str | None
    errors: list[FieldProblem] = Field(
        description="Each field at fault, named as the file names it (a CSV column, or a "
        "JSON path such as holder.address.country); 'row' for the row as a whole."
    )


class ImportErrorsPage(BaseModel):
    data: list[ImportRowErrors]
    count: int = Field(description="Rows with errors, over all pages.")
    limit: int
    offset: int


class ImportJobSummary(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_SUMMARY]})

    id: uuid.UUID
    state: ImportState = Field(
        description="queued -> running (validating, then issuing) -> completed; failed when "
        "the file itself could not be read."
    )
    format: str
    filename: str | None
    file_sha256: str = Field(description="SHA-256 of the uploaded file (hex).")
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    error: str | None = Field(description="Why a failed job failed.")
    counts: ImportCounts


class ImportJobPublic(ImportJobSummary):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                _SUMMARY
                | {
                    "operations": [
                        {
                            "id": "0f8c2a4e-6b1d-4c3e-9a57-2d8e1f0b6c3a",
                            "state": "confirmed",
                            "rows": 100,
                        }
                    ],
                    "errors": {"data": [_ROW_ERRORS], "count": 2, "limit": 50, "offset": 0},
                }
            ]
        }
    )

    operations: list[ImportOperation] = Field(description="The batch issuances, in order.")
    errors: ImportErrorsPage


class ImportJobsPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"data": [_SUMMARY], "count": 1}]})

    data: list[ImportJobSummary]
    count: int
