"""``POST /v1/recognition/batch``: up to 1,000 certificates, by number or by identifier, each
answered with its status and whether an administration recognizes it (services/recognition.py
says who asks for whom, and what a partner may see)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from contracts.domain import days

from ..auth import AuthenticatedKey, Role, require_roles
from ..deps import SessionDep
from ..errors import FieldError, ForbiddenError
from ..schemas.problems import AUTH_PROBLEMS, BODY_PROBLEMS, problem_responses
from ..schemas.recognition import (
    RecognitionAnswerPublic,
    RecognitionAsOf,
    RecognitionBatch,
    RecognitionBatchPublic,
    RecognitionItem,
)
from ..services import recognition as service

# Tagged with the partner routes: the console's home page words each tag's area
# (registry_api/console/pages.py AREAS), and batch recognition is what partners share.
router = APIRouter(tags=["partners"])

# Every role: officers ask for their administration, partner keys for theirs.
BatchReader = Annotated[AuthenticatedKey, Depends(require_roles(*Role))]


def _item(item: RecognitionItem) -> service.Item:
    if item.number is not None:
        return service.ByNumber(item.number, item.issuer)
    # The model's own rule: an item without a number has both of these.
    assert item.scheme is not None
    assert item.value is not None
    return service.ByIdentifier(item.scheme, item.value)


def _public(item: RecognitionItem, answer: service.Answer) -> RecognitionAnswerPublic:
    return RecognitionAnswerPublic(
        item={k: v for k, v in item.model_dump().items() if v is not None},
        found=answer.found,
        issuer=answer.issuer,
        number=answer.number,
        certificate_id="0x" + answer.certificate_id.hex() if answer.certificate_id else None,
        status=answer.status.name.lower() if answer.status is not None else None,
        tiers=answer.tiers,
        valid_from=days.from_day(answer.valid_from) if answer.valid_from is not None else None,
        valid_until=days.date_or_none(answer.valid_until),
        recognized=answer.recognized,
        reason=answer.reason.code,
        mra_id=answer.mra_id,
    )


@router.post(
    "/recognition/batch",
    summary="Up to 1,000 certificates by number or identifier: status and recognition, in order",
    response_model=RecognitionBatchPublic,
    responses=problem_responses(*AUTH_PROBLEMS, *BODY_PROBLEMS),
)
def recognize_batch(
    body: RecognitionBatch, caller: BatchReader, session: SessionDep
) -> RecognitionBatchPublic:
    partner = caller.partner_authority
    if partner is not None and body.authority not in (None, partner):
        raise ForbiddenError(
            f"a key of {partner} asks for {partner}'s recognition only",
            errors=[FieldError("body.authority", f"must be {partner} or left out")],
        )
    result = service.recognize_batch(
        session,
        [_item(item) for item in body.items],
        own=caller.authority,
        authority=partner or body.authority or caller.authority,
        partner=partner is not None,
        day=days.today(),
    )
    return RecognitionBatchPublic(
        authority=result.authority,
        as_of=RecognitionAsOf(
            block=result.block, indexed_at=result.indexed_at, day=days.from_day(result.day)
        ),
        data=[
            _public(item, answer) for item, answer in zip(body.items, result.answers, strict=True)
        ],
        count=len(result.answers),
    )
