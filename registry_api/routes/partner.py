"""What a partner administration reads: the full records of this administration's
certificates that fall under an MRA in force with it. Anything else answers 404, the same
as a certificate that does not exist, so a partner learns nothing about the others."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from contracts.domain import days
from contracts.domain.record import CertificateNumber

from ..auth import AuthenticatedKey, Role, require_roles
from ..deps import SessionDep
from ..schemas.partner import SharedCertificatePublic, SharedCertificatesPublic
from ..schemas.problems import AUTH_PROBLEMS, problem_responses
from ..services import partner as service
from ..services.certificates import CertificateView, record_json

router = APIRouter(prefix="/partner", tags=["partners"])

PartnerKey = Annotated[AuthenticatedKey, Depends(require_roles(Role.PARTNER))]


def shared_public(view: CertificateView) -> SharedCertificatePublic:
    certificate = view.certificate
    state = view.chain_state or {}
    return SharedCertificatePublic(
        number=certificate.number,
        issuer=certificate.issuer,
        certificate_id="0x" + certificate.certificate_id.hex(),
        record=record_json(view.record),
        status=certificate.status.value,
        effective_status=view.effective_status,
        status_reason=certificate.status_reason,
        remedy_deadline=certificate.remedy_deadline,
        version=certificate.version,
        valid_until=view.valid_until,
        commitment=state.get("commitment"),
        proof_matches=view.proof_matches,
        updated_at=certificate.updated_at,
    )


def _partner(caller: AuthenticatedKey) -> str:
    # require_roles admitted a partner key, and partner keys always name their administration.
    assert caller.partner_authority is not None
    return caller.partner_authority


@router.get(
    "/certificates",
    summary="This administration's certificates the caller's administration recognizes",
    response_model=SharedCertificatesPublic,
    responses=problem_responses(*AUTH_PROBLEMS, 422),
)
def list_shared_certificates(
    caller: PartnerKey,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> SharedCertificatesPublic:
    day = days.today()
    rows, count = service.partner_certificates(
        session,
        own=caller.authority,
        partner=_partner(caller),
        day=day,
        limit=limit,
        offset=offset,
    )
    return SharedCertificatesPublic(data=[shared_public(view) for view in rows], count=count)


@router.get(
    "/certificates/{number}",
    summary="One certificate's full record, if the caller's administration recognizes it",
    response_model=SharedCertificatePublic,
    responses=problem_responses(*AUTH_PROBLEMS, 404, 422),
)
def read_shared_certificate(
    number: Annotated[
        CertificateNumber,
        Path(description="The certificate number.", examples=["MN-AEO-1"]),
    ],
    caller: PartnerKey,
    session: SessionDep,
) -> SharedCertificatePublic:
    day = days.today()
    view = service.partner_certificate(
        session, own=caller.authority, partner=_partner(caller), day=day, number=number
    )
    return shared_public(view)
