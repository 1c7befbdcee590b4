"""Bulk import in the console: upload a CSV or JSON list, follow its progress, read and
download the rows that were refused.

The upload goes through :func:`registry_api.services.imports.accept_import` (its format
detection, its limits, its idempotency) under the person's console key; the job runs in the
service's import worker as an API upload does. The progress is a fragment that htmx asks
for once a second and that stops asking when the job is finished.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import Response

from ..auth import Role, require_roles
from ..db import ImportJob, ImportState
from ..deps import SessionDep, SettingsDep
from ..errors import InvalidError, NotFoundError, PayloadTooLargeError
from ..limits import IMPORT_FILE_BYTES, describe_bytes
from ..schemas.imports import ImportJobPublic
from ..services import imports as service
from ..services.import_files import detect_format
from .app import redirect
from .certificates import POLL_SECONDS, chain_banner, field_error
from .csrf import ConsoleRoute
from .deps import SignedInDep, console_of
from .i18n import N_


class UploadRoute(ConsoleRoute):
    """A console route whose request may carry a file: the parsed form (spooled to a
    temporary file) is closed when the request ends, also when the CSRF check refused it
    after reading it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def closing(request: Request) -> Response:
            try:
                return await handler(request)
            finally:
                # Starlette keeps the form it parsed (for the CSRF check, then the route)
                # here and closes it only when asked.
                form = getattr(request, "_form", None)
                if form is not None:
                    await form.close()

        return closing


router = APIRouter(route_class=UploadRoute)

#: the API's roles (``routes/imports.py``)
IMPORT_READERS = require_roles(Role.ISSUING_OFFICER, Role.ADMIN, Role.AUDITOR)
IMPORT_WRITERS = require_roles(Role.ISSUING_OFFICER, Role.ADMIN)

JOBS_SHOWN = 20
ERRORS_SHOWN = 100
#: the errors CSV is written in pages of this many rows (memory stays flat however many)
CSV_PAGE = 500

STATE_LABELS = {
    ImportState.QUEUED: N_("Waiting to start"),
    ImportState.RUNNING: N_("Running"),
    ImportState.COMPLETED: N_("Finished"),
    ImportState.FAILED: N_("Failed"),
}


def _job(db: Session, job_id: str) -> ImportJob:
    try:
        return service.get_job(db, uuid.UUID(job_id))
    except ValueError:
        raise NotFoundError(f"no import with id {job_id!r}") from None


def _finished(job: ImportJob, progress: ImportJobPublic) -> bool:
    """Nothing more will change: the file failed, or every valid row is settled."""
    if job.state is ImportState.FAILED:
        return True
    counts = progress.counts
    return job.state is ImportState.COMPLETED and counts.queued == 0


def _percent(progress: ImportJobPublic) -> int:
    counts = progress.counts
    if counts.total == 0:
        return 100
    done = counts.invalid + counts.skipped + counts.confirmed + counts.failed
    return min(100, round(100 * done / counts.total))


def _list_page(
    request: Request,
    db: Session,
    who: Any,
    errors: list[dict[str, str]],
    status_code: int = 200,
) -> Response:
    jobs, count = service.list_jobs(db, limit=JOBS_SHOWN, offset=0)
    context = {
        "jobs": jobs,
        "count": count,
        "errors": errors,
        "can_import": who.role in IMPORT_WRITERS.roles,
        "STATE_LABELS": STATE_LABELS,
        "max_size": describe_bytes(IMPORT_FILE_BYTES),
        "idempotency_key": str(uuid.uuid4()),
        "chain_down": chain_banner(request),
    }
    return console_of(request).page(request, "imports.html", context, status_code=status_code)


@router.get("/imports", dependencies=[Depends(IMPORT_READERS)])
def imports_page(request: Request, db: SessionDep, who: SignedInDep) -> Response:
    return _list_page(request, db, who, [])


async def _upload(request: Request) -> tuple[bytes, str | None, str | None, str | None, str]:
    """The file, its name, its media type, an explicit format, the form's idempotency key;
    InvalidError naming ``file`` when there is none, PayloadTooLargeError past the limit."""
    form = await request.form(max_files=1, max_fields=8)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise InvalidError("no file", errors=[])
    data = await upload.read(IMPORT_FILE_BYTES + 1)
    if len(data) > IMPORT_FILE_BYTES:
        raise PayloadTooLargeError(f"the file is larger than {describe_bytes(IMPORT_FILE_BYTES)}")
    explicit = form.get("format")
    key = form.get("idempotency_key")
    return (
        data,
        upload.filename,
        upload.content_type,
        explicit if isinstance(explicit, str) and explicit else None,
        key if isinstance(key, str) else "",
    )


@router.post("/imports", dependencies=[Depends(IMPORT_WRITERS)])
async def upload(
    request: Request, db: SessionDep, settings: SettingsDep, who: SignedInDep
) -> Response:
    try:
        data, filename, media, explicit, key = await _upload(request)
    except InvalidError:
        errors = [field_error("file", N_("Choose a CSV or JSON file to import"))]
        return await run_in_threadpool(_list_page, request, db, who, errors, 400)
    except PayloadTooLargeError:
        message = N_("The file is too large; split it into files of at most 20 MiB")
        return await run_in_threadpool(
            _list_page, request, db, who, [field_error("file", message)], 400
        )
    try:
        key = str(uuid.UUID(key))
    except ValueError:
        key = str(uuid.uuid4())

    def accept() -> ImportJob:
        fmt = detect_format(explicit, filename, media)
        job, _created = service.accept_import(db, settings, who.key, key, data, filename, fmt)
        return job

    try:
        job = await run_in_threadpool(accept)
    except InvalidError as exc:
        db.rollback()
        errors = [field_error("file", exc.detail)]
        return await run_in_threadpool(_list_page, request, db, who, errors, 400)
    worker = getattr(request.app.state, "import_worker", None)
    if worker is not None:
        worker.wake()
    root = request.scope.get("root_path", "")
    return redirect(request, f"{root}/imports/{job.id}")


def _progress_context(request: Request, db: Session, job: ImportJob) -> dict[str, Any]:
    progress = service.job_progress(db, job, errors_limit=ERRORS_SHOWN, errors_offset=0)
    return {
        "job": job,
        "progress": progress,
        "finished": _finished(job, progress),
        "percent": _percent(progress),
        "STATE_LABELS": STATE_LABELS,
        "POLL_SECONDS": POLL_SECONDS,
        "ERRORS_SHOWN": ERRORS_SHOWN,
        "chain_down": chain_banner(request),
    }


@router.get("/imports/{job_id}", dependencies=[Depends(IMPORT_READERS)])
def import_page(request: Request, db: SessionDep, job_id: str) -> Response:
    context = _progress_context(request, db, _job(db, job_id))
    return console_of(request).page(request, "import.html", context)


@router.get("/imports/{job_id}/progress", dependencies=[Depends(IMPORT_READERS)])
def import_progress(request: Request, db: SessionDep, job_id: str) -> Response:
    context = _progress_context(request, db, _job(db, job_id))
    return console_of(request).page(request, "import_progress.html", context)


def error_rows(db: Session, job: ImportJob) -> Iterator[list[str]]:
    """Every refused row's messages, one CSV line per message, in the file's order."""
    offset = 0
    while True:
        page = service.job_progress(db, job, errors_limit=CSV_PAGE, errors_offset=offset)
        for entry in page.errors.data:
            for problem in entry.errors:
                yield [
                    str(entry.row),
                    entry.certificate_number or "",
                    problem.field,
                    problem.message,
                ]
        offset += CSV_PAGE
        if offset >= page.errors.count:
            return


def _csv_line(cells: list[str]) -> str:
    buffer = io.StringIO()
    # A cell a spreadsheet would run as a formula is quoted as text.
    safe = ["'" + cell if cell[:1] in {"=", "+", "-", "@"} else cell for cell in cells]
    csv.writer(buffer).writerow(safe)
    return buffer.getvalue()


@router.get("/imports/{job_id}/errors.csv", dependencies=[Depends(IMPORT_READERS)])
def import_errors_csv(db: SessionDep, job_id: str) -> Response:
    job = _job(db, job_id)
    lines = [_csv_line(["row", "certificate_number", "field", "message"])]
    lines.extend(_csv_line(cells) for cells in error_rows(db, job))
    name = f"import-{job.id}-errors.csv"
    return Response(
        "".join(lines),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
