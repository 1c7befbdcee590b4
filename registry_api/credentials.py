"""W3C Verifiable Credentials of certificates, and Bitstring Status Lists: the pure parts.

A certificate's credential (VC Data Model 2.0) says what its QR code says (the same AEO1
claims), issued by the administration under a ``did:web`` identifier derived from
``AEO_PUBLIC_URL``, and secured per VC-JOSE-COSE as an enveloping JWS
(``application/vc+jwt``) with the document-signing key that signs the QR codes. Its
``credentialStatus`` points at two of this registry's status lists (revocation and
suspension), whose bitstrings are GZIP-compressed and multibase base64url-encoded as the
W3C Bitstring Status List recommendation says. docs/credentials.md is the reference.

The JWS is signed with the cryptography primitives the QR codes' COSE signatures use, so a
key in a PKCS#11 token (registry_api.hsm) signs credentials as it signs QR codes; joserfc
writes the public keys as JWKs (:func:`secure` says why it does not sign).
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import quote, urlsplit

from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from joserfc.jwk import ECKey, OKPKey

from contracts.domain import days
from contracts.domain.claims import Claims
from contracts.domain.days import OPEN_ENDED
from contracts.domain.enums import KeyAlgorithm, tier_names
from verifier import keys

from .hsm import DocumentSigner

VC_CONTEXT: Final = "https://www.w3.org/ns/credentials/v2"
#: where every registry serves the JSON-LD context of the AEO terms
CONTEXT_PATH: Final = "/contexts/aeo/v1"
#: the AEO terms' IRIs: a URN, so that they are the same whichever registry serves them
VOCABULARY: Final = "urn:aeo-registry:vocab:v1#"

VC_JWT_MEDIA_TYPE: Final = "application/vc+jwt"
VC_MEDIA_TYPE: Final = "application/vc"
LD_JSON_MEDIA_TYPE: Final = "application/ld+json"

#: bits per status list: the recommendation's minimum (16 KiB), so that a list of this
#: size hides which of its entries belongs to whom (herd privacy)
LIST_LENGTH: Final = 131_072
LIST_BYTES: Final = LIST_LENGTH // 8
#: the two purposes each certificate has a bit for, at the same index of each list
PURPOSES: Final = ("revocation", "suspension")

#: the JSON-LD context of the AEO terms (served at :data:`CONTEXT_PATH`)
AEO_CONTEXT: Final[dict[str, Any]] = {
    "@context": {
        "@protected": True,
        "AEOCertificateCredential": f"{VOCABULARY}AEOCertificateCredential",
        "AuthorizedEconomicOperator": {
            "@id": f"{VOCABULARY}AuthorizedEconomicOperator",
            "@context": {
                "@protected": True,
                "id": "@id",
                "type": "@type",
                "legalName": f"{VOCABULARY}legalName",
                "identifierScheme": f"{VOCABULARY}identifierScheme",
                "identifier": f"{VOCABULARY}identifier",
                "issuingAuthority": f"{VOCABULARY}issuingAuthority",
                "certificateNumber": f"{VOCABULARY}certificateNumber",
                "certificateId": f"{VOCABULARY}certificateId",
                "certificateVersion": {
                    "@id": f"{VOCABULARY}certificateVersion",
                    "@type": "http://www.w3.org/2001/XMLSchema#integer",
                },
                "tiers": {
                    "@id": f"{VOCABULARY}tiers",
                    "@type": "http://www.w3.org/2001/XMLSchema#integer",
                },
                "tierNames": {"@id": f"{VOCABULARY}tierNames", "@container": "@set"},
                "certificateValidFrom": {
                    "@id": f"{VOCABULARY}certificateValidFrom",
                    "@type": "http://www.w3.org/2001/XMLSchema#date",
                },
                "certificateValidUntil": {
                    "@id": f"{VOCABULARY}certificateValidUntil",
                    "@type": "http://www.w3.org/2001/XMLSchema#date",
                },
                "recordDigest": f"{VOCABULARY}recordDigest",
            },
        },
        "authorityCode": f"{VOCABULARY}authorityCode",
    }
}


class CredentialError(ValueError):
    """A setting from which no credential can be made (an unusable public URL)."""


# ---------------------------------------------------------------- identifiers


def normalise_public_url(url: str) -> str:
    """``url`` without a trailing slash; raises :class:`CredentialError` unless it is an
    absolute http(s) URL with a host and no query or fragment."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise CredentialError(f"{url!r} is not an absolute http(s) URL")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise CredentialError(f"{url!r} must have no query, fragment or user information")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def issuer_did(public_url: str) -> str:
    """The administration's ``did:web`` identifier for a registry reached at ``public_url``
    (did:web: the host, a port's colon percent-encoded, then each path segment after a
    colon): ``https://registry.customs.mn`` is ``did:web:registry.customs.mn``. Its DID
    document is served at ``<public_url>/.well-known/did.json`` (a host without a path)."""
    parts = urlsplit(normalise_public_url(public_url))
    host = quote(parts.netloc, safe="")  # "host:8443" -> "host%3A8443"
    segments = [quote(segment, safe="") for segment in parts.path.split("/") if segment]
    return ":".join(["did:web", host, *segments])


def verification_method(did: str, kid: bytes) -> str:
    """The DID URL of the key ``kid``: the JWS ``kid`` header, and its DID document entry."""
    return f"{did}#{kid.hex()}"


def status_list_url(public_url: str, purpose: str, list_number: int) -> str:
    return f"{public_url}/status-lists/{purpose}/{list_number}"


def credential_url(public_url: str, number: str) -> str:
    return f"{public_url}/v1/certificates/{quote(number, safe='')}/credential"


# ---------------------------------------------------------------- the credential


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _day_start(day: int) -> datetime:
    start = days.from_day(day)
    return datetime(start.year, start.month, start.day, tzinfo=UTC)


def certificate_credential(
    *,
    public_url: str,
    administration_name: str,
    claims: Claims,
    list_number: int,
    list_index: int,
) -> dict[str, Any]:
    """The unsecured credential (``application/vc``) of a certificate whose QR code carries
    ``claims``, with its status at ``list_index`` of status list ``list_number``.

    The certificate's validity days are inclusive (the QR's rule: expired the day after
    ``valid_until``); the credential's ``validUntil`` is therefore the instant that day
    ends. An open-ended certificate has no ``validUntil``."""
    did = issuer_did(public_url)
    subject: dict[str, Any] = {
        "type": "AuthorizedEconomicOperator",
        "legalName": claims.holder_name,
        "identifierScheme": claims.holder_id_scheme,
        "identifier": claims.holder_id,
        "issuingAuthority": claims.issuer,
        "certificateNumber": claims.number,
        "certificateId": "0x" + claims.certificate_id.hex(),
        "certificateVersion": claims.version,
        "tiers": claims.tiers,
        "tierNames": list(tier_names(claims.tiers)),
        "certificateValidFrom": days.from_day(claims.valid_from).isoformat(),
        "recordDigest": "0x" + claims.digest.hex(),
    }
    credential: dict[str, Any] = {
        "@context": [VC_CONTEXT, f"{public_url}{CONTEXT_PATH}"],
        "id": credential_url(public_url, claims.number),
        "type": ["VerifiableCredential", "AEOCertificateCredential"],
        "issuer": {"id": did, "name": administration_name, "authorityCode": claims.issuer},
        "validFrom": _instant(_day_start(claims.valid_from)),
    }
    if claims.valid_until != OPEN_ENDED:
        subject["certificateValidUntil"] = days.from_day(claims.valid_until).isoformat()
        credential["validUntil"] = _instant(_day_start(claims.valid_until) + timedelta(days=1))
    credential["credentialSubject"] = subject
    credential["credentialStatus"] = [
        status_entry(public_url, purpose, list_number, list_index) for purpose in PURPOSES
    ]
    return credential


def status_entry(public_url: str, purpose: str, list_number: int, index: int) -> dict[str, str]:
    """A ``BitstringStatusListEntry`` pointing at bit ``index`` of a list of ``purpose``."""
    list_url = status_list_url(public_url, purpose, list_number)
    return {
        "id": f"{list_url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }


# ---------------------------------------------------------------- status lists


def encode_bits(indexes: Iterable[int]) -> str:
    """The ``encodedList`` of a list of :data:`LIST_LENGTH` bits with ``indexes`` set:
    multibase base64url (prefix ``u``, no padding) of the GZIP of the bits, bit 0 being the
    most significant bit of the first byte (the recommendation's order)."""
    bits = bytearray(LIST_BYTES)
    for index in indexes:
        if not 0 <= index < LIST_LENGTH:
            raise ValueError(f"status list index {index} is outside 0..{LIST_LENGTH - 1}")
        bits[index // 8] |= 0x80 >> (index % 8)
    # mtime=0: the same bits always encode to the same text
    compressed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")


def status_list_credential(
    *, public_url: str, purpose: str, list_number: int, encoded_list: str, updated_at: datetime
) -> dict[str, Any]:
    """The unsecured ``BitstringStatusListCredential`` of one list, valid from when the
    indexer last wrote it."""
    list_url = status_list_url(public_url, purpose, list_number)
    return {
        "@context": [VC_CONTEXT],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer_did(public_url),
        "validFrom": _instant(updated_at),
        "credentialSubject": {
            "id": f"{list_url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": encoded_list,
        },
    }


# ---------------------------------------------------------------- securing (VC-JOSE-COSE)


def canonical_json(credential: Mapping[str, Any]) -> bytes:
    """The credential's JSON as signed: compact, UTF-8, members in the order built."""
    return json.dumps(credential, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def public_jwk(algorithm: KeyAlgorithm, public_key: bytes) -> dict[str, Any]:
    """The public JWK of a key as the chain publishes it (compressed P-256 point or raw
    Ed25519 key)."""
    if algorithm is KeyAlgorithm.ES256:
        point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_key)
        return dict(ECKey.import_key(point).as_dict(private=False))
    if algorithm is KeyAlgorithm.EDDSA:
        raw = ed25519.Ed25519PublicKey.from_public_bytes(public_key)
        return dict(OKPKey.import_key(raw).as_dict(private=False))
    raise ValueError(f"no JWK for key algorithm {algorithm!r}")


def jws_algorithm(algorithm: KeyAlgorithm) -> str:
    """The JWS ``alg`` of a document-signing key: ES256, or EdDSA for Ed25519."""
    if algorithm is KeyAlgorithm.ES256:
        return "ES256"
    if algorithm is KeyAlgorithm.EDDSA:
        return "EdDSA"
    raise ValueError(f"no JWS algorithm for key algorithm {algorithm!r}")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def secure(credential: Mapping[str, Any], key: DocumentSigner, did: str) -> str:
    """``credential`` as an enveloping JWS in compact form (``application/vc+jwt``): the
    protected header names ``alg``, the key's DID URL as ``kid``, ``typ`` ``vc+jwt`` and
    ``cty`` ``vc``; the payload is the credential's JSON.

    Signed with the cryptography primitives the QR codes' COSE uses (:func:`keys.sign`: an
    ES256 JWS signature is the same 64-byte r || s as a COSE one, deterministic per RFC
    6979), not with a JOSE library: joserfc serializes the private key to check it, which a
    key in a PKCS#11 token refuses. Independent JOSE libraries verify the result (tests)."""
    alg = jws_algorithm(key.algorithm)
    header = {"alg": alg, "kid": verification_method(did, key.kid), "typ": "vc+jwt", "cty": "vc"}
    signing_input = f"{_b64url(canonical_json(header))}.{_b64url(canonical_json(credential))}"
    signature = keys.sign(key.private_key(), signing_input.encode("ascii"))
    return f"{signing_input}.{_b64url(signature)}"
