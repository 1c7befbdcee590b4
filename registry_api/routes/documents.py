"""The certificate itself: its QR code (PNG, SVG), the signed payload text, the PDF.

Every answer carries the QR code's version and error-correction level in headers
(``AEO-QR-Version``, ``AEO-QR-Error-Correction``) and the signing key's id
(``AEO-Signing-Key-Id``), so a printing workflow can check them without decoding anything.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from ..auth import AuthenticatedKey, Role, require_roles
from ..deps import SessionDep, SettingsDep
from ..rendering.pdf import (
    PDF_MEDIA_TYPE,
    PNG_MEDIA_TYPE,
    QR_ERROR_CORRECTION,
    SVG_MEDIA_TYPE,
    certificate_pdf,
    qr_png,
    qr_svg,
)
from ..schemas.problems import AUTH_PROBLEMS, problem_responses
from ..services import documents as service
from ..services.documents import PayloadCache, SignedPayload

router = APIRouter(prefix="/certificates", tags=["certificate documents"])

#: who may print this administration's certificates (partners read records, not documents)
DOCUMENT_ROLES = (Role.ADMIN, Role.ISSUING_OFFICER, Role.AUDITOR)
DocumentKey = Annotated[AuthenticatedKey, Depends(require_roles(*DOCUMENT_ROLES))]

Number = Annotated[str, Path(description="The certificate number.", examples=["MN-AEO-2025-0001"])]

_DOCUMENT_PROBLEMS = problem_responses(*AUTH_PROBLEMS, 404, 409, 422, 503)
_PROBLEM_409 = (
    "A document cannot be produced now: the certificate is not confirmed on-chain, is "
    "revoked, or this administration's signing key is not registered (yet)."
)
_DOCUMENT_PROBLEMS[409] = {**_DOCUMENT_PROBLEMS[409], "description": _PROBLEM_409}


def payload_cache(request: Request) -> PayloadCache:
    """The app's cache of signed payloads (created on first use)."""
    state = request.app.state
    cache: PayloadCache | None = getattr(state, "payload_cache", None)
    if cache is None:
        cache = PayloadCache()
        state.payload_cache = cache
    return cache


PayloadCacheDep = Annotated[PayloadCache, Depends(payload_cache)]


def _headers(signed: SignedPayload) -> dict[str, str]:
    return {
        "AEO-QR-Version": str(signed.qr_version),
        "AEO-QR-Error-Correction": QR_ERROR_CORRECTION,
        "AEO-Signing-Key-Id": signed.kid.hex(),
        # Status changes are read live by verifiers; a stale copy of the paper is harmless,
        # but keep trader data out of shared caches.
        "Cache-Control": "private, no-store",
    }


def _binary(what: str) -> dict[str, object]:
    return {"schema": {"type": "string", "format": "binary"}, "example": f"({what})"}


_HEADER_DOCS = {
    "AEO-QR-Version": {"description": "QR version (1..40); AEO1 aims at 10 or lower."},
    "AEO-QR-Error-Correction": {"description": "Always M."},
    "AEO-Signing-Key-Id": {"description": "The kid (hex) the payload is signed with."},
}


@router.get(
    "/{number}/payload",
    summary="The signed AEO1 payload the QR code carries, as text",
    response_class=Response,
    responses={
        200: {
            "description": "The QR code's text (docs/qr-format.md).",
            "content": {"text/plain": {"example": "AEO1:NCFY90R10RDWT 9O60GO0..."}},
            "headers": _HEADER_DOCS,
        },
        **_DOCUMENT_PROBLEMS,
    },
)
def read_payload(
    number: Number,
    _caller: DocumentKey,
    session: SessionDep,
    settings: SettingsDep,
    cache: PayloadCacheDep,
) -> Response:
    certificate = service.documentable_certificate(session, settings, number)
    signed = service.signed_payload(session, settings, cache, certificate)
    return Response(signed.text, media_type="text/plain", headers=_headers(signed))


@router.get(
    "/{number}/qr.png",
    summary="The certificate's QR code as PNG (alphanumeric mode, error correction M)",
    response_class=Response,
    responses={
        200: {
            "description": "A PNG, 8 pixels per module, 4-module quiet zone.",
            "content": {PNG_MEDIA_TYPE: _binary("the PNG image")},
            "headers": _HEADER_DOCS,
        },
        **_DOCUMENT_PROBLEMS,
    },
)
def read_qr_png(
    number: Number,
    _caller: DocumentKey,
    session: SessionDep,
    settings: SettingsDep,
    cache: PayloadCacheDep,
) -> Response:
    certificate = service.documentable_certificate(session, settings, number)
    signed = service.signed_payload(session, settings, cache, certificate)
    image = qr_png(signed.text)
    return Response(image.content, media_type=image.media_type, headers=_headers(signed))


@router.get(
    "/{number}/qr.svg",
    summary="The certificate's QR code as SVG",
    response_class=Response,
    responses={
        200: {
            "description": "An SVG (one path; scales without loss).",
            "content": {
                SVG_MEDIA_TYPE: {
                    "schema": {"type": "string"},
                    "example": '<svg xmlns="http://www.w3.org/2000/svg" ...>',
                }
            },
            "headers": _HEADER_DOCS,
        },
        **_DOCUMENT_PROBLEMS,
    },
)
def read_qr_svg(
    number: Number,
    _caller: DocumentKey,
    session: SessionDep,
    settings: SettingsDep,
    cache: PayloadCacheDep,
) -> Response:
    certificate = service.documentable_certificate(session, settings, number)
    signed = service.signed_payload(session, settings, cache, certificate)
    image = qr_svg(signed.text, title=f"AEO certificate {certificate.number}")
    return Response(image.content, media_type=image.media_type, headers=_headers(signed))


@router.get(
    "/{number}/certificate.pdf",
    summary="The printable certificate (A4 PDF with the QR code)",
    response_class=Response,
    responses={
        200: {
            "description": "One A4 page: issuer, holder, tiers, roles, validity, QR code.",
            "content": {PDF_MEDIA_TYPE: _binary("the PDF document")},
            "headers": _HEADER_DOCS,
        },
        **_DOCUMENT_PROBLEMS,
    },
)
def read_certificate_pdf(
    number: Number,
    _caller: DocumentKey,
    session: SessionDep,
    settings: SettingsDep,
    cache: PayloadCacheDep,
) -> Response:
    now = datetime.now(UTC)
    certificate = service.documentable_certificate(session, settings, number)
    signed = service.signed_payload(session, settings, cache, certificate, now)
    document = service.certificate_document(session, settings, certificate, signed, now)
    headers = _headers(signed)
    filename = certificate.number.replace("/", "-")
    headers["Content-Disposition"] = f'inline; filename="{filename}.pdf"'
    return Response(certificate_pdf(document), media_type=PDF_MEDIA_TYPE, headers=headers)
