"""Administrators manage users' API keys. Creating a key is the only time its token is
shown; the response says ``Cache-Control: no-store`` so no cache keeps it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from ..auth import AdminKey
from ..db import Role
from ..deps import SessionDep, SettingsDep
from ..schemas.api_keys import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic, ApiKeysPublic
from ..schemas.problems import AUTH_PROBLEMS, BODY_PROBLEMS, problem_responses
from ..services import api_keys as service

router = APIRouter(prefix="/admin/api-keys", tags=["api keys"])

#: database integers are 32-bit on PostgreSQL and 64-bit on SQLite: bound what callers send
MAX_DB_INT = 2**31 - 1
KeyId = Annotated[
    int, Path(ge=1, le=MAX_DB_INT, description="The key's id (not its prefix).", examples=[7])
]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key for a user; the token is in this answer only",
    response_model=ApiKeyCreated,
    responses=problem_responses(*AUTH_PROBLEMS, *BODY_PROBLEMS),
)
def create_api_key(
    body: ApiKeyCreate,
    caller: AdminKey,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
) -> ApiKeyCreated:
    key, token = service.create_api_key(
        session,
        user=body.user,
        role=body.role,
        partner_authority=body.partner_authority,
        own_authority=settings.authority,
        created_by_id=caller.id,
    )
    response.headers["Cache-Control"] = "no-store"
    return ApiKeyCreated(**ApiKeyPublic.of(key).model_dump(), token=token)


@router.get(
    "",
    summary="List API keys, newest first",
    response_model=ApiKeysPublic,
    responses=problem_responses(*AUTH_PROBLEMS, 422),
)
def list_api_keys(
    _caller: AdminKey,
    session: SessionDep,
    include_revoked: Annotated[bool, Query(description="Also list revoked keys.")] = False,
    role: Annotated[Role | None, Query(description="Only keys with this role.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_DB_INT)] = 0,
) -> ApiKeysPublic:
    keys, count = service.list_api_keys(
        session, include_revoked=include_revoked, role=role, limit=limit, offset=offset
    )
    return ApiKeysPublic(data=[ApiKeyPublic.of(k) for k in keys], count=count)


@router.get(
    "/{key_id}",
    summary="One API key",
    response_model=ApiKeyPublic,
    responses=problem_responses(*AUTH_PROBLEMS, 404, 422),
)
def read_api_key(key_id: KeyId, _caller: AdminKey, session: SessionDep) -> ApiKeyPublic:
    return ApiKeyPublic.of(service.get_api_key(session, key_id))


@router.delete(
    "/{key_id}",
    summary="Revoke an API key (it answers 401 from now on); idempotent",
    response_model=ApiKeyPublic,
    responses=problem_responses(*AUTH_PROBLEMS, 404, 409, 422),
)
def revoke_api_key(key_id: KeyId, _caller: AdminKey, session: SessionDep) -> ApiKeyPublic:
    return ApiKeyPublic.of(service.revoke_api_key(session, key_id))
