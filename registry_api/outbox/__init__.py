"""The outbox: how every chain write of this administration is accepted, once.

A route never talks to the chain. It records an :class:`~registry_api.db.Operation` row
(the contract call to make, and the caller's ``Idempotency-Key``) in the same database
transaction as its off-chain change, answers ``202`` with the operation, and the sender
(:mod:`registry_api.workers.sender`) signs, broadcasts and follows the transaction later.

Public API (what other parts of the service call):

- :func:`enqueue` records one operation in the caller's transaction (no commit).
- :func:`enqueue_once` wraps the usual route flow: look the key up, let the caller write its
  rows and build the call, commit, and settle a race with a concurrent identical request.
- :func:`find_operation`, :func:`get_operation`, :func:`operation_call`,
  :func:`request_fingerprint`, :func:`check_idempotency_key`.

Idempotency keys are scoped to the API key that sent them (the ``operations`` table's
unique constraint): the same key and the same request give back the first operation;
the same key with a different request is refused with :class:`IdempotencyKeyReusedError`
(422), never answered with the wrong operation.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contracts.calls import ContractCall

from ..auth import AuthenticatedKey
from ..db import Operation, OperationState
from ..errors import FieldError, InvalidError, NotFoundError, RegistryError

__all__ = [
    "IDEMPOTENCY_HEADER",
    "Accepted",
    "IdempotencyKeyReusedError",
    "check_idempotency_key",
    "enqueue",
    "enqueue_once",
    "find_operation",
    "get_operation",
    "operation_call",
    "operation_details",
    "request_fingerprint",
]

IDEMPOTENCY_HEADER = "Idempotency-Key"
#: where problems about the header point (as request validation names headers)
IDEMPOTENCY_FIELD = "header.Idempotency-Key"
# Printable ASCII without spaces: what clients put in headers (UUIDs, ULIDs, hashes,
# "import-2025-03/row-17"), and nothing that could smuggle anything into logs.
_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")


class IdempotencyKeyReusedError(InvalidError):
    """The caller reused an ``Idempotency-Key`` for a different request (422, as the IETF
    ``Idempotency-Key`` draft prescribes)."""

    def __init__(self, idempotency_key: str, operation: Operation) -> None:
        super().__init__(
            f"Idempotency-Key {idempotency_key!r} was already used for a different request "
            f"(operation {operation.id}, {operation.kind}); use a new key for a new request",
            errors=[FieldError(IDEMPOTENCY_FIELD, "already used for a different request")],
            extra={"operation_id": str(operation.id)},
        )


def check_idempotency_key(value: str | None) -> str:
    """The header's value, or InvalidError naming the header when it is missing or unusable."""
    if value is None or not value.strip():
        raise InvalidError(
            f"every write needs an {IDEMPOTENCY_HEADER} header (for example a UUID), so that "
            "a retried request is applied once",
            errors=[FieldError(IDEMPOTENCY_FIELD, "is required on this request")],
        )
    if not _KEY_RE.match(value):
        raise InvalidError(
            f"{IDEMPOTENCY_HEADER} must be 1 to 255 printable ASCII characters without spaces",
            errors=[FieldError(IDEMPOTENCY_FIELD, "must be 1 to 255 printable ASCII characters")],
        )
    return value


def request_fingerprint(kind: str, subject: str | None, body: Any) -> str:
    """A stable digest of what was asked: the operation kind, its subject and the request
    body as JSON (keys sorted). Two requests with equal fingerprints are the same request.

    Pass the body as the caller sent it after parsing (``model.model_dump(mode="json")``),
    not after defaults the service adds, so a retry always produces the same fingerprint.
    """
    text = json.dumps(
        {"kind": kind, "subject": subject, "body": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _fingerprint_hash(fingerprint: str) -> bytes:
    return hashlib.sha256(fingerprint.encode("utf-8")).digest()


def find_operation(
    session: Session, *, key: AuthenticatedKey, idempotency_key: str, request_fingerprint: str
) -> Operation | None:
    """The operation this key already made with ``idempotency_key``, or None.

    Raises :class:`IdempotencyKeyReusedError` when it exists for a different request.
    """
    existing = session.scalars(
        sa.select(Operation).where(
            Operation.api_key_id == key.id, Operation.idempotency_key == idempotency_key
        )
    ).one_or_none()
    if existing is not None and existing.request_hash != _fingerprint_hash(request_fingerprint):
        raise IdempotencyKeyReusedError(idempotency_key, existing)
    return existing


def enqueue(
    session: Session,
    *,
    key: AuthenticatedKey,
    idempotency_key: str,
    kind: str,
    operation: ContractCall,
    subject: str | None,
    request_fingerprint: str,
    details: Mapping[str, Any] | None = None,
) -> Operation:
    """Record ``operation`` (a contract call built with :mod:`contracts.calls`) in the
    caller's transaction, in state ``pending``; the caller commits.

    - The same ``(key, idempotency_key)`` with the same fingerprint returns the existing
      operation and records nothing; with another fingerprint it raises
      :class:`IdempotencyKeyReusedError` (422).
    - ``kind`` names the action (``issue``, ``amend``, ``suspend``, ``issue_batch``,
      ``mra_propose``, ``register_signing_key``...): metrics and the operation resource
      show it. ``subject`` is the certificate number (or other id, at most 32 characters)
      the operation is about, or None.
    - ``details`` is JSON the service keeps with the operation for what happens after
      the chain confirms: for example ``{"creates": ["MN-AEO-1", ...]}`` lists the
      certificate rows (status ``pending``) that become ``failed`` if the operation fails;
      ``{"record": {...}}`` is an amended record the indexer applies when its event arrives.
    - Two concurrent identical requests can both pass the look-up; the loser's flush or
      commit raises ``IntegrityError`` on the unique ``(api_key_id, idempotency_key)``.
      :func:`enqueue_once` handles that; direct callers roll back and call again.
    """
    check_idempotency_key(idempotency_key)
    if subject is not None and len(subject) > 32:
        raise ValueError(f"subject must be at most 32 characters; got {subject!r}")
    existing = find_operation(
        session, key=key, idempotency_key=idempotency_key, request_fingerprint=request_fingerprint
    )
    if existing is not None:
        return existing
    row = Operation(
        id=uuid.uuid4(),
        api_key_id=key.id,
        idempotency_key=idempotency_key,
        request_hash=_fingerprint_hash(request_fingerprint),
        kind=kind,
        payload={"call": operation.to_json(), "details": dict(details or {})},
        certificate_number=subject,
        state=OperationState.PENDING,
    )
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True, slots=True)
class Accepted:
    """What :func:`enqueue_once` answers: the operation, and whether this request made it
    (False: a retry, or the loser of a race, got the first request's operation)."""

    operation: Operation
    created: bool


#: builds the chain call after writing the caller's own rows (in the same session);
#: returns the call and the operation's ``details``
Prepare = Callable[[Session], tuple[ContractCall, Mapping[str, Any] | None]]


def enqueue_once(
    session: Session,
    *,
    key: AuthenticatedKey,
    idempotency_key: str,
    kind: str,
    subject: str | None,
    request_fingerprint: str,
    prepare: Prepare,
) -> Accepted:
    """The whole write of a route, committed: exactly one operation per idempotency key.

    1. If this key already used ``idempotency_key``: return that operation (or 422 for a
       different request). ``prepare`` is not called: a retry changes nothing.
    2. Otherwise call ``prepare(session)``, which checks the request against the database
       (raising 409/422 problems), writes its own rows, and returns the contract call and
       details; the operation is recorded and everything is committed together.
    3. If a concurrent request won a unique constraint meanwhile (the same idempotency
       key, or the same certificate number), roll back and start again once: step 1 then
       finds the winner's operation, or ``prepare`` raises the conflict it now sees. When
       ``prepare`` refuses because an identical request just committed, that request's
       operation is the answer.
    """
    check_idempotency_key(idempotency_key)
    for attempt in range(2):
        existing = find_operation(
            session,
            key=key,
            idempotency_key=idempotency_key,
            request_fingerprint=request_fingerprint,
        )
        if existing is not None:
            session.commit()  # end the read transaction (SQLite holds a snapshot otherwise)
            return Accepted(existing, created=False)
        try:
            try:
                call, details = prepare(session)
            except RegistryError:
                # A concurrent identical request may have committed between our look-up
                # and ``prepare`` (which then sees its rows): answer its operation.
                session.rollback()
                winner = find_operation(
                    session,
                    key=key,
                    idempotency_key=idempotency_key,
                    request_fingerprint=request_fingerprint,
                )
                if winner is not None:
                    session.commit()
                    return Accepted(winner, created=False)
                raise
            row = enqueue(
                session,
                key=key,
                idempotency_key=idempotency_key,
                kind=kind,
                operation=call,
                subject=subject,
                request_fingerprint=request_fingerprint,
                details=details,
            )
            session.commit()
        except IntegrityError:
            session.rollback()
            if attempt:
                raise
            continue
        return Accepted(row, created=True)
    raise AssertionError("unreachable")  # pragma: no cover


def get_operation(session: Session, operation_id: uuid.UUID) -> Operation:
    operation = session.get(Operation, operation_id)
    if operation is None:
        raise NotFoundError(f"no operation with id {operation_id}")
    return operation


def operation_call(operation: Operation) -> ContractCall:
    """The contract call an operation row records."""
    return ContractCall.from_json(operation.payload["call"])


def operation_details(operation: Operation) -> dict[str, Any]:
    details = operation.payload.get("details") or {}
    return dict(details)
