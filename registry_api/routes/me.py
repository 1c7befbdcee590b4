from __future__ import annotations

from fastapi import APIRouter

from ..auth import AnyKey
from ..schemas.api_keys import MePublic
from ..schemas.problems import AUTH_PROBLEMS, problem_responses

router = APIRouter(tags=["me"])


@router.get(
    "/me",
    summary="Who am I: the calling key, its role and administration",
    response_model=MePublic,
    responses=problem_responses(*AUTH_PROBLEMS),
)
def read_me(key: AnyKey) -> MePublic:
    return MePublic(
        key_id=key.id,
        prefix=key.prefix,
        user=key.user,
        role=key.role,
        partner_authority=key.partner_authority,
        authority=key.authority,
        acts_for=key.acts_for,
    )
