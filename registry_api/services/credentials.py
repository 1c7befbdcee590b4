"""Certificates as W3C Verifiable Credentials, and the status list credentials that say
whether they are revoked or suspended (docs/credentials.md).

Both are signed with the key that signs the QR codes
(:func:`registry_api.services.documents.current_signing_key`) and cached per process by
what they say and the key, like the QR payloads. The places and bits of the lists are kept
by :mod:`registry_api.status_lists`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contracts.domain.enums import KeyAlgorithm

from .. import credentials as vc
from ..db import Authority, Certificate, IndexedSigningKey, StatusList, StatusListEntry
from ..errors import NotFoundError, RegistryError
from ..settings import Settings
from ..status_lists import assign_index, rewrite_lists
from . import documents

#: signed credentials a process keeps
SIGNED_CACHE_SIZE = 4096


class NotAcceptableError(RegistryError):
    """The request's Accept header names no media type the route answers with."""

    status = HTTPStatus.NOT_ACCEPTABLE
    slug = "not-acceptable"
    title = "Not acceptable"


def place_of(session: Session, certificate: Certificate) -> StatusListEntry:
    """The certificate's place, assigned now (and its list rewritten to show its current
    status) when it has none yet; commits then."""
    entry = session.get(StatusListEntry, certificate.certificate_id)
    if entry is not None:
        return entry
    entry = assign_index(session, certificate.certificate_id)
    rewrite_lists(session, [entry.list_number])
    session.commit()
    return entry


# ---------------------------------------------------------------- signed answers


class SignedCache:
    """Signed JWTs by what was signed (a key of the caller's choosing); least recently used
    first out. Thread-safe: requests run in a thread pool."""

    def __init__(self, size: int = SIGNED_CACHE_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[Any, ...], str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> str | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple[Any, ...], token: str) -> str:
        with self._lock:
            self._entries[key] = token
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
            return token


@dataclass(frozen=True, slots=True)
class Issued:
    """A credential, and (when asked for) its secured form."""

    credential: dict[str, Any]
    jwt: str | None
    #: the signing key's id (for the credential: the one its QR payload is signed with)
    kid: bytes | None


def public_url(settings: Settings, request_base_url: str) -> str:
    """Where this registry is reached: ``AEO_PUBLIC_URL``, or else (development) the URL
    the request came to."""
    return vc.normalise_public_url(settings.public_url or request_base_url)


def certificate_credential(
    session: Session,
    settings: Settings,
    payloads: documents.PayloadCache,
    signed: SignedCache,
    *,
    number: str,
    base_url: str,
    secured: bool,
) -> Issued:
    """The credential of this administration's certificate ``number``: the claims of its
    QR code (:func:`documents.signed_payload`, so both say the same), its status places,
    and, when ``secured``, the JWS. Refused as its documents are (404 for another
    administration's or an unknown number, 409 while not confirmed or once revoked)."""
    certificate = documents.documentable_certificate(session, settings, number)
    payload = documents.signed_payload(session, settings, payloads, certificate)
    place = place_of(session, certificate)
    authority = session.get(Authority, settings.authority)
    url = public_url(settings, base_url)
    credential = vc.certificate_credential(
        public_url=url,
        administration_name=authority.name if authority is not None else settings.authority,
        claims=payload.claims,
        list_number=place.list_number,
        list_index=place.list_index,
    )
    if not secured:
        return Issued(credential, None, payload.kid)
    token, kid = _signed(session, settings, signed, credential, url)
    return Issued(credential, token, kid)


def status_list_credential(
    session: Session,
    settings: Settings,
    signed: SignedCache,
    *,
    purpose: str,
    list_number: int,
    base_url: str,
    secured: bool,
) -> Issued:
    """The status list credential of ``purpose`` and ``list_number`` (404 when no
    certificate has a place in that list yet)."""
    row = session.get(StatusList, list_number)
    if row is None:
        raise NotFoundError(f"no {purpose} status list numbered {list_number} in this registry")
    url = public_url(settings, base_url)
    credential = vc.status_list_credential(
        public_url=url,
        purpose=purpose,
        list_number=list_number,
        encoded_list=row.revocation if purpose == "revocation" else row.suspension,
        updated_at=row.updated_at,
    )
    if not secured:
        return Issued(credential, None, None)
    token, kid = _signed(session, settings, signed, credential, url)
    return Issued(credential, token, kid)


def _signed(
    session: Session,
    settings: Settings,
    cache: SignedCache,
    credential: dict[str, Any],
    url: str,
) -> tuple[str, bytes]:
    """``credential`` secured with the current signing key, and that key's id."""
    active = documents.current_signing_key(session, settings, datetime.now(UTC))
    kid = active.key.kid
    key = (kid, vc.canonical_json(credential))
    token = cache.get(key)
    if token is None:
        token = cache.put(key, vc.secure(credential, active.key, vc.issuer_did(url)))
    return token, kid


def did_document(session: Session, settings: Settings, base_url: str) -> dict[str, Any]:
    """The administration's DID document: each of its signing keys that the index shows
    registered on-chain and not revoked, as a JWK, usable to verify its credentials."""
    url = public_url(settings, base_url)
    did = vc.issuer_did(url)
    keys = session.scalars(
        sa.select(IndexedSigningKey)
        .where(
            IndexedSigningKey.authority == settings.authority,
            IndexedSigningKey.revoked_at.is_(None),
        )
        .order_by(IndexedSigningKey.valid_from, IndexedSigningKey.kid)
    ).all()
    methods = [
        {
            "id": vc.verification_method(did, key.kid),
            "type": "JsonWebKey",
            "controller": did,
            "publicKeyJwk": vc.public_jwk(KeyAlgorithm(key.algorithm), key.public_key),
        }
        for key in keys
    ]
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/jwk/v1"],
        "id": did,
        "verificationMethod": methods,
        "assertionMethod": [method["id"] for method in methods],
    }
