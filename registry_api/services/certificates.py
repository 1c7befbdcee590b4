"""Certificate rules: what each lifecycle action requires, checked before anything is queued.

Every write builds the contract call, records the operation through the outbox (with the
off-chain change where there is one) and returns it; the chain applies it later and the
indexer brings the result back. A request that the database can already tell is wrong (an
unknown number, a reason code the action does not take, suspending a revoked certificate)
is refused here with a 404 / 422 / 409 problem, so no doomed transaction is queued.

The state these checks use is the certificate's *projected* state: its indexed status with
the accepted operations not yet indexed applied in order, so "issue, then suspend at once"
is accepted before the issue is mined, and "suspend twice" is refused the second time.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from contracts import calls
from contracts.calls import ContractCall
from contracts.domain import days, ids, rules
from contracts.domain.enums import ReasonCode
from contracts.domain.record import CertificateRecord, RecordHashes
from contracts.domain.rules import ALLOWED_REASONS, Transition

from ..auth import AuthenticatedKey
from ..db import (
    OPEN_OPERATION_STATES,
    ApiKey,
    Authority,
    Certificate,
    CertificateEvent,
    IndexerCursor,
    LocalStatus,
    Operation,
    OperationState,
)
from ..db.certificates import RECORD_COLUMNS, RECORD_JSON_COLUMNS, record_from_columns
from ..db.chain_index import CURSOR_NAME
from ..errors import ConflictError, FieldError, InvalidError, NotFoundError
from ..outbox import Accepted, enqueue_once, operation_details, request_fingerprint
from ..schemas.certificates import (
    CertificateAmend,
    CertificateCreate,
    CertificateReinstate,
    CertificateRenew,
    CertificateRevoke,
    CertificateSuspend,
    RecordFields,
)
from ..status_lists import assign_index

# ---------------------------------------------------------------------- reason codes


class Action(StrEnum):
    ISSUE = "issue"
    AMEND = "amend"
    RENEW = "renew"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    REVOKE = "revoke"


def check_reason(action: Action, code: int) -> ReasonCode:
    """The reason code, or a 422 naming ``body.reason_code`` and the codes ``action`` takes."""
    allowed = ALLOWED_REASONS[Transition(action.value)]
    if code in {int(reason) for reason in allowed}:
        return ReasonCode(code)
    listed = ", ".join(f"{int(r)} ({r.name})" for r in sorted(allowed))
    message = f"must be one of {listed} to {action.value} a certificate"
    raise InvalidError(
        f"reason code {code} cannot {action.value} a certificate; {message} "
        "(see docs/reason-codes.md)",
        errors=[FieldError("body.reason_code", message)],
    )


# ---------------------------------------------------------------------- records


def build_record(authority: str, number: str, fields: RecordFields) -> CertificateRecord:
    """The full record, or a 422 naming each offending ``body`` field."""
    values = fields.model_dump(exclude={"reason_code", "number"}, exclude_none=True)
    try:
        record = CertificateRecord(issuer=authority, number=number, **values)
    except ValidationError as exc:
        errors = [
            FieldError(
                ".".join(["body", *(str(p) for p in error["loc"])]) or "body",
                str(error["msg"]),
            )
            for error in exc.errors()
        ]
        detail = errors[0].message if len(errors) == 1 else f"{len(errors)} fields are invalid"
        raise InvalidError(detail, errors=errors) from None
    # Imported here: the documents service imports this module.
    from .documents import check_printable

    check_printable(record)  # a name the PDF's fonts cannot draw is refused now, not printed
    return record


# ---------------------------------------------------------------------- numbers


def other_member_codes(session: Session, issuer: str) -> frozenset[str]:
    """The codes of every member but ``issuer`` the index knows, whatever their status: a
    removed member's certificates still circulate, so its code stays reserved."""
    return frozenset(session.scalars(sa.select(Authority.code).where(Authority.code != issuer)))


def number_prefix_error(number: str, others: frozenset[str], field: str) -> FieldError | None:
    """Why ``number`` may not be issued by this administration, if it starts with the code of
    another member (``ids.number_prefix``: 2 to 4 leading letters, then a non-letter or the
    end); the contract refuses it too (``CertificateNumberOfAnotherMember``), and a border
    officer would read it as that member's certificate."""
    prefix = ids.number_prefix(number)
    if prefix is None or prefix not in others:
        return None
    return FieldError(
        field,
        f"starts with {prefix}, the code of another member of the consortium; use this "
        "administration's own code or a number that starts with no member's code",
    )


def check_number_prefix(session: Session, issuer: str, number: str) -> None:
    """A 422 naming ``body.number`` when ``number`` starts with another member's code."""
    error = number_prefix_error(number, other_member_codes(session, issuer), "body.number")
    if error is not None:
        raise InvalidError(f"certificate number {number} {error.message}", errors=[error])


def record_json(record: CertificateRecord) -> dict[str, Any]:
    """The record as JSON members (what ``CertificateRecord.model_validate`` reads back)."""
    return record.model_dump(mode="json", exclude_none=True)


# ---------------------------------------------------------------------- state


# The reads every certificate request makes, built once with bound parameters: building
# a SQLAlchemy statement costs more Python time than SQLite takes to run it.
_BY_NUMBER = sa.select(Certificate).where(Certificate.number == sa.bindparam("number"))
_LATEST_EVENT = (
    sa.select(CertificateEvent)
    .where(CertificateEvent.certificate_id == sa.bindparam("certificate_id"))
    .order_by(CertificateEvent.block_number.desc(), CertificateEvent.log_index.desc())
    .limit(1)
)
_INDEXED_BLOCK = sa.func.coalesce(
    sa.select(IndexerCursor.block_number)
    .where(IndexerCursor.name == CURSOR_NAME)
    .scalar_subquery(),
    -1,
)


def _unindexed_on(
    number: sa.ColumnElement[str] | InstrumentedAttribute[str],
) -> sa.ColumnElement[bool]:
    """Accepted operations on certificate ``number`` that the index does not show yet."""
    return sa.and_(
        Operation.certificate_number == number,
        sa.or_(
            # Not ``in_``: an IN list is rendered again at every execution.
            *(Operation.state == state for state in OPEN_OPERATION_STATES),
            sa.and_(
                Operation.state == OperationState.CONFIRMED,
                Operation.block_number > _INDEXED_BLOCK,
            ),
        ),
    )


_UNINDEXED = (
    sa.select(Operation)
    .where(_unindexed_on(sa.bindparam("number")))
    .order_by(Operation.created_at, Operation.id)
)


def get_certificate(session: Session, number: str) -> Certificate:
    certificate = session.scalars(_BY_NUMBER, {"number": number}).one_or_none()
    if certificate is None:
        raise NotFoundError(f"no certificate {number!r} issued by this administration")
    return certificate


def latest_event(session: Session, certificate_id: bytes) -> CertificateEvent | None:
    return session.scalars(_LATEST_EVENT, {"certificate_id": certificate_id}).first()


def indexed_block(session: Session) -> int:
    cursor = session.get(IndexerCursor, CURSOR_NAME)
    return cursor.block_number if cursor is not None else -1


def unindexed_operations(session: Session, number: str) -> Sequence[Operation]:
    """Accepted operations on ``number`` whose effect the index does not show yet: still
    open, or confirmed in a block the indexer has not reached (the cursor is read in the
    same statement)."""
    return session.scalars(_UNINDEXED, {"number": number}).all()


@dataclass(frozen=True, slots=True)
class Projection:
    """A certificate's state once every accepted operation has applied."""

    status: LocalStatus
    #: day number (days.to_day); OPEN_ENDED for no end date
    valid_until: int
    pending: tuple[Operation, ...]


def _held_valid_until(state: Mapping[str, Any] | None, stored: date | None) -> int:
    """The validity in the chain ``state`` of the latest event, else the ``stored`` one."""
    if state is not None and "valid_until" in state:
        return int(state["valid_until"])
    return days.day_or_open(stored)


def chain_valid_until(
    session: Session, certificate: Certificate, latest: CertificateEvent | None = None
) -> int:
    """The validity the chain holds (renewals included), as a day number; ``latest`` is the
    certificate's latest indexed event when the caller has read it already."""
    event = latest if latest is not None else latest_event(session, certificate.certificate_id)
    return _held_valid_until(
        event.data.get("state", {}) if event is not None else None, certificate.valid_until
    )


def project(session: Session, certificate: Certificate) -> Projection:
    status = certificate.status
    valid_until = chain_valid_until(session, certificate)
    pending = unindexed_operations(session, certificate.number)
    for operation in pending:
        if operation.kind == Action.ISSUE and status is LocalStatus.PENDING:
            status = LocalStatus.ACTIVE
        elif operation.kind == Action.SUSPEND:
            status = LocalStatus.SUSPENDED
        elif operation.kind == Action.REINSTATE:
            status = LocalStatus.ACTIVE
        elif operation.kind == Action.REVOKE:
            status = LocalStatus.REVOKED
        elif operation.kind == Action.RENEW:
            renewed = operation_details(operation).get("valid_until")
            if renewed is not None:
                valid_until = days.day_or_open(date.fromisoformat(renewed))
    if status is LocalStatus.PENDING:
        # Issued by an operation this projection does not name (a batch): once it is
        # accepted, later changes queue behind it.
        status = LocalStatus.ACTIVE
    return Projection(status=status, valid_until=valid_until, pending=tuple(pending))


def _refuse_final(certificate: Certificate, projection: Projection, action: Action) -> None:
    if certificate.status is LocalStatus.FAILED:
        raise ConflictError(
            f"certificate {certificate.number} was never issued (its issue operation failed); "
            f"it cannot be {_past(action)}"
        )
    if projection.status is LocalStatus.REVOKED:
        raise ConflictError(
            f"certificate {certificate.number} is revoked; revocation is final and it cannot "
            f"be {_past(action)}"
        )


def _past(action: Action) -> str:
    return {
        Action.AMEND: "amended",
        Action.RENEW: "renewed",
        Action.SUSPEND: "suspended",
        Action.REINSTATE: "reinstated",
        Action.REVOKE: "revoked",
        Action.ISSUE: "issued",
    }[action]


def _require_status(
    certificate: Certificate,
    projection: Projection,
    action: Action,
    required: LocalStatus,
) -> None:
    if projection.status is not required:
        queued = " once the operations already accepted apply" if projection.pending else ""
        raise ConflictError(
            f"certificate {certificate.number} is {projection.status.value}{queued}; only an "
            f"{required.value} certificate can be {_past(action)}"
        )


# ---------------------------------------------------------------------- writes


def _accept(
    session: Session,
    *,
    key: AuthenticatedKey,
    idempotency_key: str,
    action: Action,
    number: str,
    body: Any,
    build: Any,
) -> Accepted:
    return enqueue_once(
        session,
        key=key,
        idempotency_key=idempotency_key,
        kind=action.value,
        subject=number,
        request_fingerprint=request_fingerprint(action.value, number, body.model_dump(mode="json")),
        prepare=build,
    )


def issue_certificate(
    session: Session, *, key: AuthenticatedKey, idempotency_key: str, body: CertificateCreate
) -> Accepted:
    """Store the record (status ``pending``) and queue its issuance."""
    record = build_record(key.authority, body.number, body)
    hashes = record.hashes()

    def prepare(session: Session) -> tuple[ContractCall, dict[str, Any]]:
        check_number_prefix(session, key.authority, record.number)
        existing = session.scalars(
            sa.select(Certificate).where(Certificate.number == record.number)
        ).one_or_none()
        if existing is not None and existing.status is not LocalStatus.FAILED:
            raise ConflictError(
                f"certificate {record.number} already exists ({existing.status.value})",
                errors=[FieldError("body.number", "is already issued by this administration")],
            )
        if existing is not None:
            # A number whose issue failed may be issued again: the row takes the new record.
            existing.apply_record(record)
            existing.status = LocalStatus.PENDING
            existing.version = 1
            existing.status_reason = None
            existing.remedy_deadline = None
        else:
            session.add(Certificate.from_record(record))
        # Its place in the W3C status lists, known before the chain confirms it.
        assign_index(session, hashes.certificate_id)
        call = calls.issue(
            record.number,
            record.tiers,
            record.valid_from,
            days.day_or_open(record.valid_until),
            hashes.holder_ref,
            hashes.commitment,
        )
        return call, {"creates": [record.number]}

    return _accept(
        session,
        key=key,
        idempotency_key=idempotency_key,
        action=Action.ISSUE,
        number=body.number,
        body=body,
        build=prepare,
    )


def amend_certificate(
    session: Session,
    *,
    key: AuthenticatedKey,
    idempotency_key: str,
    number: str,
    body: CertificateAmend,
) -> Accepted:
    """Queue an amendment to the whole new ``body`` record; the stored record changes when
    the amendment's event is indexed."""
    reason = check_reason(Action.AMEND, body.reason_code)
    record = build_record(key.authority, number, body)
    hashes = record.hashes()

    def prepare(session: Session) -> tuple[ContractCall, dict[str, Any]]:
        certificate = get_certificate(session, number)
        projection = project(session, certificate)
        _refuse_final(certificate, projection, Action.AMEND)
        if record.valid_from != certificate.valid_from:
            raise InvalidError(
                "an amendment cannot move the start of validity",
                errors=[
                    FieldError("body.valid_from", f"must stay {certificate.valid_from.isoformat()}")
                ],
            )
        if days.day_or_open(record.valid_until) != projection.valid_until:
            current = days.iso_or_none(projection.valid_until) or "absent (open-ended)"
            raise InvalidError(
                "validity changes by renewal, not by amendment",
                errors=[FieldError("body.valid_until", f"must stay {current}")],
            )
        call = calls.amend(
            certificate.certificate_id, record.tiers, hashes.holder_ref, hashes.commitment, reason
        )
        return call, {"record": record_json(record)}

    return _accept(
        session,
        key=key,
        idempotency_key=idempotency_key,
        action=Action.AMEND,
        number=number,
        body=body,
        build=prepare,
    )


def renew_certificate(
    session: Session,
    *,
    key: AuthenticatedKey,
    idempotency_key: str,
    number: str,
    body: CertificateRenew,
) -> Accepted:
    reason = check_reason(Action.RENEW, body.reason_code)
    try:
        new_until = days.to_day(body.valid_until)
    except ValueError as exc:
        raise InvalidError(str(exc), errors=[FieldError("body.valid_until", str(exc))]) from None

    def prepare(session: Session) -> tuple[ContractCall, dict[str, Any]]:
        certificate = get_certificate(session, number)
        projection = project(session, certificate)
        _refuse_final(certificate, projection, Action.RENEW)
        _require_status(certificate, projection, Action.RENEW, LocalStatus.ACTIVE)
        if new_until <= projection.valid_until:
            current = days.iso_or_none(projection.valid_until) or "open-ended"
            raise ConflictError(
                f"certificate {number} is already valid until {current}; a renewal must extend it",
                errors=[FieldError("body.valid_until", f"must be later than {current}")],
            )
        call = calls.renew(certificate.certificate_id, new_until, reason)
        return call, {"valid_until": body.valid_until.isoformat()}

    return _accept(
        session,
        key=key,
        idempotency_key=idempotency_key,
        action=Action.RENEW,
        number=number,
        body=body,
        build=prepare,
    )


def suspend_certificate(
    session: Session,
    *,
    key: AuthenticatedKey,
    idempotency_key: str,
    number: str,
    body: CertificateSuspend,
    today: date | None = None,
) -> Accepted:
    reason = check_reason(Action.SUSPEND, body.reason_code)
    today = today or datetime.now(UTC).date()
    if body.remedy_deadline is not None and body.remedy_deadline < today:
        raise InvalidError(
            "the remedy deadline is in the past",
            errors=[FieldError("body.remedy_deadline", f"must be {today.isoformat()} or later")],
        )

    def prepare(session: Session) -> tuple[ContractCall, dict[str, Any]]:
        certificate = get_certificate(session, number)
        projection = project(session, certificate)
        _refuse_final(certificate, projection, Action.SUSPEND)
        _require_status(certificate, projection, Action.SUSPEND, LocalStatus.ACTIVE)
        details: dict[str, Any] = {}
        if body.remedy_deadline is not None:
            details["remedy_deadline"] = body.remedy_deadline.isoformat()
        return calls.suspend(certificate.certificate_id, reason), details

    return _accept(
        session,
        key=key,
        idempotency_key=idempotency_key,
        action=Action.SUSPEND,
        number=number,
        body=body,
        build=prepare,
    )


def reinstate_certificate(
    session: Session,
    *,
    key: AuthenticatedKey,
    idempotency_key: str,
    number: str,
    body: CertificateReinstate,
) -> Accepted:
    reason = check_reason(Action.REINSTATE, body.reason_code)

    def prepare(session: Session) -> tuple[ContractCall, dict[str, Any]]:
        certificate = get_certificate(session, number)
        projection = project(session, certificate)
        _refuse_final(certificate, projection, Action.REINSTATE)
        _require_status(certificate, projection, Action.REINSTATE, LocalStatus.SUSPENDED)
        return calls.reinstate(certificate.certificate_id, reason), {}

    return _accept(
        session,
        key=key,
        idempotency_key=idempotency_key,
        action=Action.REINSTATE,
        number=number,
        body=body,
        build=prepare,
    )


def revoke_certificate(
    session: Session,
    *,
    key: AuthenticatedKey,
    idempotency_key: str,
    number: str,
    body: CertificateRevoke,
) -> Accepted:
    reason = check_reason(Action.REVOKE, body.reason_code)

    def prepare(session: Session) -> tuple[ContractCall, dict[str, Any]]:
        certificate = get_certificate(session, number)
        projection = project(session, certificate)
        _refuse_final(certificate, projection, Action.REVOKE)
        return calls.revoke(certificate.certificate_id, reason), {}

    return _accept(
        session,
        key=key,
        idempotency_key=idempotency_key,
        action=Action.REVOKE,
        number=number,
        body=body,
        build=prepare,
    )


# ---------------------------------------------------------------------- reads


def effective_status(
    status: LocalStatus, valid_from: date, valid_until: date | None, today: date
) -> str:
    """The status as a border officer would read it today: the contract's ``statusOf``
    (contracts.domain.rules: revoked > expired > suspended > not yet valid > active) for a
    certificate on the chain; ``pending`` or ``failed`` for one that is not (yet)."""
    stored = status.on_chain
    if stored is None:
        return status.value
    return rules.effective_status(
        stored, days.to_day(valid_from), days.day_or_open(valid_until), days.to_day(today)
    ).name.lower()


@dataclass(frozen=True, slots=True)
class CertificateView:
    """One certificate with what the index knows of it (routes shape it into JSON)."""

    certificate: Certificate
    record: CertificateRecord
    latest: CertificateEvent | None
    valid_until: date | None
    effective_status: str
    pending: tuple[Operation, ...]

    @property
    def chain_state(self) -> dict[str, Any] | None:
        if self.latest is None:
            return None
        state: dict[str, Any] = self.latest.data.get("state", {})
        return state

    @property
    def proof_matches(self) -> bool:
        return self.matches(self.record.hashes())

    def matches(self, hashes: RecordHashes) -> bool:
        """Whether the chain state holds ``hashes`` (this record's, computed by the caller
        who needs them anyway)."""
        return chain_holds(self.chain_state, hashes)


def chain_holds(state: Mapping[str, Any] | None, hashes: RecordHashes) -> bool:
    """Whether the chain ``state`` (of the latest indexed event) holds ``hashes``."""
    if state is None:
        return False
    return bool(
        state.get("commitment") == "0x" + hashes.commitment.hex()
        and state.get("holder_ref") == "0x" + hashes.holder_ref.hex()
    )


def read_certificate(session: Session, number: str, today: date | None = None) -> CertificateView:
    """The certificate, its chain state from the index, and its proof. No chain call."""
    today = today or datetime.now(UTC).date()
    certificate = get_certificate(session, number)
    latest = latest_event(session, certificate.certificate_id)
    valid_until = days.date_or_none(chain_valid_until(session, certificate, latest))
    pending = tuple(
        op for op in unindexed_operations(session, number) if op.state is not OperationState.FAILED
    )
    return CertificateView(
        certificate=certificate,
        record=certificate.to_record(),
        latest=latest,
        valid_until=valid_until,
        effective_status=effective_status(
            certificate.status, certificate.valid_from, valid_until, today
        ),
        pending=pending,
    )


# ---------------------------------------------------------------------- the status read
#
# GET /v1/certificates/{number} is the busiest request. It reads one row (the certificate,
# its latest event and whether any operation on it is not indexed yet) and rebuilds the
# record's proof only when the record's columns hold something it has not seen.

#: records whose canonical form and hashes are kept (a few KB each)
RECORD_PROOF_CACHE_SIZE = 16_384


@dataclass(frozen=True, slots=True)
class RecordProof:
    """What a record's content alone determines."""

    record: CertificateRecord
    #: the canonical members without ``schema``, as the API shows the record (do not mutate:
    #: it is shared by every request that reads this record)
    members: dict[str, Any]
    hashes: RecordHashes


@functools.lru_cache(maxsize=RECORD_PROOF_CACHE_SIZE)
def record_proof(columns: tuple[Any, ...]) -> RecordProof:
    """The proof of the record held by ``columns``: the values of ``RECORD_COLUMNS`` in
    order, JSON ones as their stored text. Cached (LRU).

    Keyed by the record's column values themselves, not by certificate and version: a row
    changed behind the service's back gets its own entry, so the proof still tells a
    tampered row from the chain's commitment."""
    values = dict(zip(RECORD_COLUMNS, columns, strict=True))
    for name in RECORD_JSON_COLUMNS:
        # NULL only in ``aliases`` of rows older than that column (no aliases).
        values[name] = json.loads(values[name]) if values[name] is not None else None
    record = record_from_columns(values)
    members = record.canonical_dict()
    members.pop("schema", None)
    return RecordProof(record=record, members=members, hashes=record.hashes())


_EARLIER_EVENT = aliased(CertificateEvent)
_LATEST_EVENT_ID = (
    sa.select(_EARLIER_EVENT.id)
    .where(_EARLIER_EVENT.certificate_id == Certificate.certificate_id)
    .order_by(_EARLIER_EVENT.block_number.desc(), _EARLIER_EVENT.log_index.desc())
    .limit(1)
    .correlate(Certificate)
    .scalar_subquery()
)
_STATUS_READ = (
    sa.select(
        *(
            sa.cast(getattr(Certificate, name), sa.Text).label(name)
            if name in RECORD_JSON_COLUMNS
            else getattr(Certificate, name)
            for name in RECORD_COLUMNS
        ),
        Certificate.certificate_id,
        Certificate.status,
        Certificate.status_reason,
        Certificate.remedy_deadline,
        Certificate.version,
        Certificate.created_at,
        Certificate.updated_at,
        CertificateEvent.data.label("event_data"),
        CertificateEvent.block_number.label("event_block"),
        CertificateEvent.tx_hash.label("event_tx_hash"),
        sa.exists().where(_unindexed_on(Certificate.number)).label("has_pending"),
    )
    .select_from(Certificate)
    .outerjoin(CertificateEvent, CertificateEvent.id == _LATEST_EVENT_ID)
    .where(Certificate.number == sa.bindparam("number"))
)
_RECORD_SLICE = slice(0, len(RECORD_COLUMNS))


@dataclass(frozen=True, slots=True)
class CertificateStatusView:
    """One certificate as the status read sees it (the route shapes it into JSON)."""

    certificate_id: bytes
    number: str
    issuer: str
    status: LocalStatus
    status_reason: int | None
    remedy_deadline: date | None
    version: int
    created_at: datetime
    updated_at: datetime
    proof: RecordProof
    #: the chain's state after the latest indexed event (None: not indexed yet)
    chain_state: dict[str, Any] | None
    block_number: int | None
    tx_hash: bytes | None
    valid_until: date | None
    effective_status: str
    pending: tuple[Operation, ...]

    @property
    def matches(self) -> bool:
        return chain_holds(self.chain_state, self.proof.hashes)


def certificate_status(
    connection: sa.Connection, number: str, today: date | None = None
) -> CertificateStatusView:
    """What ``GET /v1/certificates/{number}`` shows, from the index in one query (a second
    one only when operations on the certificate wait to be indexed). No chain call.

    Takes a connection, not a session: the ORM's per-statement work is most of the cost of
    a read this small."""
    today = today or datetime.now(UTC).date()
    row = connection.execute(_STATUS_READ, {"number": number}).one_or_none()
    if row is None:
        raise NotFoundError(f"no certificate {number!r} issued by this administration")
    state: dict[str, Any] | None = None
    if row.event_data is not None:
        state = row.event_data.get("state", {})
    valid_until = days.date_or_none(_held_valid_until(state, row.valid_until))
    pending: tuple[Operation, ...] = ()
    if row.has_pending:
        pending = tuple(
            op
            for op in unindexed_operations(Session(bind=connection), number)
            if op.state is not OperationState.FAILED
        )
    return CertificateStatusView(
        certificate_id=row.certificate_id,
        number=row.number,
        issuer=row.issuer,
        status=row.status,
        status_reason=row.status_reason,
        remedy_deadline=row.remedy_deadline,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        proof=record_proof(tuple(row[_RECORD_SLICE])),
        chain_state=state,
        block_number=row.event_block,
        tx_hash=row.event_tx_hash,
        valid_until=valid_until,
        effective_status=effective_status(row.status, row.valid_from, valid_until, today),
        pending=pending,
    )


@dataclass(frozen=True, slots=True)
class HistoryItem:
    event: CertificateEvent
    requested_by: str | None


def certificate_history(session: Session, number: str) -> list[HistoryItem]:
    """Every indexed event of the certificate, oldest first, with the user who asked for it
    when this service sent it."""
    certificate = get_certificate(session, number)
    events = session.scalars(
        sa.select(CertificateEvent)
        .where(CertificateEvent.certificate_id == certificate.certificate_id)
        .order_by(CertificateEvent.block_number, CertificateEvent.log_index)
    ).all()
    key_ids = {int(e.data["operation"]["api_key_id"]) for e in events if e.data.get("operation")}
    users: dict[int, str] = {}
    if key_ids:
        for key in session.scalars(sa.select(ApiKey).where(ApiKey.id.in_(key_ids))):
            users[key.id] = key.user.name
    return [
        HistoryItem(
            event=event,
            requested_by=(
                users.get(int(event.data["operation"]["api_key_id"]))
                if event.data.get("operation")
                else None
            ),
        )
        for event in events
    ]


def operation_remedy_deadline(session: Session, operation_id: str | None) -> date | None:
    if operation_id is None:
        return None
    operation = session.get(Operation, uuid.UUID(operation_id))
    if operation is None:
        return None
    deadline = operation_details(operation).get("remedy_deadline")
    return date.fromisoformat(deadline) if deadline else None


@dataclass(frozen=True, slots=True)
class SearchFilters:
    number: str | None = None
    holder_id: str | None = None
    holder_name: str | None = None
    status: str | None = None
    tier: int | None = None
    valid_from: date | None = None
    valid_to: date | None = None


#: the statuses a search can ask for: the stored ones, and the two derived from dates
SEARCH_STATUSES = (*(s.value for s in LocalStatus), "expired", "not_yet_valid")


def _renewed_until() -> sa.ScalarSelect[Any]:
    """The latest renewal's day for the outer certificate row (None: never renewed)."""
    day = CertificateEvent.data[("state", "valid_until")].as_integer()
    return (
        sa.select(sa.func.max(day))
        .where(
            CertificateEvent.certificate_id == Certificate.certificate_id,
            CertificateEvent.kind == "renewed",
        )
        .scalar_subquery()
    )


def _valid_on_or_after(day_value: date) -> sa.ColumnElement[bool]:
    """The certificate is still valid on ``day_value`` (renewals counted)."""
    renewed = _renewed_until()
    return sa.or_(
        sa.and_(renewed.is_not(None), renewed >= days.to_day(day_value)),
        sa.and_(
            renewed.is_(None),
            sa.or_(Certificate.valid_until.is_(None), Certificate.valid_until >= day_value),
        ),
    )


def search_certificates(
    session: Session,
    filters: SearchFilters,
    *,
    limit: int,
    offset: int,
    today: date | None = None,
) -> tuple[list[CertificateView], int]:
    """One page of matching certificates (by number) and how many match in all."""
    today = today or datetime.now(UTC).date()
    query = sa.select(Certificate).where(*search_conditions(filters, today))
    count = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Certificate.number).limit(limit).offset(offset)).all()
    return _views(session, rows, today), count


def _views(session: Session, rows: Sequence[Certificate], today: date) -> list[CertificateView]:
    views = []
    for certificate in rows:
        valid_until = days.date_or_none(chain_valid_until(session, certificate))
        views.append(
            CertificateView(
                certificate=certificate,
                record=certificate.to_record(),
                latest=None,
                valid_until=valid_until,
                effective_status=effective_status(
                    certificate.status, certificate.valid_from, valid_until, today
                ),
                pending=(),
            )
        )
    return views


def search_conditions(filters: SearchFilters, today: date) -> list[sa.ColumnElement[bool]]:
    """The WHERE conditions of a search (``filters`` already checked by the caller)."""
    where: list[sa.ColumnElement[bool]] = []
    if filters.number:
        where.append(Certificate.number == filters.number)
    if filters.holder_id:
        scheme, _, number = filters.holder_id.rpartition(":")
        where.append(Certificate.holder_id_number == number)
        if scheme:
            where.append(Certificate.holder_id_scheme == scheme.upper())
    if filters.holder_name:
        pattern = filters.holder_name.casefold()
        escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(Certificate.holder_name_folded.like(f"%{escaped}%", escape="\\"))
    if filters.tier:
        where.append(Certificate.tiers.op("&")(filters.tier) != 0)
    if filters.valid_from is not None:
        where.append(_valid_on_or_after(filters.valid_from))
    if filters.valid_to is not None:
        where.append(Certificate.valid_from <= filters.valid_to)
    if filters.status in {s.value for s in LocalStatus if s is not LocalStatus.ACTIVE}:
        where.append(Certificate.status == LocalStatus(filters.status))
    elif filters.status is not None:
        where.append(Certificate.status == LocalStatus.ACTIVE)
        if filters.status == "active":
            where.extend([Certificate.valid_from <= today, _valid_on_or_after(today)])
        elif filters.status == "expired":
            where.append(sa.not_(_valid_on_or_after(today)))
        elif filters.status == "not_yet_valid":
            where.append(Certificate.valid_from > today)
    return where


@dataclass(frozen=True, slots=True)
class SearchRow:
    """One certificate of a search page: its row and what the chain says of its validity."""

    certificate: Certificate
    valid_until: date | None
    effective_status: str


@dataclass(frozen=True, slots=True)
class SearchPage:
    rows: list[SearchRow]
    #: the number to continue after (None: this is the last page)
    next_after: str | None


def _chain_validity(session: Session, certificates: Sequence[Certificate]) -> dict[bytes, int]:
    """The validity (day number) each certificate's latest indexed event holds, in one
    query for the whole page (what :func:`chain_valid_until` reads one at a time)."""
    if not certificates:
        return {}
    held: dict[bytes, int] = {}
    events = session.execute(
        sa.select(CertificateEvent.certificate_id, CertificateEvent.data)
        .where(CertificateEvent.certificate_id.in_([c.certificate_id for c in certificates]))
        .order_by(CertificateEvent.block_number, CertificateEvent.log_index)
    )
    for certificate_id, data in events:
        state = data.get("state", {})
        if "valid_until" in state:
            held[certificate_id] = int(state["valid_until"])
    return held


def search_page(
    session: Session,
    filters: SearchFilters,
    *,
    after: str | None,
    limit: int,
    today: date | None = None,
) -> SearchPage:
    """One page of matching certificates after the number ``after``: keyset paging, so the
    number index is read from where the previous page stopped and page 10,000 costs what
    page 1 does. No total: counting every match of a broad search reads every matching
    row, which a million rows make slow; the page says whether more follow."""
    today = today or datetime.now(UTC).date()
    query = sa.select(Certificate).where(*search_conditions(filters, today))
    if after is not None:
        query = query.where(Certificate.number > after)
    found = session.scalars(query.order_by(Certificate.number).limit(limit + 1)).all()
    certificates = found[:limit]
    held = _chain_validity(session, certificates)
    rows = []
    for certificate in certificates:
        day = held.get(certificate.certificate_id)
        valid_until = days.date_or_none(day) if day is not None else certificate.valid_until
        rows.append(
            SearchRow(
                certificate=certificate,
                valid_until=valid_until,
                effective_status=effective_status(
                    certificate.status, certificate.valid_from, valid_until, today
                ),
            )
        )
    more = len(found) > limit
    return SearchPage(rows=rows, next_after=certificates[-1].number if more else None)
