"""Bulk loads: upload a CSV or JSON list of existing certificates, then poll the job.

The file comes as a multipart form (field ``file``, what browsers and ``curl -F`` send) or as
the request body itself (``text/csv`` or ``application/json``, what scripts find simplest).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from ..auth import AuthenticatedKey, Role, require_roles
from ..deps import SessionDep, SettingsDep
from ..errors import FieldError, InvalidError, PayloadTooLargeError
from ..limits import IMPORT_FILE_BYTES
from ..middleware import payload_too_large
from ..schemas.imports import ImportJobPublic, ImportJobsPublic
from ..schemas.problems import AUTH_PROBLEMS, problem_responses
from ..services import imports as service
from ..services.import_files import FILE_FIELD, ImportFormat, detect_format
from ..services.imports import ImportWorker
from ..settings import Settings
from .operations import IdempotencyKeyDep

router = APIRouter(prefix="/imports", tags=["bulk import"])

WriterKey = Annotated[AuthenticatedKey, Depends(require_roles(Role.ISSUING_OFFICER, Role.ADMIN))]
ReaderKey = Annotated[
    AuthenticatedKey, Depends(require_roles(Role.ISSUING_OFFICER, Role.ADMIN, Role.AUDITOR))
]
MAX_DB_INT = 2**31 - 1

_UPLOAD_FORMS = {
    "multipart/form-data": "a form with the file in field `file`, optionally `format`",
    "text/csv": "the CSV file itself",
    "application/json": "the JSON file itself",
}
_EXAMPLE_CSV = (
    "number,holder_legal_name,holder_street,holder_city,holder_country,holder_id_scheme,"
    "holder_id_number,business_roles,tiers,issuing_office,officer,valid_from,valid_until\n"
    "MN-AEO-2019-0001,Tavan Bogd Trade LLC,Peace Avenue 17,Ulaanbaatar,MN,TIN,5012345,"
    "IM;EX,AEOF,Ulaanbaatar Customs House,B. Bat-Erdene,2019-05-01,2027-04-30\n"
)
_EXAMPLE_JSON: dict[str, Any] = {
    "certificates": [
        {
            "number": "MN-AEO-2019-0001",
            "holder": {
                "legal_name": "Tavan Bogd Trade LLC",
                "address": {"street": "Peace Avenue 17", "city": "Ulaanbaatar", "country": "MN"},
                "identification": {"scheme": "TIN", "number": "5012345"},
            },
            "business_roles": ["IM", "EX"],
            "tiers": "AEOF",
            "issuing_office": "Ulaanbaatar Customs House",
            "officer": "B. Bat-Erdene",
            "valid_from": "2019-05-01",
            "valid_until": "2027-04-30",
        }
    ]
}
_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "description": "The file, as "
    + "; or ".join(f"{media}: {what}" for media, what in _UPLOAD_FORMS.items())
    + ".",
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "format": {"type": "string", "enum": ["csv", "json"]},
                },
            },
            "example": {"file": "(import.csv)", "format": "csv"},
        },
        "text/csv": {"schema": {"type": "string"}, "example": _EXAMPLE_CSV},
        "application/json": {"schema": {"type": "object"}, "example": _EXAMPLE_JSON},
    },
}


def _wake_import_worker(request: Request) -> None:
    worker: ImportWorker | None = getattr(request.app.state, "import_worker", None)
    if worker is not None:
        worker.wake()


def _too_large() -> PayloadTooLargeError:
    return payload_too_large(IMPORT_FILE_BYTES, FILE_FIELD)


async def _read_body(request: Request) -> bytes:
    # The body limit (BodyLimitMiddleware) stops the stream past IMPORT_BODY_BYTES; the file
    # itself may not take the room left for a form's framing.
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > IMPORT_FILE_BYTES:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass(frozen=True, slots=True)
class _Upload:
    data: bytes
    filename: str | None
    format: ImportFormat


async def _upload(request: Request) -> _Upload:
    """The uploaded file, whichever of the accepted forms the request used."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media in {"text/csv", "application/csv", "application/json"}:
        fmt = detect_format(None, None, media)
        return _Upload(await _read_body(request), None, fmt)
    if media != "multipart/form-data":
        raise InvalidError(
            "send the file as multipart/form-data, text/csv or application/json; got "
            f"{media or 'no Content-Type'}",
            errors=[
                FieldError("header.Content-Type", "must be one of " + ", ".join(_UPLOAD_FORMS))
            ],
        )
    try:
        form = await request.form(max_files=1, max_fields=4)
    except PayloadTooLargeError:
        raise  # the body limit stopped the stream: a 413, not a broken form
    except Exception:  # starlette raises several types for a broken or oversized form
        raise InvalidError(
            "the multipart form cannot be read (one file in field 'file', at most)",
            errors=[FieldError("body", "is not a readable multipart form")],
        ) from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidError(
                "the form has no file in field 'file'",
                errors=[FieldError(FILE_FIELD, "is required (a file)")],
            )
        data = await upload.read(IMPORT_FILE_BYTES + 1)
        if len(data) > IMPORT_FILE_BYTES:
            raise _too_large()
        explicit = form.get("format")
        fmt = detect_format(
            explicit if isinstance(explicit, str) else None, upload.filename, upload.content_type
        )
        return _Upload(data, upload.filename, fmt)
    finally:
        # The form spools the file to a temporary file: close it now, not at collection.
        await form.close()


def _accept(
    session: Session,
    settings: Settings,
    caller: AuthenticatedKey,
    idempotency_key: str,
    upload: _Upload,
) -> ImportJobPublic:
    job, _created = service.accept_import(
        session, settings, caller, idempotency_key, upload.data, upload.filename, upload.format
    )
    return service.job_progress(session, job, errors_limit=50, errors_offset=0)


@router.post(
    "",
    status_code=202,
    summary="Bulk-load certificates from a CSV or JSON file (an asynchronous job)",
    description="Send the file as multipart/form-data (field `file`), or as the body itself "
    'with Content-Type text/csv or application/json; docs/api.md ("Bulk import") lists the '
    "CSV columns and the JSON shape. The answer is the job; poll `GET /v1/imports/{id}`. "
    "The same Idempotency-Key with the same file returns the same job; uploading the same "
    "file again under a new key issues nothing twice.",
    response_model=ImportJobPublic,
    responses=problem_responses(*AUTH_PROBLEMS, 413, 422),
    openapi_extra={"requestBody": _REQUEST_BODY},
)
async def create_import(
    caller: WriterKey,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKeyDep,
    request: Request,
    response: Response,
) -> ImportJobPublic:
    upload = await _upload(request)
    # Database work stays off the event loop.
    job = await run_in_threadpool(_accept, session, settings, caller, idempotency_key, upload)
    _wake_import_worker(request)
    response.headers["Location"] = f"/v1/imports/{job.id}"
    return job


@router.get(
    "",
    summary="Import jobs, newest first",
    response_model=ImportJobsPublic,
    responses=problem_responses(*AUTH_PROBLEMS, 422),
)
def list_imports(
    _caller: ReaderKey,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_DB_INT)] = 0,
) -> ImportJobsPublic:
    jobs, count = service.list_jobs(session, limit=limit, offset=offset)
    return ImportJobsPublic(data=[service.job_summary(session, job) for job in jobs], count=count)


@router.get(
    "/{import_id}",
    summary="An import's progress, its batches and a page of row errors",
    response_model=ImportJobPublic,
    responses=problem_responses(*AUTH_PROBLEMS, 404, 422),
)
def read_import(
    import_id: Annotated[uuid.UUID, Path(description="The id POST /v1/imports answered.")],
    _caller: ReaderKey,
    session: SessionDep,
    errors_limit: Annotated[
        int, Query(ge=1, le=500, description="Rows with errors per page.")
    ] = 50,
    errors_offset: Annotated[int, Query(ge=0, le=MAX_DB_INT)] = 0,
) -> ImportJobPublic:
    job = service.get_job(session, import_id)
    return service.job_progress(
        session, job, errors_limit=errors_limit, errors_offset=errors_offset
    )
