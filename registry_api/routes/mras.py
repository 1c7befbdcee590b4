"""MRAs: propose, sign, suspend, resume and terminate them (through the outbox: 202 and an
operation to poll), list and read them from the index, and "do we recognize certificate C"."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from contracts.domain import days
from contracts.domain.days import Day
from contracts.domain.record import AuthorityCode, CertificateNumber

from ..auth import AuthenticatedKey, Role, require_roles
from ..db import Mra
from ..deps import SessionDep
from ..outbox import get_operation
from ..schemas.mras import MraCreate, MraPartyPublic, MraPublic, MrasPublic, RecognitionPublic
from ..schemas.operations import OperationPublic
from ..schemas.problems import AUTH_PROBLEMS, BODY_PROBLEMS, problem_responses
from ..services import mras as service
from ..workers import wake_sender
from .operations import IdempotencyKeyDep, accepted

router = APIRouter(tags=["mras"])

MraWriter = Annotated[AuthenticatedKey, Depends(require_roles(Role.MRA_OFFICER, Role.ADMIN))]
MraReader = Annotated[
    AuthenticatedKey, Depends(require_roles(Role.MRA_OFFICER, Role.ADMIN, Role.AUDITOR))
]
# Recognition is half of a border check, so border officers may ask too.
RecognitionReader = Annotated[
    AuthenticatedKey,
    Depends(require_roles(Role.MRA_OFFICER, Role.ADMIN, Role.AUDITOR, Role.BORDER_OFFICER)),
]
#: MRA ids are a uint256 on-chain, counted from 1; bounded so every layer keeps them exact
MAX_MRA_ID = 2**63 - 1
MraId = Annotated[
    int, Path(ge=1, le=MAX_MRA_ID, description="The MRA's on-chain id.", examples=[1])
]


def mra_public(mra: Mra, day: Day) -> MraPublic:
    return MraPublic(
        id=service.mra_number(mra),
        status=service.status_name(service.effective_status(mra, day)),
        state=mra.status,
        proposer=mra.proposer,
        effective_from=mra.effective_from,
        ends_on=mra.ends_on,
        text_hash="0x" + mra.text_hash.hex(),
        parties=[
            MraPartyPublic(
                authority=party.authority,
                recognized_tiers=party.recognized_tiers,
                signed=party.signed_at is not None,
                signed_at=party.signed_at,
            )
            for party in mra.parties
        ],
        updated_block=mra.updated_block,
    )


@router.post(
    "/mras",
    summary="Propose an MRA (this administration signs it by proposing)",
    status_code=202,
    response_model=OperationPublic,
    responses=problem_responses(*AUTH_PROBLEMS, *BODY_PROBLEMS),
)
def propose_mra(
    body: MraCreate,
    caller: MraWriter,
    session: SessionDep,
    idempotency_key: IdempotencyKeyDep,
    request: Request,
    response: Response,
) -> OperationPublic:
    result = service.propose(
        session,
        key=caller,
        idempotency_key=idempotency_key,
        request=body,
        day=days.today(),
    )
    wake_sender(request)
    return accepted(response, result.operation)


_ACTION_SUMMARIES = {
    service.MraAction.SIGN: "Sign a proposed MRA (it enters into force when every party signed)",
    service.MraAction.SUSPEND: "Suspend an MRA (only the suspending party may resume it)",
    service.MraAction.RESUME: "Resume an MRA this administration suspended",
    service.MraAction.TERMINATE: "Terminate an MRA (final)",
}


def _action_route(action: service.MraAction) -> Callable[..., OperationPublic]:
    def change_mra(
        mra_id: MraId,
        caller: MraWriter,
        session: SessionDep,
        idempotency_key: IdempotencyKeyDep,
        request: Request,
        response: Response,
    ) -> OperationPublic:
        result = service.change(
            session,
            key=caller,
            idempotency_key=idempotency_key,
            action=action,
            mra_id=mra_id,
            day=days.today(),
        )
        wake_sender(request)
        return accepted(response, result.operation)

    change_mra.__name__ = f"{action.value}_mra"
    return change_mra


for _action in service.MraAction:
    router.add_api_route(
        f"/mras/{{mra_id}}/{_action.value}",
        _action_route(_action),
        methods=["POST"],
        summary=_ACTION_SUMMARIES[_action],
        status_code=202,
        response_model=OperationPublic,
        responses=problem_responses(*AUTH_PROBLEMS, 404, 409, 422),
    )


@router.get(
    "/mras",
    summary="List MRAs as indexed, with their effective status today",
    response_model=MrasPublic,
    # 404: an operation_id no write answered with
    responses=problem_responses(*AUTH_PROBLEMS, 404, 422),
)
def list_mras(
    _caller: MraReader,
    session: SessionDep,
    status: Annotated[
        str | None,
        Query(
            description="Only MRAs with this effective status.",
            pattern="^(" + "|".join(service.STATUS_NAMES) + ")$",
            examples=["in_force"],
        ),
    ] = None,
    party: Annotated[
        AuthorityCode | None,
        Query(description="Only MRAs this authority is a party to.", examples=["KR"]),
    ] = None,
    operation_id: Annotated[
        uuid.UUID | None,
        Query(
            description="Only the MRA a propose operation created (empty until the operation "
            "is confirmed and indexed)."
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> MrasPublic:
    day = days.today()
    if operation_id is not None:
        created = service.proposed_by(session, get_operation(session, operation_id))
        rows = [created] if created is not None else []
        return MrasPublic(data=[mra_public(mra, day) for mra in rows], count=len(rows))
    rows, count = service.list_mras(
        session, day=day, status=status, party=party, limit=limit, offset=offset
    )
    return MrasPublic(data=[mra_public(mra, day) for mra in rows], count=count)


@router.get(
    "/mras/{mra_id}",
    summary="One MRA as indexed, with its effective status today",
    response_model=MraPublic,
    responses=problem_responses(*AUTH_PROBLEMS, 404, 422),
)
def read_mra(mra_id: MraId, _caller: MraReader, session: SessionDep) -> MraPublic:
    return mra_public(service.get_mra(session, mra_id), days.today())


@router.get(
    "/recognition/{issuer}/{number}",
    summary="Does this administration recognize a certificate today, and if not, why",
    response_model=RecognitionPublic,
    responses=problem_responses(*AUTH_PROBLEMS, 422),
)
def read_recognition(
    issuer: Annotated[
        AuthorityCode, Path(description="The issuing authority's code.", examples=["KR"])
    ],
    number: Annotated[
        CertificateNumber,
        Path(
            description="The certificate number.",
            examples=["KR-AEO-AA-0042"],
        ),
    ],
    caller: RecognitionReader,
    session: SessionDep,
) -> RecognitionPublic:
    found = service.recognition(
        session, authority=caller.authority, issuer=issuer, number=number, day=days.today()
    )
    return RecognitionPublic(
        authority=found.authority,
        issuer=found.issuer,
        number=found.number,
        certificate_id="0x" + found.certificate_id.hex(),
        recognized=found.answer.recognized,
        reason=found.answer.reason.code,
        mra_id=found.answer.mra_id or None,
        certificate_status=found.certificate_status.name.lower(),
        tiers=found.tiers,
        as_of=days.from_day(found.day),
    )
