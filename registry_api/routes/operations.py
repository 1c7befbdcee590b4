"""Operations: the chain writes this administration accepted, for callers to poll.

Also what every write route shares: :data:`IdempotencyKeyDep` (the required header) and
:func:`accepted` (the 202 answer with the operation).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Response, status

from ..auth import AuthenticatedKey, Role, require_roles
from ..db import Operation
from ..deps import SessionDep
from ..outbox import IDEMPOTENCY_HEADER, check_idempotency_key, get_operation
from ..schemas.operations import OperationPublic
from ..schemas.problems import AUTH_PROBLEMS, problem_responses

router = APIRouter(prefix="/operations", tags=["accepted writes"])

#: the staff of this administration (partners and border officers see no operations)
STAFF_ROLES = (Role.ADMIN, Role.ISSUING_OFFICER, Role.MRA_OFFICER, Role.AUDITOR)
StaffKey = Annotated[AuthenticatedKey, Depends(require_roles(*STAFF_ROLES))]


def idempotency_key_header(
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=IDEMPOTENCY_HEADER,
            description="Required. A retried request with the same key is applied once.",
            examples=["4f1c9a0e-2b7d-4e3a-9c5f-8d6b1a0e7c2f"],
        ),
    ] = None,
) -> str:
    """The ``Idempotency-Key`` header; a 422 problem naming it when missing."""
    return check_idempotency_key(idempotency_key)


IdempotencyKeyDep = Annotated[str, Depends(idempotency_key_header)]


def accepted(response: Response, operation: Operation) -> OperationPublic:
    """Shape a write's answer: 202, ``Location`` of the operation, its current state."""
    response.status_code = status.HTTP_202_ACCEPTED
    response.headers["Location"] = f"/v1/operations/{operation.id}"
    return OperationPublic.of(operation)


@router.get(
    "/{operation_id}",
    summary="An accepted chain write and its state (pending, submitted, confirmed, failed)",
    response_model=OperationPublic,
    responses=problem_responses(*AUTH_PROBLEMS, 404, 422),
)
def read_operation(
    operation_id: Annotated[uuid.UUID, Path(description="The id a write answered with.")],
    _caller: StaffKey,
    session: SessionDep,
) -> OperationPublic:
    return OperationPublic.of(get_operation(session, operation_id))
