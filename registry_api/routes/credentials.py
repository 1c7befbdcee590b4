"""W3C Verifiable Credentials: a certificate's credential, the status list credentials, the
JSON-LD context of the AEO terms and the administration's DID document (docs/credentials.md).

The certificate's credential is for the administration's own officers (as its documents
are); the status lists, the context and the DID document are public, since any verifier a
holder presents the credential to must be able to read them without a key of this registry.
They are outside ``/v1`` (whose every route needs a key), also because signed credentials
carry their URLs for years: those must not move with a new API version.
"""

from __future__ import annotations

import base64
from enum import Enum, StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request, Response
from fastapi.responses import JSONResponse

from contracts.domain import ids

from .. import credentials as vc
from ..deps import SessionDep, SettingsDep
from ..errors import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_PREFIX
from ..schemas.problems import AUTH_PROBLEMS, Problem, problem_responses
from ..services import credentials as service
from ..services.credentials import Issued, NotAcceptableError, SignedCache
from .documents import DocumentKey, PayloadCacheDep

# The certificate's credential is one of its documents (same roles, and the console's words
# for that area); the public routes have a tag of their own.
router = APIRouter()
_PUBLIC: list[str | Enum] = ["credentials"]

#: what a credential can be asked for as, and what the answer then is
_JSON_TYPES = (vc.VC_MEDIA_TYPE, "application/json", vc.LD_JSON_MEDIA_TYPE)


class StatusPurpose(StrEnum):
    REVOCATION = "revocation"
    SUSPENSION = "suspension"


def signed_cache(request: Request) -> SignedCache:
    """The app's cache of signed credentials (created on first use)."""
    state = request.app.state
    cache: SignedCache | None = getattr(state, "credential_cache", None)
    if cache is None:
        cache = SignedCache()
        state.credential_cache = cache
    return cache


SignedCacheDep = Annotated[SignedCache, Depends(signed_cache)]
AcceptHeader = Annotated[
    str | None,
    Header(
        description="`application/vc+jwt` for the credential secured as a JWS; "
        "`application/vc` (or `application/json`) for the credential itself, the default."
    ),
]


def _ranges(accept: str) -> list[tuple[str, float]]:
    ranges: list[tuple[str, float]] = []
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        if not media:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = -1.0
                if not 0 <= quality <= 1:  # also NaN
                    raise NotAcceptableError(
                        f"header Accept: {value!r} is not a quality value (q=0 to 1)"
                    )
        ranges.append((media.lower(), quality))
    return ranges


def _rank(ranges: list[tuple[str, float]], media_type: str) -> tuple[float, int]:
    """(quality, specificity) of ``media_type`` under the best range that matches it."""
    kind = media_type.split("/")[0]
    best = (0.0, -1)
    for media, quality in ranges:
        if media == media_type:
            specificity = 2
        elif media == f"{kind}/*":
            specificity = 1
        elif media == "*/*":
            specificity = 0
        else:
            continue
        best = max(best, (quality, specificity))
    return best


def negotiate(accept: str | None) -> str:
    """The media type to answer with: :data:`vc.VC_JWT_MEDIA_TYPE` or one of the JSON
    types, whichever the Accept header ranks higher by quality, then by how exactly it names
    it. A tie goes to the JWS only when the header names it (it is the secured form), else to
    ``application/vc``, so ``*/*`` and no header at all get the plain credential. Raises a
    406 problem when the header accepts none of them."""
    if accept is None or not accept.strip():
        return vc.VC_MEDIA_TYPE
    ranges = _ranges(accept)

    def score(media: str) -> tuple[float, int, bool]:
        quality, specificity = _rank(ranges, media)
        return quality, specificity, media == vc.VC_JWT_MEDIA_TYPE and specificity == 2

    # max() keeps the first of equals: application/vc leads the list.
    media = max((*_JSON_TYPES, vc.VC_JWT_MEDIA_TYPE), key=score)
    if score(media)[0] <= 0:
        raise NotAcceptableError(
            f"header Accept: {accept!r} accepts none of {vc.VC_JWT_MEDIA_TYPE}, "
            + ", ".join(_JSON_TYPES)
        )
    return media


def _answer(issued: Issued, media_type: str, cache_control: str) -> Response:
    headers = {"Vary": "Accept", "Cache-Control": cache_control}
    if issued.kid is not None and issued.jwt is not None:
        headers["AEO-Signing-Key-Id"] = issued.kid.hex()
    if media_type == vc.VC_JWT_MEDIA_TYPE:
        assert issued.jwt is not None
        return Response(issued.jwt, media_type=media_type, headers=headers)
    return JSONResponse(issued.credential, media_type=media_type, headers=headers)


_NOT_ACCEPTABLE: dict[int | str, dict[str, Any]] = {
    406: {
        "model": Problem,
        "description": "The Accept header accepts neither the JWS nor JSON",
        "content": {
            PROBLEM_MEDIA_TYPE: {
                "example": {
                    "type": PROBLEM_TYPE_PREFIX + "not-acceptable",
                    "title": "Not acceptable",
                    "status": 406,
                    "detail": "header Accept: 'text/html' accepts none of application/vc+jwt, "
                    "application/vc, application/json, application/ld+json",
                    "instance": "/status-lists/revocation/1",
                }
            }
        },
    }
}

_EXAMPLE_URL = "https://registry.customs.mn"
_EXAMPLE_CLAIMS_SUBJECT = {
    "type": "AuthorizedEconomicOperator",
    "legalName": "Tavan Bogd Trade LLC",
    "identifierScheme": "TIN",
    "identifier": "5012345",
    "issuingAuthority": "MN",
    "certificateNumber": "MN-AEO-2025-0001",
    "certificateId": "0x" + ids.certificate_id("MN", "MN-AEO-2025-0001").hex(),
    "certificateVersion": 1,
    "tiers": 3,
    "tierNames": ["C", "S"],
    "certificateValidFrom": "2025-01-15",
    "recordDigest": "0x8f3a6c0e1d2b4a5968776655443322110ffeeddc",
    "certificateValidUntil": "2030-01-14",
}
_CREDENTIAL_EXAMPLE = {
    "@context": [vc.VC_CONTEXT, f"{_EXAMPLE_URL}{vc.CONTEXT_PATH}"],
    "id": f"{_EXAMPLE_URL}/v1/certificates/MN-AEO-2025-0001/credential",
    "type": ["VerifiableCredential", "AEOCertificateCredential"],
    "issuer": {
        "id": "did:web:registry.customs.mn",
        "name": "Mongolia Customs General Administration",
        "authorityCode": "MN",
    },
    "validFrom": "2025-01-15T00:00:00Z",
    "validUntil": "2030-01-15T00:00:00Z",
    "credentialSubject": _EXAMPLE_CLAIMS_SUBJECT,
    "credentialStatus": [
        vc.status_entry(_EXAMPLE_URL, purpose, 1, 94567) for purpose in vc.PURPOSES
    ],
}
_STATUS_LIST_EXAMPLE = {
    "@context": [vc.VC_CONTEXT],
    "id": f"{_EXAMPLE_URL}/status-lists/revocation/1",
    "type": ["VerifiableCredential", "BitstringStatusListCredential"],
    "issuer": "did:web:registry.customs.mn",
    "validFrom": "2026-12-07T10:15:02Z",
    "credentialSubject": {
        "id": f"{_EXAMPLE_URL}/status-lists/revocation/1#list",
        "type": "BitstringStatusList",
        "statusPurpose": "revocation",
        "encodedList": vc.encode_bits([94567]),
    },
}


def _jwt_example(example: dict[str, Any]) -> str:
    """The start of ``example``'s JWS as the registry writes it (signature elided)."""
    header = {
        "alg": "ES256",
        "kid": "did:web:registry.customs.mn#6785b9b72f8c16b9",
        "typ": "vc+jwt",
        "cty": "vc",
    }
    encoded = [base64.urlsafe_b64encode(vc.canonical_json(part)) for part in (header, example)]
    return f"{encoded[0].rstrip(b'=').decode()}.{encoded[1][:40].decode()}...."


def _content(example: dict[str, Any]) -> dict[str, Any]:
    return {
        vc.VC_MEDIA_TYPE: {"schema": {"type": "object"}, "example": example},
        vc.VC_JWT_MEDIA_TYPE: {"schema": {"type": "string"}, "example": _jwt_example(example)},
    }


_SIGNING_KEY_HEADER = {
    "AEO-Signing-Key-Id": {"description": "The kid (hex) the JWS is signed with (JWS only)."}
}


@router.get(
    "/v1/certificates/{number}/credential",
    tags=["certificate documents"],
    summary="The certificate as a W3C Verifiable Credential (JSON, or secured as a JWS)",
    response_class=Response,
    responses={
        200: {
            "description": "The credential (VC Data Model 2.0) with the QR code's claims and "
            "two BitstringStatusListEntry items; `application/vc+jwt`: secured with the "
            "document-signing key (VC-JOSE-COSE). docs/credentials.md.",
            "content": _content(_CREDENTIAL_EXAMPLE),
            "headers": _SIGNING_KEY_HEADER,
        },
        **problem_responses(*AUTH_PROBLEMS, 404, 409, 422, 503),
        **_NOT_ACCEPTABLE,
    },
)
def read_credential(
    request: Request,
    number: Annotated[
        str, Path(description="The certificate number.", examples=["MN-AEO-2025-0001"])
    ],
    _caller: DocumentKey,
    session: SessionDep,
    settings: SettingsDep,
    payloads: PayloadCacheDep,
    cache: SignedCacheDep,
    accept: AcceptHeader = None,
) -> Response:
    media_type = negotiate(accept)
    issued = service.certificate_credential(
        session,
        settings,
        payloads,
        cache,
        number=number,
        base_url=str(request.base_url),
        secured=media_type == vc.VC_JWT_MEDIA_TYPE,
    )
    # Trader data: never in a shared cache.
    return _answer(issued, media_type, "private, no-store")


@router.get(
    "/status-lists/{purpose}/{list_number}",
    tags=_PUBLIC,
    summary="A status list credential (W3C Bitstring Status List; no API key needed)",
    response_class=Response,
    responses={
        200: {
            "description": "A BitstringStatusListCredential: 131,072 bits, GZIP, multibase "
            "base64url; bit i is set when the certificate at index i is revoked "
            "(revocation) or suspended now (suspension). Rewritten within one indexer pass "
            "of a status change.",
            "content": _content(_STATUS_LIST_EXAMPLE),
            "headers": _SIGNING_KEY_HEADER,
        },
        **problem_responses(404, 409, 422, 503),
        **_NOT_ACCEPTABLE,
    },
)
def read_status_list(
    request: Request,
    purpose: Annotated[StatusPurpose, Path(description="revocation or suspension.")],
    list_number: Annotated[
        int, Path(ge=1, le=1_000_000, description="The list's number.", examples=[1])
    ],
    session: SessionDep,
    settings: SettingsDep,
    cache: SignedCacheDep,
    accept: AcceptHeader = None,
) -> Response:
    media_type = negotiate(accept)
    issued = service.status_list_credential(
        session,
        settings,
        cache,
        purpose=purpose.value,
        list_number=list_number,
        base_url=str(request.base_url),
        secured=media_type == vc.VC_JWT_MEDIA_TYPE,
    )
    # Public, and changes within seconds of a status change: caches must ask again.
    return _answer(issued, media_type, "no-cache")


@router.get(
    vc.CONTEXT_PATH,
    tags=_PUBLIC,
    summary="The JSON-LD context of the AEO credential terms (no API key needed)",
    response_class=Response,
    responses={
        200: {
            "description": "The same document at every registry; its terms are URNs.",
            "content": {vc.LD_JSON_MEDIA_TYPE: {"example": vc.AEO_CONTEXT}},
        }
    },
)
def read_context() -> JSONResponse:
    return JSONResponse(
        vc.AEO_CONTEXT,
        media_type=vc.LD_JSON_MEDIA_TYPE,
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get(
    "/.well-known/did.json",
    tags=_PUBLIC,
    summary="The administration's DID document (did:web; no API key needed)",
    response_class=Response,
    responses={
        200: {
            "description": "Its document-signing keys registered on-chain and not revoked, as "
            "JWKs: what a standard did:web resolver verifies the credentials with.",
            "content": {
                "application/did+json": {
                    "example": {
                        "@context": [
                            "https://www.w3.org/ns/did/v1",
                            "https://w3id.org/security/jwk/v1",
                        ],
                        "id": "did:web:registry.customs.mn",
                        "verificationMethod": [
                            {
                                "id": "did:web:registry.customs.mn#3f9a0b1c2d3e4f50",
                                "type": "JsonWebKey",
                                "controller": "did:web:registry.customs.mn",
                                "publicKeyJwk": {
                                    "kty": "EC",
                                    "crv": "P-256",
                                    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                                    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
                                },
                            }
                        ],
                        "assertionMethod": ["did:web:registry.customs.mn#3f9a0b1c2d3e4f50"],
                    }
                }
            },
        },
        **problem_responses(503),
    },
)
def read_did_document(request: Request, session: SessionDep, settings: SettingsDep) -> JSONResponse:
    document = service.did_document(session, settings, str(request.base_url))
    return JSONResponse(
        document, media_type="application/did+json", headers={"Cache-Control": "no-cache"}
    )
