"""The certificate's documents: the signed AEO1 payload, and what the PDF shows.

A payload is signed with this administration's document-signing key, whose key id the
verifiers look up on-chain, so a document is only produced when:

- the certificate is this administration's and confirmed on-chain (not pending, failed or
  revoked), and its stored record still hashes to the stored commitment;
- one of this service's keys holds a key that the index shows registered on-chain
  for this administration, valid now and not revoked. After a rotation the newest such
  key signs (:func:`current_signing_key`).

Keys (``AEO_KEY_BACKEND``): with ``file``, the configured key file (``AEO_SIGNING_KEY_FILE``)
and those a rotation created beside it, named ``<stem>.<kid hex><suffix>``
(``signing-key.3f9a...c2.pem``); with ``pkcs11``, the token's key
(``AEO_HSM_SIGNING_KEY_LABEL``, :func:`registry_api.hsm.document_signing_keys`).

Signatures are deterministic (RFC 6979 / Ed25519) and ``issued_at`` is fixed when a
certificate version is first signed in this process (:class:`PayloadCache`), so its PNG,
SVG, payload text and PDF carry the very same QR code.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contracts.domain import claims as claims_model, days
from contracts.domain.days import OPEN_ENDED
from contracts.domain.errors import InvalidClaim
from contracts.domain.record import CertificateRecord
from verifier import payload as aeo1
from verifier.errors import EncodingError

from ..db import Authority, Certificate, IndexedSigningKey, LocalStatus
from ..errors import (
    ConfigurationError,
    ConflictError,
    FieldError,
    InvalidError,
    NotFoundError,
    UnavailableError,
)
from ..hsm import DocumentSigner, document_signing_keys
from ..keystore import SigningKey, load_signing_key
from ..rendering.pdf import CertificateDocument, make_qr, unprintable, verification_url
from ..settings import Settings
from .certificates import chain_valid_until

logger = logging.getLogger("registry_api.documents")

#: certificate versions whose signed payload a process keeps (a few hundred bytes each)
PAYLOAD_CACHE_SIZE = 4096


# ---------------------------------------------------------------- printable records


def _printed_fields(value: object, path: str) -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [f for k, v in value.items() for f in _printed_fields(v, f"{path}.{k}")]
    if isinstance(value, list | tuple):
        return [f for i, v in enumerate(value) for f in _printed_fields(v, f"{path}.{i}")]
    return []


def check_printable(record: CertificateRecord) -> None:
    """Refuse (422, naming each field) a record with a character no embedded font can print:
    the PDF would show it as an empty box, and a holder's name must never be unreadable on
    the paper that names it."""
    errors = []
    for field, text in _printed_fields(record.model_dump(mode="json"), "body"):
        missing = unprintable(text)
        if missing:
            shown = ", ".join(f"{char!r} (U+{ord(char):04X})" for char in missing[:5])
            errors.append(
                FieldError(
                    field, f"has characters no font of the printed certificate covers: {shown}"
                )
            )
    if errors:
        raise InvalidError(
            f"{len(errors)} field(s) cannot be printed on the certificate", errors=errors
        )


# ---------------------------------------------------------------- key files


def rotated_key_path(settings: Settings, kid: bytes) -> Path:
    """Where a rotation stores the key with id ``kid``, beside the configured key file."""
    base = settings.signing_key_path
    return base.with_name(f"{base.stem}.{kid.hex()}{base.suffix}")


def key_file_paths(settings: Settings) -> list[Path]:
    """The configured key file (if it exists) and every rotated one."""
    base = settings.signing_key_path
    paths = [base] if base.is_file() else []
    if base.parent.is_dir():
        paths += sorted(
            path
            for path in base.parent.glob(f"{base.stem}.*{base.suffix}")
            if path.is_file() and _is_kid(path.name[len(base.stem) + 1 : -len(base.suffix)])
        )
    return paths


def _is_kid(text: str) -> bool:
    return len(text) == 16 and all(c in "0123456789abcdef" for c in text)


def load_key_file(settings: Settings, path: Path) -> SigningKey:
    """One key file, decrypted (503 when the passphrase is missing or wrong)."""
    try:
        return load_signing_key(path, settings.key_passphrase())
    except ConfigurationError as exc:  # no passphrase, a wrong one, an unreadable file
        raise UnavailableError(f"this registry cannot use its signing keys: {exc.detail}") from exc


def local_signing_keys(settings: Settings) -> dict[bytes, SigningKey]:
    """Every document-signing key this service holds, by key id (decrypted; never logged)."""
    keys = [load_key_file(settings, path) for path in key_file_paths(settings)]
    return {key.kid: key for key in keys}


@dataclass(frozen=True, slots=True)
class ActiveKey:
    key: DocumentSigner
    indexed: IndexedSigningKey


def current_signing_key(session: Session, settings: Settings, now: datetime) -> ActiveKey:
    """The key documents are signed with now: held locally, registered on-chain for this
    administration (as indexed), valid at ``now`` and not revoked; the newest one wins.

    Raises a 409 problem saying what an administrator has to do when there is none.
    """
    local = document_signing_keys(settings)
    if not local:
        # Only the file backend gets here: a token without its key is a 503 (hsm.py).
        raise ConflictError(
            "this registry has no document-signing key file: create one "
            "(python -m registry_api init-keys) and register it on-chain "
            "(POST /v1/admin/signing-keys)",
            extra={"reason": "no_signing_key"},
        )
    indexed = session.scalars(
        sa.select(IndexedSigningKey).where(
            IndexedSigningKey.kid.in_(list(local)),
            IndexedSigningKey.authority == settings.authority,
        )
    ).all()
    usable = [k for k in indexed if k.revoked_at is None and k.valid_from <= now]
    if usable:
        chosen = max(usable, key=lambda k: (k.valid_from, k.updated_block))
        return ActiveKey(local[chosen.kid], chosen)
    kids = ", ".join(sorted(kid.hex() for kid in local))
    future = [k for k in indexed if k.revoked_at is None]
    if future:
        soonest = min(k.valid_from for k in future)
        raise ConflictError(
            f"the document-signing key is registered but valid only from "
            f"{soonest.isoformat()}; documents can be produced from then on",
            extra={"reason": "signing_key_not_yet_valid", "kids": kids},
        )
    if indexed:
        raise ConflictError(
            f"every document-signing key of this registry ({kids}) is revoked on-chain: "
            "rotate to a new key (POST /v1/admin/signing-keys/rotate)",
            extra={"reason": "signing_key_revoked", "kids": kids},
        )
    raise ConflictError(
        f"the document-signing key ({kids}) is not registered on-chain yet, or the indexer "
        "has not seen its registration: an administrator registers it with "
        "POST /v1/admin/signing-keys; retry once that operation is confirmed",
        extra={"reason": "signing_key_not_registered", "kids": kids},
    )


# ---------------------------------------------------------------- the certificate


def documentable_certificate(session: Session, settings: Settings, number: str) -> Certificate:
    """This administration's certificate ``number``, if a document may be made of it."""
    certificate = session.scalars(
        sa.select(Certificate).where(
            Certificate.number == number, Certificate.issuer == settings.authority
        )
    ).one_or_none()
    if certificate is None:
        raise NotFoundError(f"no certificate numbered {number!r} issued by {settings.authority}")
    status = certificate.status
    if status is LocalStatus.PENDING:
        raise ConflictError(
            f"certificate {number} is not confirmed on-chain yet (its issuance is pending); "
            "its documents are available once it is",
            extra={"reason": "not_confirmed", "certificate_status": status.value},
        )
    if status is LocalStatus.FAILED:
        raise ConflictError(
            f"certificate {number} was never issued on-chain (its issuance failed)",
            extra={"reason": "not_confirmed", "certificate_status": status.value},
        )
    if status is LocalStatus.REVOKED:
        raise ConflictError(
            f"certificate {number} is revoked; no document is produced for it",
            extra={"reason": "revoked", "certificate_status": status.value},
        )
    if certificate.to_record().commitment() != certificate.commitment:
        # The row was changed behind the service's back: a QR code would bind claims to a
        # record the chain does not hold.
        logger.error("certificate %s: stored record does not match its commitment", number)
        raise ConflictError(
            f"the stored record of certificate {number} does not match its commitment; "
            "no document is produced until it is repaired",
            extra={"reason": "record_mismatch"},
        )
    return certificate


# ---------------------------------------------------------------- the payload


@dataclass(frozen=True, slots=True)
class SignedPayload:
    text: str
    claims: claims_model.Claims
    kid: bytes
    algorithm: str
    qr_version: int


class PayloadCache:
    """Signed payloads by (key id, claims without ``issued_at``); least recently used
    entries go first. Thread-safe: requests run in a thread pool."""

    def __init__(self, size: int = PAYLOAD_CACHE_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[bytes, claims_model.Claims], SignedPayload] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(kid: bytes, claims: claims_model.Claims) -> tuple[bytes, claims_model.Claims]:
        return kid, replace(claims, issued_at=0)

    def lookup(self, kid: bytes, claims: claims_model.Claims) -> SignedPayload | None:
        """The payload signed for these claims (``issued_at`` ignored), if any."""
        cache_key = self._key(kid, claims)
        with self._lock:
            found = self._entries.get(cache_key)
            if found is not None:
                self._entries.move_to_end(cache_key)
            return found

    def store(
        self, kid: bytes, claims: claims_model.Claims, signed: SignedPayload
    ) -> SignedPayload:
        """Keep ``signed`` for ``claims``; if another thread signed them first, its payload
        wins, so every caller sees one payload."""
        cache_key = self._key(kid, claims)
        with self._lock:
            existing = self._entries.get(cache_key)
            if existing is not None:
                return existing
            self._entries[cache_key] = signed
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
            return signed


def current_valid_until(session: Session, certificate: Certificate) -> date | None:
    """The validity the chain holds now: a renewal moves it past the record's own date."""
    return days.date_or_none(chain_valid_until(session, certificate))


def claims_of(
    certificate: Certificate, valid_until: date | None, issued_at: datetime
) -> claims_model.Claims:
    """The AEO1 claims for a stored certificate, valid until ``valid_until`` (raises a 409
    when its identification cannot be carried by a QR code)."""
    try:
        return claims_model.Claims.from_record(
            issuer=certificate.issuer,
            number=certificate.number,
            holder_name=certificate.holder_legal_name,
            holder_id_scheme=certificate.holder_id_scheme,
            holder_id=certificate.holder_id_number,
            tiers=certificate.tiers,
            valid_from=certificate.valid_from,
            valid_until=valid_until or days.from_day(OPEN_ENDED),
            issued_at=issued_at,
            version=certificate.version,
            commitment=certificate.commitment,
        )
    except InvalidClaim as exc:
        raise ConflictError(
            f"certificate {certificate.number} cannot be carried by an AEO1 QR code: {exc.message}",
            extra={"reason": "not_encodable", "claim": exc.field},
        ) from exc


def signed_payload(
    session: Session,
    settings: Settings,
    cache: PayloadCache,
    certificate: Certificate,
    now: datetime | None = None,
) -> SignedPayload:
    """The AEO1 text for ``certificate``, signed with the current key."""
    now = now or datetime.now(UTC)
    active = current_signing_key(session, settings, now)
    kid = active.key.kid
    claims = claims_of(certificate, current_valid_until(session, certificate), now)
    cached = cache.lookup(kid, claims)
    if cached is not None:
        return cached
    try:
        encoded = aeo1.build(claims, active.key.private_key(), kid)
    except EncodingError as exc:
        raise ConflictError(
            f"the payload of certificate {certificate.number} cannot be signed: {exc.message}"
        ) from exc
    signed = SignedPayload(
        text=encoded.text,
        # the holder name may have been shortened to fit the QR code
        claims=encoded.claims,
        kid=kid,
        algorithm=active.key.algorithm.label,
        qr_version=int(make_qr(encoded.text).version),
    )
    return cache.store(kid, claims, signed)


def certificate_document(
    session: Session,
    settings: Settings,
    certificate: Certificate,
    signed: SignedPayload,
    now: datetime | None = None,
) -> CertificateDocument:
    """What the PDF certificate shows."""
    record = certificate.to_record()
    authority = session.get(Authority, settings.authority)
    return CertificateDocument(
        record=record,
        valid_until=current_valid_until(session, certificate),
        administration_name=authority.name if authority is not None else settings.authority,
        certificate_id=certificate.certificate_id,
        commitment=certificate.commitment,
        version=certificate.version,
        payload=signed.text,
        kid=signed.kid,
        algorithm=signed.algorithm,
        generated_at=now or datetime.now(UTC),
        language=settings.document_language,
        verification_url=verification_url(settings.public_lookup_url, certificate.number),
    )
