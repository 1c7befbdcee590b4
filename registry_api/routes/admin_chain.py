"""Administrators run this administration's part of the consortium: document-signing keys,
accounts on the chain, membership votes. Writes go through the outbox (202 + operation,
``Idempotency-Key`` required); lists come from the index."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response

from ..auth import AdminKey, AuthenticatedKey, Role, require_roles
from ..deps import SessionDep, SettingsDep
from ..schemas.admin_chain import (
    AccountCreate,
    AccountsPublic,
    MembershipProposalCreate,
    MembershipProposalsPublic,
    ProposalStatusName,
    SigningKeyRegister,
    SigningKeyRevoke,
    SigningKeyRotate,
    SigningKeyRotation,
    SigningKeysPublic,
)
from ..schemas.operations import OperationPublic
from ..schemas.problems import AUTH_PROBLEMS, BODY_PROBLEMS, problem_responses
from ..services import admin_chain as service
from ..workers import Workers, wake_sender
from .operations import IdempotencyKeyDep, accepted

router = APIRouter(prefix="/admin", tags=["consortium administration"])

ReaderKey = Annotated[AuthenticatedKey, Depends(require_roles(Role.ADMIN, Role.AUDITOR))]
AuthorityFilter = Annotated[
    str | None,
    Query(
        pattern=r"^([A-Z]{2,4}|\*)$",
        description="Another member's code, or * for every member; default: this one.",
    ),
]
_WRITE_PROBLEMS = problem_responses(*AUTH_PROBLEMS, 404, 409, 422, 503)
_BODY_WRITE_PROBLEMS = problem_responses(*AUTH_PROBLEMS, *BODY_PROBLEMS, 404, 409, 503)


def _own_address(request: Request) -> str | None:
    workers: Workers | None = getattr(request.app.state, "workers", None)
    sender = workers.sender if workers is not None else None
    return sender.address if sender is not None else None


# ---------------------------------------------------------------- signing keys


@router.get(
    "/signing-keys",
    summary="Document-signing keys as published on-chain, and this registry's key files",
    response_model=SigningKeysPublic,
    responses=problem_responses(*AUTH_PROBLEMS, 422),
)
def list_signing_keys(
    _caller: ReaderKey,
    session: SessionDep,
    settings: SettingsDep,
    authority: AuthorityFilter = None,
) -> SigningKeysPublic:
    keys = service.list_signing_keys(session, settings, authority)
    return SigningKeysPublic(data=keys, count=len(keys))


@router.post(
    "/signing-keys",
    summary="Register this registry's document-signing key (its key file) on-chain",
    response_model=OperationPublic,
    status_code=202,
    responses=_BODY_WRITE_PROBLEMS,
)
def register_signing_key(
    caller: AdminKey,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKeyDep,
    request: Request,
    response: Response,
    body: Annotated[
        SigningKeyRegister | None,
        Body(
            openapi_examples={
                "configured key file": {"value": {}},
                "trusted from a date": {"value": {"valid_from": "2025-04-01T00:00:00Z"}},
            }
        ),
    ] = None,
) -> OperationPublic:
    result = service.register_signing_key(
        session, settings, caller, idempotency_key, body or SigningKeyRegister()
    )
    wake_sender(request)
    return accepted(response, result.operation)


@router.post(
    "/signing-keys/rotate",
    summary="Rotate: a new key file, registered on-chain, then the current key revoked",
    response_model=SigningKeyRotation,
    status_code=202,
    responses=_BODY_WRITE_PROBLEMS,
)
def rotate_signing_key(
    caller: AdminKey,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKeyDep,
    request: Request,
    response: Response,
    body: Annotated[
        SigningKeyRotate | None,
        Body(
            openapi_examples={
                "same algorithm": {"value": {}},
                "to Ed25519": {"value": {"algorithm": "EdDSA"}},
            }
        ),
    ] = None,
) -> SigningKeyRotation:
    rotation = service.rotate_signing_key(
        session, settings, caller, idempotency_key, body or SigningKeyRotate()
    )
    wake_sender(request)
    register = accepted(response, rotation.register)
    return SigningKeyRotation(
        new_kid=rotation.new_kid,
        old_kid=rotation.old_kid,
        registration=register,
        revocation=OperationPublic.of(rotation.revoke),
    )


@router.post(
    "/signing-keys/{kid}/revoke",
    summary="Revoke one of this administration's signing keys on-chain",
    response_model=OperationPublic,
    status_code=202,
    responses=_BODY_WRITE_PROBLEMS,
)
def revoke_signing_key(
    kid: Annotated[
        str, Path(description="The key id (16 hex digits).", examples=["3f9a1c0b7d2e4a55"])
    ],
    caller: AdminKey,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKeyDep,
    request: Request,
    response: Response,
    body: Annotated[
        SigningKeyRevoke | None,
        Body(
            openapi_examples={
                "from now": {"value": {}},
                "compromised since": {"value": {"revoked_at": "2025-03-01T00:00:00Z"}},
            }
        ),
    ] = None,
) -> OperationPublic:
    result = service.revoke_signing_key(
        session, settings, caller, idempotency_key, kid, body or SigningKeyRevoke()
    )
    wake_sender(request)
    return accepted(response, result.operation)


# ---------------------------------------------------------------- accounts


@router.get(
    "/accounts",
    summary="Accounts acting for this administration on-chain (as indexed)",
    response_model=AccountsPublic,
    responses=problem_responses(*AUTH_PROBLEMS, 422),
)
def list_accounts(
    _caller: ReaderKey,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
    authority: AuthorityFilter = None,
) -> AccountsPublic:
    accounts = service.list_accounts(session, settings, authority, _own_address(request))
    return AccountsPublic(data=accounts, count=len(accounts))


@router.post(
    "/accounts",
    summary="Add an operator (or admin) account for this administration",
    response_model=OperationPublic,
    status_code=202,
    responses=_BODY_WRITE_PROBLEMS,
)
def add_account(
    body: AccountCreate,
    caller: AdminKey,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKeyDep,
    request: Request,
    response: Response,
) -> OperationPublic:
    result = service.add_account(session, settings, caller, idempotency_key, body)
    wake_sender(request)
    return accepted(response, result.operation)


@router.delete(
    "/accounts/{address}",
    summary="Remove one of this administration's accounts",
    response_model=OperationPublic,
    status_code=202,
    responses=_WRITE_PROBLEMS,
)
def remove_account(
    address: Annotated[
        str,
        Path(
            pattern=r"^0x[0-9a-fA-F]{40}$",
            description="The account (0x + 40 hex digits).",
            examples=["0x8ba1f109551bD432803012645Ac136ddd64DBA72"],
        ),
    ],
    caller: AdminKey,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKeyDep,
    request: Request,
    response: Response,
) -> OperationPublic:
    result = service.remove_account(
        session,
        settings,
        caller,
        idempotency_key,
        service.checksum_address(address),
        _own_address(request),
    )
    wake_sender(request)
    return accepted(response, result.operation)


# ---------------------------------------------------------------- membership


@router.get(
    "/membership-proposals",
    summary="Consortium membership proposals and their votes (as indexed), newest first",
    response_model=MembershipProposalsPublic,
    responses=problem_responses(*AUTH_PROBLEMS, 422),
)
def list_membership_proposals(
    _caller: ReaderKey,
    session: SessionDep,
    settings: SettingsDep,
    status: Annotated[ProposalStatusName | None, Query(description="Only these.")] = None,
) -> MembershipProposalsPublic:
    proposals = service.list_proposals(session, settings, status)
    return MembershipProposalsPublic(data=proposals, count=len(proposals))


@router.post(
    "/membership-proposals",
    summary="Propose to admit, suspend, reinstate or remove a member (counts as our vote)",
    response_model=OperationPublic,
    status_code=202,
    responses=_BODY_WRITE_PROBLEMS,
)
def propose_membership(
    body: MembershipProposalCreate,
    caller: AdminKey,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKeyDep,
    request: Request,
    response: Response,
) -> OperationPublic:
    result = service.propose_membership(session, settings, caller, idempotency_key, body)
    wake_sender(request)
    return accepted(response, result.operation)


@router.post(
    "/membership-proposals/{proposal_id}/vote",
    summary="Approve a membership proposal",
    response_model=OperationPublic,
    status_code=202,
    responses=_WRITE_PROBLEMS,
)
def vote_on_proposal(
    proposal_id: Annotated[int, Path(ge=1, le=2**63 - 1, description="The proposal's id.")],
    caller: AdminKey,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKeyDep,
    request: Request,
    response: Response,
) -> OperationPublic:
    result = service.vote_on_proposal(session, settings, caller, idempotency_key, proposal_id)
    wake_sender(request)
    return accepted(response, result.operation)
