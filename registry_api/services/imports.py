"""Bulk-load jobs: accept a file, validate its rows, issue the valid ones in batches.

The flow, each step restartable (a crash resumes where the database says the job is):

1. :func:`accept_import` (the request): checks the file's structure, stores it under
   ``<data dir>/imports/<job id>.<format>`` and records a ``queued`` job with the caller's
   ``Idempotency-Key`` (the same key and file give back the same job).
2. The :class:`ImportRunner` (a worker thread, or ``run_once()`` by hand) validates every
   row in one transaction: one ``import_rows`` row each, ``failed`` with its field errors
   or ``pending``. The job is ``running``.
3. It issues the pending rows in chunks (``chunk_size``, ``AEO_IMPORT_BATCH_SIZE``): per chunk, one
   transaction writes the certificate rows (status ``pending``) and one ``issue_batch``
   outbox operation. A row whose certificate number this registry already holds (issued or
   pending, from this file or any other way) or that the index has seen issued is
   ``skipped``: a re-run of the same file issues nothing twice.
4. Once every batch is confirmed or failed, the job is ``completed`` and the stored file
   is deleted (the rows and certificates are in the database).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from contracts import calls
from contracts.calls import Issuance
from contracts.domain.days import OPEN_ENDED
from contracts.domain.record import CertificateRecord

from ..auth import AuthenticatedKey
from ..db import (
    OPEN_OPERATION_STATES,
    ApiKey,
    Certificate,
    CertificateEvent,
    ImportJob,
    ImportRow,
    ImportState,
    LocalStatus,
    Operation,
    OperationState,
    RowOutcome,
    utc_now,
)
from ..db.certificates import CertificateAlias
from ..errors import FieldError, InvalidError, NotFoundError
from ..outbox import IDEMPOTENCY_FIELD, check_idempotency_key, enqueue, request_fingerprint
from ..schemas.imports import (
    ImportCounts,
    ImportErrorsPage,
    ImportJobPublic,
    ImportJobSummary,
    ImportOperation,
    ImportRowErrors,
)
from ..schemas.problems import FieldProblem
from ..settings import Settings
from .certificates import number_prefix_error, other_member_codes
from .import_files import ImportFormat, RowResult, count_rows, read_rows, validate_row

logger = logging.getLogger("registry_api.imports")

#: certificates per issue_batch transaction: the ``AEO_IMPORT_BATCH_SIZE`` default
DEFAULT_CHUNK_SIZE: int = Settings.model_fields["import_batch_size"].default
MAX_CHUNK_SIZE = 500


# ---------------------------------------------------------------- accepting a file


def import_dir(settings: Settings) -> Path:
    return settings.data_path / "imports"


def stored_file(settings: Settings, job: ImportJob) -> Path:
    return import_dir(settings) / f"{job.id}.{job.format}"


def _write_private(path: Path, data: bytes) -> None:
    # The file holds traders' data: readable by this service's user only.
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def accept_import(
    session: Session,
    settings: Settings,
    caller: AuthenticatedKey,
    idempotency_key: str,
    data: bytes,
    filename: str | None,
    fmt: ImportFormat,
) -> tuple[ImportJob, bool]:
    """Record a job for ``data``; returns it and whether this request created it.

    A file that cannot be read at all (not UTF-8, not CSV/JSON, a wrong header, no rows)
    is refused here with a 422 naming the problem; row-level problems are the job's.
    """
    check_idempotency_key(idempotency_key)
    digest = hashlib.sha256(data).digest()
    existing = _job_for_key(session, caller, idempotency_key, digest)
    if existing is not None:
        return existing, False
    # Reading keeps no row: the request's memory does not grow with what the file holds.
    total_rows = count_rows(data, fmt)
    job = ImportJob(
        id=uuid.uuid4(),
        api_key_id=caller.id,
        idempotency_key=idempotency_key,
        file_sha256=digest,
        filename=filename[-255:] if filename else None,
        format=fmt.value,
        state=ImportState.QUEUED,
        total_rows=total_rows,
    )
    path = stored_file(settings, job)
    _write_private(path, data)
    session.add(job)
    try:
        session.commit()
    except IntegrityError:
        # A concurrent request with the same key won: answer with its job.
        session.rollback()
        path.unlink(missing_ok=True)
        winner = _job_for_key(session, caller, idempotency_key, digest)
        if winner is None:
            raise
        return winner, False
    return job, True


def _job_for_key(
    session: Session, caller: AuthenticatedKey, idempotency_key: str, digest: bytes
) -> ImportJob | None:
    job = session.scalars(
        sa.select(ImportJob).where(
            ImportJob.api_key_id == caller.id, ImportJob.idempotency_key == idempotency_key
        )
    ).one_or_none()
    if job is not None and job.file_sha256 != digest:
        raise InvalidError(
            f"Idempotency-Key {idempotency_key!r} was already used for another file "
            f"(import {job.id}); use a new key for a new import",
            errors=[FieldError(IDEMPOTENCY_FIELD, "already used for a different file")],
            extra={"import_id": str(job.id)},
        )
    return job


# ---------------------------------------------------------------- running jobs


class ImportRunner:
    """Advances import jobs. :meth:`run_once` is one pass over every unfinished job; the
    worker thread (:class:`ImportWorker`) calls it, and so can tests."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        settings: Settings,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        on_enqueued: Callable[[], None] | None = None,
    ) -> None:
        if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
            raise ValueError(f"chunk_size must be 1..{MAX_CHUNK_SIZE}; got {chunk_size}")
        self.session_factory = session_factory
        self.settings = settings
        self.chunk_size = chunk_size
        self.on_enqueued = on_enqueued
        self._lock = threading.Lock()
        #: validated records of running jobs, so each pass need not parse the file again
        self._records: dict[uuid.UUID, dict[int, CertificateRecord]] = {}

    def run_once(self) -> int:
        """Advance every queued or running job; returns how many steps were taken."""
        with self._lock:
            with self.session_factory() as session:
                job_ids = session.scalars(
                    sa.select(ImportJob.id)
                    .where(ImportJob.state.in_((ImportState.QUEUED, ImportState.RUNNING)))
                    .order_by(ImportJob.created_at)
                ).all()
            steps = 0
            for job_id in job_ids:
                try:
                    steps += self._advance(job_id)
                except Exception:
                    # One broken job must not hold up the others; it is retried next pass.
                    logger.exception("import %s: a step failed; retrying next pass", job_id)
            return steps

    def _advance(self, job_id: uuid.UUID) -> int:
        with self.session_factory() as session:
            job = session.get(ImportJob, job_id)
            if job is None:
                return 0
            if job.state is ImportState.QUEUED:
                self._validate(session, job)
                return 1
            steps = self._enqueue_pending(session, job)
            return steps + self._finish_if_done(session, job)

    # step 2: validation

    def _read(self, job: ImportJob) -> list[RowResult] | str:
        """Every row's validation result, or why the file cannot be read."""
        path = stored_file(self.settings, job)
        try:
            data = path.read_bytes()
        except OSError as exc:
            return f"the stored file {path.name} cannot be read: {exc.strerror}"
        fmt = ImportFormat(job.format)
        try:
            # Each row is validated as it is read: only the results are kept.
            return [validate_row(raw, fmt, self.settings.authority) for raw in read_rows(data, fmt)]
        except InvalidError as exc:
            return exc.detail

    def _validate(self, session: Session, job: ImportJob) -> None:
        results = self._read(job)
        if isinstance(results, str):
            self._fail_job(session, job, results)
            return
        first_row_of: dict[str, int] = {}
        records: dict[int, CertificateRecord] = {}
        invalid = 0
        # Checked here, once, not in validate_row: the members change, and a restart reads the
        # file again, which must find the same valid rows.
        others = other_member_codes(session, self.settings.authority)
        for result in results:
            errors = list(result.errors)
            if result.record is not None:
                number = result.record.number
                prefix_error = number_prefix_error(number, others, "number")
                if prefix_error is not None:
                    errors.append(prefix_error)
                if number in first_row_of:
                    errors.append(
                        FieldError("number", f"repeats the number of row {first_row_of[number]}")
                    )
                else:
                    first_row_of[number] = result.row_number
            if errors:
                invalid += 1
            else:
                assert result.record is not None
                records[result.row_number] = result.record
            session.add(
                ImportRow(
                    job_id=job.id,
                    row_number=result.row_number,
                    certificate_number=result.number,
                    outcome=RowOutcome.FAILED if errors else RowOutcome.PENDING,
                    errors=[error.as_dict() for error in errors],
                )
            )
        job.state = ImportState.RUNNING
        job.total_rows = len(results)
        job.processed_rows = len(results)
        job.failed_rows = invalid
        session.commit()
        self._records[job.id] = records
        logger.info(
            "import %s: %s rows, %s valid, %s invalid", job.id, len(results), len(records), invalid
        )

    def _fail_job(self, session: Session, job: ImportJob, reason: str) -> None:
        job.state = ImportState.FAILED
        job.error = reason
        job.finished_at = utc_now()
        session.commit()
        stored_file(self.settings, job).unlink(missing_ok=True)
        logger.warning("import %s failed: %s", job.id, reason)

    # step 3: issuance

    def _records_of(self, job: ImportJob) -> dict[int, CertificateRecord] | str:
        records = self._records.get(job.id)
        if records is None:  # a restart: read the file again (validation is deterministic)
            results = self._read(job)
            if isinstance(results, str):
                return results
            records = {r.row_number: r.record for r in results if r.record is not None}
            self._records[job.id] = records
        return records

    def _enqueue_pending(self, session: Session, job: ImportJob) -> int:
        pending = session.scalars(
            sa.select(ImportRow)
            .where(ImportRow.job_id == job.id, ImportRow.outcome == RowOutcome.PENDING)
            .order_by(ImportRow.row_number)
        ).all()
        if not pending:
            return 0
        records = self._records_of(job)
        if isinstance(records, str):
            self._fail_job(session, job, records)
            return 1
        caller = _caller_of(session, job, self.settings)
        steps = 0
        for start in range(0, len(pending), self.chunk_size):
            numbers = [row.row_number for row in pending[start : start + self.chunk_size]]
            for attempt in range(2):
                try:
                    self._enqueue_chunk(session, job, caller, numbers, records)
                    session.commit()
                    break
                except IntegrityError:
                    # Another writer took one of these numbers meanwhile: the retry skips it.
                    session.rollback()
                    if attempt:
                        raise
            steps += 1
            if self.on_enqueued is not None:
                self.on_enqueued()
        return steps

    def _enqueue_chunk(
        self,
        session: Session,
        job: ImportJob,
        caller: AuthenticatedKey,
        row_numbers: Sequence[int],
        records: dict[int, CertificateRecord],
    ) -> None:
        rows = session.scalars(
            sa.select(ImportRow)
            .where(ImportRow.job_id == job.id, ImportRow.row_number.in_(row_numbers))
            .order_by(ImportRow.row_number)
        ).all()
        chunk = [(row, records[row.row_number]) for row in rows]
        numbers = [record.number for _row, record in chunk]
        held = {
            certificate.number: certificate
            for certificate in session.scalars(
                sa.select(Certificate).where(Certificate.number.in_(numbers))
            ).all()
        }
        seen_on_chain = set(
            session.scalars(
                sa.select(CertificateEvent.number).where(
                    CertificateEvent.issuer == self.settings.authority,
                    CertificateEvent.kind == "issued",
                    CertificateEvent.number.in_(numbers),
                )
            ).all()
        )
        items: list[Issuance] = []
        issuing: list[ImportRow] = []
        new_rows: list[dict[str, Any]] = []
        new_aliases: list[dict[str, Any]] = []
        for row, record in chunk:
            certificate = held.get(record.number)
            if (
                certificate is not None and certificate.status is not LocalStatus.FAILED
            ) or record.number in seen_on_chain:
                row.outcome = RowOutcome.SKIPPED
                continue
            if certificate is None:
                certificate = Certificate.from_record(record)
                new_rows.append(_column_values(certificate))
                new_aliases.extend(
                    {
                        "certificate_id": certificate.certificate_id,
                        "scheme": a.scheme,
                        "value": a.value,
                    }
                    for a in certificate.alias_rows
                )
            else:
                # An earlier issuance of this number failed: this one takes its row over.
                certificate.apply_record(record)
                certificate.status = LocalStatus.PENDING
                certificate.version = 1
                certificate.status_reason = None
                certificate.remedy_deadline = None
            # The row holds the record's hashes already (hashing is most of a row's cost).
            items.append(
                Issuance(
                    number=record.number,
                    tiers=record.tiers,
                    valid_from=record.valid_from,
                    valid_until=record.valid_until or OPEN_ENDED,
                    holder_ref=certificate.holder_ref,
                    commitment=certificate.commitment,
                )
            )
            issuing.append(row)
        if not items:
            return
        if new_rows:
            # One multi-row insert: the unit of work's bookkeeping of 100 new objects cost
            # more than building them.
            session.execute(sa.insert(Certificate), new_rows)
            if new_aliases:
                session.execute(sa.insert(CertificateAlias), new_aliases)
        creates = [item.number for item in items]
        operation = enqueue(
            session,
            key=caller,
            idempotency_key=f"import:{job.id}:{issuing[0].row_number}",
            kind="issue_batch",
            operation=calls.issue_batch(items),
            subject=None,
            request_fingerprint=request_fingerprint("issue_batch", str(job.id), creates),
            details={"creates": creates, "import_job": str(job.id)},
        )
        for row in issuing:
            row.operation_id = operation.id
            row.outcome = RowOutcome.ISSUED

    # step 4: completion

    def _finish_if_done(self, session: Session, job: ImportJob) -> int:
        if job.state is not ImportState.RUNNING:
            return 0
        open_rows = session.scalar(
            sa.select(sa.func.count())
            .select_from(ImportRow)
            .outerjoin(Operation, ImportRow.operation_id == Operation.id)
            .where(
                ImportRow.job_id == job.id,
                sa.or_(
                    ImportRow.outcome == RowOutcome.PENDING,
                    Operation.state.in_(OPEN_OPERATION_STATES),
                ),
            )
        )
        if open_rows:
            return 0
        failed = session.execute(
            sa.select(ImportRow, Operation.error)
            .join(Operation, ImportRow.operation_id == Operation.id)
            .where(ImportRow.job_id == job.id, Operation.state == OperationState.FAILED)
        ).all()
        for row, error in failed:
            row.outcome = RowOutcome.FAILED
            row.errors = [{"field": "row", "message": _chain_failure(error)}]
        counts: dict[RowOutcome, int] = {
            outcome: count
            for outcome, count in session.execute(
                sa.select(ImportRow.outcome, sa.func.count())
                .where(ImportRow.job_id == job.id)
                .group_by(ImportRow.outcome)
            )
        }
        job.issued_rows = counts.get(RowOutcome.ISSUED, 0)
        job.skipped_rows = counts.get(RowOutcome.SKIPPED, 0)
        job.failed_rows = counts.get(RowOutcome.FAILED, 0)
        job.state = ImportState.COMPLETED
        job.finished_at = utc_now()
        session.commit()
        self._records.pop(job.id, None)
        stored_file(self.settings, job).unlink(missing_ok=True)
        logger.info(
            "import %s completed: %s issued, %s skipped, %s failed",
            job.id,
            job.issued_rows,
            job.skipped_rows,
            job.failed_rows,
        )
        return 1


def _column_values(certificate: Certificate) -> dict[str, Any]:
    """The column values set on a new (transient) row, for a bulk insert."""
    return {
        column.key: getattr(certificate, column.key)
        for column in sa.inspect(Certificate).column_attrs
        if column.key in certificate.__dict__
    }


def _chain_failure(error: str | None) -> str:
    return f"its batch transaction failed: {error or 'no reason recorded'}"


def _caller_of(session: Session, job: ImportJob, settings: Settings) -> AuthenticatedKey:
    """The API key that uploaded the file: its batch operations are its writes."""
    key = session.get(ApiKey, job.api_key_id)
    assert key is not None  # a foreign key
    return AuthenticatedKey(
        id=key.id,
        prefix=key.prefix,
        user=key.user.name,
        role=key.role,
        partner_authority=key.partner_authority,
        authority=settings.authority,
    )


class ImportWorker:
    """Runs :meth:`ImportRunner.run_once` in a daemon thread: at once when woken (a file was
    accepted), otherwise every ``interval`` seconds (batches confirm meanwhile)."""

    def __init__(
        self,
        runner: ImportRunner,
        interval: float,
        on_wake: Callable[[], None] | None = None,
    ) -> None:
        self.runner = runner
        self.interval = interval
        #: also called by wake(): the app runs the passes as its workers' ``imports`` job
        self.on_wake = on_wake
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="imports", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        self._wake.set()
        if self.on_wake is not None:
            self.on_wake()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            steps = 0
            try:
                steps = self.runner.run_once()
            except Exception:
                logger.exception("the import worker failed a pass")
            if not steps:
                self._wake.wait(self.interval)
                self._wake.clear()


# ---------------------------------------------------------------- reading progress


def get_job(session: Session, job_id: uuid.UUID) -> ImportJob:
    job = session.get(ImportJob, job_id)
    if job is None:
        raise NotFoundError(f"no import with id {job_id}")
    return job


@dataclass(frozen=True, slots=True)
class _Tally:
    counts: ImportCounts
    operations: list[ImportOperation]


def _tally(session: Session, job: ImportJob) -> _Tally:
    rows = session.execute(
        sa.select(ImportRow.outcome, ImportRow.operation_id, Operation.state, sa.func.count())
        .outerjoin(Operation, ImportRow.operation_id == Operation.id)
        .where(ImportRow.job_id == job.id)
        .group_by(ImportRow.outcome, ImportRow.operation_id, Operation.state)
    ).all()
    invalid = skipped = queued = confirmed = failed = 0
    operations: dict[uuid.UUID, ImportOperation] = {}
    for outcome, operation_id, state, count in rows:
        if operation_id is not None:
            operations[operation_id] = ImportOperation(id=operation_id, state=state, rows=count)
            if state is OperationState.CONFIRMED:
                confirmed += count
            elif state is OperationState.FAILED:
                failed += count
            else:
                queued += count
        elif outcome is RowOutcome.FAILED:
            invalid += count
        elif outcome is RowOutcome.SKIPPED:
            skipped += count
        else:
            queued += count
    validated = job.state is not ImportState.QUEUED
    counts = ImportCounts(
        total=job.total_rows,
        valid=job.total_rows - invalid if validated and job.state is not ImportState.FAILED else 0,
        invalid=invalid,
        skipped=skipped,
        queued=queued,
        confirmed=confirmed,
        failed=failed,
    )
    ordered = session.scalars(
        sa.select(Operation.id)
        .where(Operation.id.in_(list(operations)))
        .order_by(Operation.created_at, Operation.id)
    ).all()
    return _Tally(counts, [operations[op_id] for op_id in ordered])


def job_summary(session: Session, job: ImportJob) -> ImportJobSummary:
    return _summary(job, _tally(session, job).counts)


def _summary(job: ImportJob, counts: ImportCounts) -> ImportJobSummary:
    return ImportJobSummary(
        id=job.id,
        state=job.state,
        format=job.format,
        filename=job.filename,
        file_sha256=job.file_sha256.hex(),
        created_at=job.created_at,
        updated_at=job.updated_at,
        finished_at=job.finished_at,
        error=job.error,
        counts=counts,
    )


def job_progress(
    session: Session, job: ImportJob, *, errors_limit: int, errors_offset: int
) -> ImportJobPublic:
    """The job with its counts, its batches, and one page of row errors."""
    tally = _tally(session, job)
    at_fault = sa.or_(
        ImportRow.outcome == RowOutcome.FAILED, Operation.state == OperationState.FAILED
    )
    base = (
        sa.select(ImportRow, Operation.error)
        .outerjoin(Operation, ImportRow.operation_id == Operation.id)
        .where(ImportRow.job_id == job.id, at_fault)
    )
    total = session.scalar(sa.select(sa.func.count()).select_from(base.subquery())) or 0
    page = session.execute(
        base.order_by(ImportRow.row_number).limit(errors_limit).offset(errors_offset)
    ).all()
    entries = []
    for row, chain_error in page:
        errors = list(row.errors) or [{"field": "row", "message": _chain_failure(chain_error)}]
        entries.append(
            ImportRowErrors(
                row=row.row_number,
                certificate_number=row.certificate_number,
                errors=[FieldProblem(**error) for error in errors],
            )
        )
    return ImportJobPublic(
        **_summary(job, tally.counts).model_dump(),
        operations=tally.operations,
        errors=ImportErrorsPage(
            data=entries, count=total, limit=errors_limit, offset=errors_offset
        ),
    )


def list_jobs(session: Session, *, limit: int, offset: int) -> tuple[list[ImportJob], int]:
    count = session.scalar(sa.select(sa.func.count()).select_from(ImportJob)) or 0
    jobs = session.scalars(
        sa.select(ImportJob).order_by(ImportJob.created_at.desc()).limit(limit).offset(offset)
    ).all()
    return list(jobs), count


def start_import_worker(app: FastAPI) -> ImportWorker:
    """Build the app's import runner (``app.state.import_worker.runner``). Its passes run as
    the app's ``imports`` job (registry_api.workers, under leadership), or by hand in tests
    (``runner.run_once()``)."""
    settings: Settings = app.state.settings

    def wake_sender() -> None:
        workers = getattr(app.state, "workers", None)
        if workers is not None:
            workers.wake_sender()

    def wake_imports() -> None:
        workers = getattr(app.state, "workers", None)
        if workers is not None:
            workers.wake("imports")

    runner = ImportRunner(
        app.state.session_factory,
        settings,
        chunk_size=settings.import_batch_size,
        on_enqueued=wake_sender,
    )
    worker = ImportWorker(runner, settings.sender_poll_interval, on_wake=wake_imports)
    app.state.import_worker = worker
    return worker
