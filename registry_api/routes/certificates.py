"""Certificates: issue and change them (202: through the outbox), read, search, history.

Routes only parse, authorize, call :mod:`registry_api.services.certificates` and shape the
answer; reads come from the index and never call the chain.
"""

from __future__ import annotations

import functools
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from contracts.domain import days
from contracts.domain.enums import reason_name
from contracts.domain.record import CertificateNumber

from ..auth import AuthenticatedKey, Role, require_roles
from ..deps import SessionDep, run_read
from ..errors import FieldError, InvalidError
from ..outbox import Accepted
from ..schemas.certificates import (
    CertificateAmend,
    CertificateCreate,
    CertificatePublic,
    CertificateReinstate,
    CertificateRenew,
    CertificateRevoke,
    CertificatesPublic,
    CertificateSummary,
    CertificateSuspend,
    ChainStatePublic,
    HistoryEntry,
    HistoryPublic,
    ProofPublic,
    ReasonPublic,
)
from ..schemas.operations import OperationPublic
from ..schemas.problems import AUTH_PROBLEMS, BODY_PROBLEMS, problem_responses
from ..services import certificates as service
from ..workers import wake_sender
from .operations import IdempotencyKeyDep, accepted

router = APIRouter(prefix="/certificates", tags=["certificates"])

WriterKey = Annotated[AuthenticatedKey, Depends(require_roles(Role.ISSUING_OFFICER, Role.ADMIN))]
ReaderKey = Annotated[
    AuthenticatedKey,
    Depends(require_roles(Role.ISSUING_OFFICER, Role.ADMIN, Role.MRA_OFFICER, Role.AUDITOR)),
]
NumberPath = Annotated[
    CertificateNumber,
    Path(description="The certificate number.", examples=["MN-AEO-2025-0001"]),
]
WRITE_PROBLEMS = problem_responses(*AUTH_PROBLEMS, *BODY_PROBLEMS, 404, 409)


def _answer(request: Request, response: Response, outcome: Accepted) -> OperationPublic:
    if outcome.created:
        wake_sender(request)
    return accepted(response, outcome.operation)


def _reason(code: int | None) -> ReasonPublic | None:
    return ReasonPublic(code=code, name=reason_name(code)) if code is not None else None


@router.post(
    "",
    status_code=202,
    summary="Issue a certificate from its full record (202: the operation to poll)",
    response_model=OperationPublic,
    responses=WRITE_PROBLEMS,
)
def issue_certificate(
    body: CertificateCreate,
    key: WriterKey,
    idempotency_key: IdempotencyKeyDep,
    session: SessionDep,
    request: Request,
    response: Response,
) -> OperationPublic:
    outcome = service.issue_certificate(
        session, key=key, idempotency_key=idempotency_key, body=body
    )
    return _answer(request, response, outcome)


@router.post(
    "/{number}/amend",
    status_code=202,
    summary="Amend a certificate: the whole new record and a reason code",
    response_model=OperationPublic,
    responses=WRITE_PROBLEMS,
)
def amend_certificate(
    number: NumberPath,
    body: CertificateAmend,
    key: WriterKey,
    idempotency_key: IdempotencyKeyDep,
    session: SessionDep,
    request: Request,
    response: Response,
) -> OperationPublic:
    outcome = service.amend_certificate(
        session, key=key, idempotency_key=idempotency_key, number=number, body=body
    )
    return _answer(request, response, outcome)


@router.post(
    "/{number}/renew",
    status_code=202,
    summary="Renew a certificate: extend its validity",
    response_model=OperationPublic,
    responses=WRITE_PROBLEMS,
)
def renew_certificate(
    number: NumberPath,
    body: CertificateRenew,
    key: WriterKey,
    idempotency_key: IdempotencyKeyDep,
    session: SessionDep,
    request: Request,
    response: Response,
) -> OperationPublic:
    outcome = service.renew_certificate(
        session, key=key, idempotency_key=idempotency_key, number=number, body=body
    )
    return _answer(request, response, outcome)


@router.post(
    "/{number}/suspend",
    status_code=202,
    summary="Suspend a certificate with a reason code and an optional remedy deadline",
    response_model=OperationPublic,
    responses=WRITE_PROBLEMS,
)
def suspend_certificate(
    number: NumberPath,
    body: CertificateSuspend,
    key: WriterKey,
    idempotency_key: IdempotencyKeyDep,
    session: SessionDep,
    request: Request,
    response: Response,
) -> OperationPublic:
    outcome = service.suspend_certificate(
        session, key=key, idempotency_key=idempotency_key, number=number, body=body
    )
    return _answer(request, response, outcome)


@router.post(
    "/{number}/reinstate",
    status_code=202,
    summary="Reinstate a suspended certificate",
    response_model=OperationPublic,
    responses=WRITE_PROBLEMS,
)
def reinstate_certificate(
    number: NumberPath,
    body: CertificateReinstate,
    key: WriterKey,
    idempotency_key: IdempotencyKeyDep,
    session: SessionDep,
    request: Request,
    response: Response,
) -> OperationPublic:
    outcome = service.reinstate_certificate(
        session, key=key, idempotency_key=idempotency_key, number=number, body=body
    )
    return _answer(request, response, outcome)


@router.post(
    "/{number}/revoke",
    status_code=202,
    summary="Revoke a certificate (final) with a reason code",
    response_model=OperationPublic,
    responses=WRITE_PROBLEMS,
)
def revoke_certificate(
    number: NumberPath,
    body: CertificateRevoke,
    key: WriterKey,
    idempotency_key: IdempotencyKeyDep,
    session: SessionDep,
    request: Request,
    response: Response,
) -> OperationPublic:
    outcome = service.revoke_certificate(
        session, key=key, idempotency_key=idempotency_key, number=number, body=body
    )
    return _answer(request, response, outcome)


# ---------------------------------------------------------------------- reads


def _public(view: service.CertificateStatusView) -> CertificatePublic:
    state = view.chain_state
    hashes = view.proof.hashes
    chain = None
    if state is not None and view.block_number is not None and view.tx_hash is not None:
        chain = ChainStatePublic(
            certificate_id="0x" + view.certificate_id.hex(),
            status=state["status"],
            version=state["version"],
            tiers=state["tiers"],
            valid_from=days.from_day(state["valid_from"]),
            valid_until=view.valid_until,
            holder_ref=state["holder_ref"],
            commitment=state["commitment"],
            block_number=view.block_number,
            tx_hash="0x" + view.tx_hash.hex(),
        )
    return CertificatePublic(
        number=view.number,
        issuer=view.issuer,
        record=view.proof.members,
        status=view.status.value,
        effective_status=view.effective_status,
        status_reason=_reason(view.status_reason),
        remedy_deadline=view.remedy_deadline,
        version=view.version,
        valid_until=view.valid_until,
        chain=chain,
        proof=ProofPublic(
            commitment="0x" + hashes.commitment.hex(),
            chain_commitment=state.get("commitment") if state else None,
            holder_ref="0x" + hashes.holder_ref.hex(),
            chain_holder_ref=state.get("holder_ref") if state else None,
            matches=view.matches,
            canonical=hashes.canonical.decode("utf-8"),
        ),
        pending_operations=[str(op.id) for op in view.pending],
        created_at=view.created_at,
        updated_at=view.updated_at,
    )


@router.get(
    "/{number}",
    summary="A certificate: full record, on-chain status, and the proof that they match",
    response_model=CertificatePublic,
    responses=problem_responses(*AUTH_PROBLEMS, 404, 422),
)
async def read_certificate(
    number: NumberPath, _key: ReaderKey, request: Request
) -> CertificatePublic:
    # async, reading through run_read: the status lookup is the busiest request, and on
    # SQLite a thread hop costs more than the read (registry_api.deps.reads_on_event_loop).
    view = await run_read(request, functools.partial(service.certificate_status, number=number))
    return _public(view)


@router.get(
    "/{number}/history",
    summary="Every change of a certificate: who, when, why, transaction and block",
    response_model=HistoryPublic,
    responses=problem_responses(*AUTH_PROBLEMS, 404, 422),
)
def certificate_history(number: NumberPath, _key: ReaderKey, session: SessionDep) -> HistoryPublic:
    entries = []
    for item in service.certificate_history(session, number):
        event = item.event
        state = event.data.get("state", {})
        operation = event.data.get("operation") or {}
        entries.append(
            HistoryEntry(
                kind=event.kind,
                status=event.status,
                reason=_reason(event.reason_code),
                version=event.version,
                valid_until=days.date_or_none(state.get("valid_until")),
                remedy_deadline=(
                    service.operation_remedy_deadline(session, operation.get("id"))
                    if event.kind == "suspended"
                    else None
                ),
                operator=event.operator,
                requested_by=item.requested_by,
                operation_id=operation.get("id"),
                tx_hash="0x" + event.tx_hash.hex(),
                block_number=event.block_number,
                log_index=event.log_index,
                at=event.block_time,
            )
        )
    return HistoryPublic(number=number, data=entries)


@router.get(
    "",
    summary="Search certificates; paginated, with the total count",
    response_model=CertificatesPublic,
    responses=problem_responses(*AUTH_PROBLEMS, 422),
)
def search_certificates(
    _key: ReaderKey,
    session: SessionDep,
    number: Annotated[str | None, Query(max_length=32, description="Exact number.")] = None,
    holder_id: Annotated[
        str | None,
        Query(
            max_length=82,
            description="The holder's identification number, optionally SCHEME:NUMBER.",
            examples=["TIN:5012345"],
        ),
    ] = None,
    holder_name: Annotated[
        str | None,
        Query(min_length=1, max_length=512, description="A part of the holder's legal name."),
    ] = None,
    status: Annotated[
        str | None,
        Query(description="One of: " + ", ".join(service.SEARCH_STATUSES) + "."),
    ] = None,
    tier: Annotated[
        int | None, Query(ge=1, le=31, description="Certificates with any of these tier bits.")
    ] = None,
    valid_from: Annotated[
        date | None, Query(description="Valid on or after this day (renewals counted).")
    ] = None,
    valid_to: Annotated[date | None, Query(description="Valid on or before this day.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> CertificatesPublic:
    if status is not None and status not in service.SEARCH_STATUSES:
        raise InvalidError(
            f"unknown status {status!r}",
            errors=[
                FieldError("query.status", "must be one of " + ", ".join(service.SEARCH_STATUSES))
            ],
        )
    if valid_from is not None and valid_to is not None and valid_to < valid_from:
        raise InvalidError(
            "the validity window ends before it starts",
            errors=[FieldError("query.valid_to", "must not be before valid_from")],
        )
    for name, value in (("valid_from", valid_from), ("valid_to", valid_to)):
        if value is not None:
            try:
                days.to_day(value)
            except ValueError as exc:
                raise InvalidError(
                    str(exc), errors=[FieldError(f"query.{name}", str(exc))]
                ) from None
    views, count = service.search_certificates(
        session,
        service.SearchFilters(
            number=number,
            holder_id=holder_id,
            holder_name=holder_name.strip() if holder_name else None,
            status=status,
            tier=tier,
            valid_from=valid_from,
            valid_to=valid_to,
        ),
        limit=limit,
        offset=offset,
    )
    return CertificatesPublic(
        data=[
            CertificateSummary(
                number=view.certificate.number,
                holder_legal_name=view.certificate.holder_legal_name,
                holder_identification=(
                    f"{view.certificate.holder_id_scheme}:{view.certificate.holder_id_number}"
                ),
                tiers=view.certificate.tiers,
                status=view.certificate.status.value,
                effective_status=view.effective_status,
                valid_from=view.certificate.valid_from,
                valid_until=view.valid_until,
            )
            for view in views
        ],
        count=count,
    )
