"""The consortium pages: the members, the open membership proposals and our vote, our
accounts on the chain and our document-signing keys (rotated after a confirmation), and the
API keys of machines (a new key's token shown once; revoked after a confirmation).

Everything goes through the API's services with the API's role requirements: reads for
administrators and auditors (:mod:`registry_api.routes.admin_chain`), writes and API keys for
administrators. Chain writes go through the outbox as the signed-in person's console key,
and their page follows them to confirmed.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, Path, Request
from pydantic import ValidationError
from starlette.responses import Response

from contracts.domain.enums import SIGNING_ALGORITHMS

from ..auth import AdminKey, AuthenticatedKey, Role
from ..db import ApiKey, Authority
from ..deps import SessionDep
from ..errors import ConflictError, FieldError, InvalidError, NotFoundError, RegistryError
from ..routes import admin_chain as admin_api
from ..schemas.admin_chain import ProposalStatusName, SigningKeyRotate
from ..schemas.api_keys import ApiKeyCreate
from ..services import admin_chain as service, api_keys
from ..workers import Workers, wake_sender
from .app import redirect
from .csrf import ConsoleRoute
from .deps import console_of
from .i18n import N_
from .mras import IdempotencyField, Subject, api_requirement, followed_operation, untrusted_error
from .principal import CONSOLE_KEY_PREFIX

router = APIRouter(route_class=ConsoleRoute)

#: the API's requirements: who reads the consortium's state, who changes it
CONSORTIUM_READERS = api_requirement(admin_api.ReaderKey)
ADMINS = api_requirement(AdminKey)
Reader = Annotated[AuthenticatedKey, Depends(CONSORTIUM_READERS)]
Admin = Annotated[AuthenticatedKey, Depends(ADMINS)]
ProposalId = Annotated[int, Path(ge=1, le=2**63 - 1)]
KeyId = Annotated[int, Path(ge=1, le=2**31 - 1)]

OPERATION_KINDS: Mapping[str, str] = {
    "vote_membership": N_("Vote on a membership proposal"),
    "register_signing_key": N_("Registration of a signing key"),
    "revoke_signing_key": N_("Revocation of a signing key"),
}
ACTION_LABELS: Mapping[str, str] = {
    "admit": N_("Admit"),
    "suspend": N_("Suspend"),
    "reinstate": N_("Reinstate"),
    "remove": N_("Remove"),
}
ROLE_CHOICES = tuple(Role)


def _own_address(request: Request) -> str | None:
    """The account this registry's outbox sends from (as the API's accounts list marks it)."""
    workers: Workers | None = getattr(request.app.state, "workers", None)
    sender = workers.sender if workers is not None else None
    return sender.address if sender is not None else None


def _operation_url(request: Request, operation_id: uuid.UUID) -> str:
    return f"{request.scope.get('root_path', '')}/consortium/operations/{operation_id}"


@router.get("/consortium", name="consortium")
def consortium_page(request: Request, db: SessionDep, caller: Reader) -> Response:
    settings = console_of(request).settings
    members = list(db.scalars(sa.select(Authority).order_by(Authority.code)))
    proposals = service.list_proposals(db, settings, ProposalStatusName.OPEN)
    context = {
        "members": members,
        "proposals": proposals,
        "accounts": service.list_accounts(db, settings, None, _own_address(request)),
        "signing_keys": service.list_signing_keys(db, settings, None),
        "may_write": caller.role in ADMINS.roles,
        "action_labels": ACTION_LABELS,
    }
    return console_of(request).page(request, "consortium.html", context)


# ---------------------------------------------------------------- votes


def _open_proposal(request: Request, db: SessionDep, proposal_id: int) -> Any:
    settings = console_of(request).settings
    found = [p for p in service.list_proposals(db, settings) if p.id == proposal_id]
    if not found:
        raise NotFoundError(f"no membership proposal {proposal_id}")
    return found[0]


def _vote_page(
    request: Request,
    db: SessionDep,
    proposal_id: int,
    *,
    refusal: str | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "proposal": _open_proposal(request, db, proposal_id),
        "action_labels": ACTION_LABELS,
        "idempotency_key": str(uuid.uuid4()),
        "refusal": refusal,
    }
    return console_of(request).page(
        request, "consortium_vote.html", context, status_code=status_code
    )


@router.get("/consortium/proposals/{proposal_id}/vote")
def vote_page(
    request: Request, db: SessionDep, _caller: Admin, proposal_id: ProposalId
) -> Response:
    return _vote_page(request, db, proposal_id)


@router.post("/consortium/proposals/{proposal_id}/vote")
def vote(
    request: Request,
    db: SessionDep,
    caller: Admin,
    proposal_id: ProposalId,
    idempotency_key: IdempotencyField,
) -> Response:
    settings = console_of(request).settings
    try:
        result = service.vote_on_proposal(db, settings, caller, idempotency_key, proposal_id)
    except (ConflictError, InvalidError) as exc:
        db.rollback()
        return _vote_page(request, db, proposal_id, refusal=exc.detail, status_code=int(exc.status))
    wake_sender(request)
    return redirect(request, _operation_url(request, result.operation.id))


# ---------------------------------------------------------------- signing keys


def _rotate_page(
    request: Request,
    db: SessionDep,
    *,
    algorithm: str = "",
    errors: list[FieldError] | None = None,
    status_code: int = 200,
) -> Response:
    settings = console_of(request).settings
    in_use = [key for key in service.list_signing_keys(db, settings, None) if key.signs_documents]
    context = {
        "in_use": in_use[0] if in_use else None,
        "algorithms": [algorithm.label for algorithm in SIGNING_ALGORITHMS],
        "algorithm": algorithm,
        "idempotency_key": str(uuid.uuid4()),
        "errors": errors or [],
    }
    return console_of(request).page(
        request, "consortium_rotate.html", context, status_code=status_code
    )


@router.get("/consortium/signing-keys/rotate")
def rotate_page(request: Request, db: SessionDep, _caller: Admin) -> Response:
    return _rotate_page(request, db)


@router.post("/consortium/signing-keys/rotate")
def rotate(
    request: Request,
    db: SessionDep,
    caller: Admin,
    idempotency_key: IdempotencyField,
    algorithm: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    settings = console_of(request).settings
    try:
        body = SigningKeyRotate.model_validate({"algorithm": algorithm or None})
    except ValidationError:
        errors = [FieldError("algorithm", N_("Choose one of the algorithms listed"))]
        return _rotate_page(request, db, algorithm=algorithm, errors=errors, status_code=400)
    try:
        rotation = service.rotate_signing_key(db, settings, caller, idempotency_key, body)
    except RegistryError as exc:
        # A refusal (a key file that cannot be written, no key in use...) is shown on the
        # form; nothing was recorded.
        db.rollback()
        errors = [untrusted_error("algorithm", exc.detail)]
        status_code = int(exc.status) if int(exc.status) < 500 else 503
        return _rotate_page(
            request, db, algorithm=algorithm, errors=errors, status_code=status_code
        )
    wake_sender(request)
    return redirect(request, _operation_url(request, rotation.register.id))


# ---------------------------------------------------------------- the operation


def _subject() -> Subject:
    return Subject("/consortium", N_("Back to the consortium"), {})


@router.get("/consortium/operations/{operation_id}", dependencies=[Depends(CONSORTIUM_READERS)])
def operation_page(request: Request, db: SessionDep, operation_id: uuid.UUID) -> Response:
    return followed_operation(
        request, db, operation_id, kinds=OPERATION_KINDS, base="/consortium", subject=_subject()
    )


@router.get(
    "/consortium/operations/{operation_id}/status", dependencies=[Depends(CONSORTIUM_READERS)]
)
def operation_status(request: Request, db: SessionDep, operation_id: uuid.UUID) -> Response:
    return followed_operation(
        request,
        db,
        operation_id,
        kinds=OPERATION_KINDS,
        base="/consortium",
        subject=_subject(),
        fragment=True,
    )


# ---------------------------------------------------------------- API keys


def _machine_keys(db: SessionDep) -> list[ApiKey]:
    """Active API keys of machines: a person's console keys are managed with the person."""
    keys, _count = api_keys.list_api_keys(db, limit=500)
    return [key for key in keys if not key.prefix.startswith(CONSOLE_KEY_PREFIX)]


def _keys_page(
    request: Request,
    db: SessionDep,
    *,
    form: Mapping[str, str] | None = None,
    errors: list[FieldError] | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "keys": _machine_keys(db),
        "roles": ROLE_CHOICES,
        "form": {"user": "", "role": "", "partner_authority": "", **(form or {})},
        "errors": errors or [],
    }
    return console_of(request).page(
        request, "consortium_api_keys.html", context, status_code=status_code
    )


@router.get("/consortium/api-keys")
def keys_page(request: Request, db: SessionDep, _caller: Admin) -> Response:
    return _keys_page(request, db)


_KEY_FIELDS = {"body.partner_authority": "partner_authority", "body.user": "user"}


@router.post("/consortium/api-keys")
def create_key(
    request: Request,
    db: SessionDep,
    caller: Admin,
    user: Annotated[str, Form(max_length=256)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
    partner_authority: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    typed = {"user": user, "role": role, "partner_authority": partner_authority}
    errors: list[FieldError] = []
    try:
        body = ApiKeyCreate.model_validate(
            {
                "user": user.strip(),
                "role": role,
                "partner_authority": partner_authority.strip().upper() or None,
            }
        )
    except ValidationError as exc:
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "user"
            message = {
                "user": N_("Enter who holds the key: a system or team name"),
                "role": N_("Choose the key's role"),
            }.get(field, error["msg"])
            errors.append(untrusted_error(field, message))
        return _keys_page(request, db, form=typed, errors=errors, status_code=400)
    try:
        key, token = api_keys.create_api_key(
            db,
            user=body.user,
            role=body.role,
            partner_authority=body.partner_authority,
            own_authority=console_of(request).settings.authority,
            created_by_id=caller.id,
        )
    except InvalidError as exc:
        db.rollback()
        errors = [
            untrusted_error(_KEY_FIELDS.get(error.field, "user"), error.message)
            for error in exc.errors
        ] or [untrusted_error("user", exc.detail)]
        return _keys_page(request, db, form=typed, errors=errors, status_code=400)
    # The token is shown on this answer only (pages are no-store); only its hash is kept.
    context = {"key": key, "token": token}
    return console_of(request).page(request, "consortium_api_key_created.html", context)


def _machine_key(db: SessionDep, key_id: int) -> ApiKey:
    key = api_keys.get_api_key(db, key_id)
    if key.prefix.startswith(CONSOLE_KEY_PREFIX):
        raise NotFoundError(f"no API key with id {key_id}")
    return key


@router.get("/consortium/api-keys/{key_id}/revoke")
def revoke_page(request: Request, db: SessionDep, _caller: Admin, key_id: KeyId) -> Response:
    key = _machine_key(db, key_id)
    return console_of(request).page(
        request, "consortium_api_key_revoke.html", {"key": key, "refusal": None}
    )


@router.post("/consortium/api-keys/{key_id}/revoke")
def revoke(request: Request, db: SessionDep, _caller: Admin, key_id: KeyId) -> Response:
    key = _machine_key(db, key_id)
    try:
        api_keys.revoke_api_key(db, key.id)
    except ConflictError as exc:
        db.rollback()
        return console_of(request).page(
            request,
            "consortium_api_key_revoke.html",
            {"key": key, "refusal": exc.detail},
            status_code=409,
        )
    return redirect(request, f"{request.scope.get('root_path', '')}/consortium/api-keys")
