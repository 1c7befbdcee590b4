"""The pipeline's check stages, pure functions: the signature, the key's validity, the
binding to the chain's slot, the status, the validity dates and the recognition. Each returns
every finding (a list of its error type), so a verdict can name every reason that applies."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Final

from contracts.domain import days, ids
from contracts.domain.claims import Claims
from contracts.domain.enums import (
    CertificateStatus,
    RecognitionReason,
    reason_name,
    tier_names as _tier_names,
)
from contracts.domain.rules import RecognitionAnswer
from contracts.domain.state import CertificateSlot, SigningKeyRecord
from verifier import keys
from verifier.errors import (
    BindingError,
    KeyValidityError,
    RecognitionError,
    SignatureError,
    SourceUnavailable,
    StatusError,
    ValidityDatesError,
)
from verifier.payload import (
    CoseSign1,
    non_canonical_signature,
)
from verifier.verdict import (
    Reason,
)

# How far a signing time may lie ahead of the verifier's clock before it counts as forged:
# issuer servers and border laptops do not share a clock.
CLOCK_SKEW: Final = timedelta(minutes=5)
_CLOCK_SKEW_SECONDS: Final = CLOCK_SKEW.total_seconds()


def _as_of_predates(claims: Claims, as_of: datetime | None) -> bool:
    return as_of is not None and claims.issued_at > as_of.timestamp()


def check_signature(
    cose: CoseSign1, claims: Claims, key: SigningKeyRecord | None, as_of: datetime | None
) -> list[SignatureError]:
    """The signature stage: the key the header names verifies the signature."""
    if key is None:
        if _as_of_predates(claims, as_of):
            raise SourceUnavailable(
                f"signing key {cose.kid.hex()} is not in the status data as of "
                f"{when_text(as_of)}, which predates the signing time {ts_text(claims.issued_at)}: "
                "sync and verify again"
            )
        return [
            SignatureError(
                f"no signing key with id {cose.kid.hex()} is published on the registry",
                code="unknown_key",
            )
        ]
    if not _is_key_of(bytes(key.public_key), bytes(key.kid)):
        return [
            SignatureError("the published key does not hash to its key id", code="bad_key_record")
        ]
    if key.algorithm is not cose.algorithm:
        return [
            SignatureError(
                f"signed with {cose.algorithm.name}, "
                f"but key {key.kid.hex()} is {key.algorithm.name}",
                code="algorithm_mismatch",
            )
        ]
    # Checked before the signature itself: the high-S twin of a genuine ES256 signature
    # verifies too, and AEO1 admits one signature per claims (docs/qr-format.md, section 1).
    why = non_canonical_signature(cose.algorithm, cose.signature)
    if why is not None:
        return [SignatureError(why, code="non_canonical_signature")]
    try:
        public = keys.load_public_key(key.algorithm, key.public_key)
    except ValueError as exc:
        return [SignatureError(f"the published key is unusable: {exc}", code="bad_key_record")]
    if not keys.verify_signature(public, cose.to_be_signed(), cose.signature):
        return [SignatureError(f"the signature does not verify with key {key.kid.hex()}")]
    return []


@functools.lru_cache(maxsize=1024)
def _is_key_of(public_key: bytes, kid: bytes) -> bool:
    """Whether ``kid`` is the id of ``public_key``. Cached: a verifier meets the same few
    published keys on every scan, and a SHA-256 through OpenSSL 3+ costs ~6 us to set up."""
    return ids.key_id(public_key) == kid


def check_key_validity(
    claims: Claims, key: SigningKeyRecord, now: datetime
) -> list[KeyValidityError]:
    """The key-validity stage: the issuer's key, valid at the signing time, signed in the past."""
    findings = []
    if key.authority != claims.issuer:
        findings.append(
            KeyValidityError(
                f"key {key.kid.hex()} belongs to {key.authority}, "
                f"not to the issuer {claims.issuer}",
                code="key_wrong_authority",
            )
        )
    if claims.issued_at < key.valid_from:
        findings.append(
            KeyValidityError(
                f"signed at {ts_text(claims.issued_at)}, before the key became valid "
                f"({ts_text(key.valid_from)})",
                code="key_not_yet_valid",
            )
        )
    if key.revoked_at and claims.issued_at >= key.revoked_at:
        findings.append(
            KeyValidityError(
                f"signed at {ts_text(claims.issued_at)}, after the key was revoked "
                f"({ts_text(key.revoked_at)})",
                code="key_revoked",
            )
        )
    if claims.issued_at > now.timestamp() + _CLOCK_SKEW_SECONDS:
        findings.append(
            KeyValidityError(
                f"signing time {ts_text(claims.issued_at)} is in the future",
                code="signed_in_future",
            )
        )
    return findings


def check_binding(
    claims: Claims, record: CertificateSlot | None, as_of: datetime | None
) -> list[BindingError]:
    """The binding stage: the QR describes the registry's current version of the record."""
    label = f"{claims.issuer} certificate {claims.number}"
    if record is None or record.status is CertificateStatus.NONE:
        if _as_of_predates(claims, as_of):
            raise SourceUnavailable(
                f"{label} is not in the status data as of {when_text(as_of)}, which predates "
                f"its signing time {ts_text(claims.issued_at)}: sync and verify again"
            )
        return [
            BindingError(
                f"{label} (id 0x{claims.certificate_id.hex()}) is not in the registry",
                code="unknown_certificate",
            )
        ]
    if record.issuer != claims.issuer:
        return [BindingError(f"the registry names issuer {record.issuer}, the QR {claims.issuer}")]
    if claims.version < record.version:
        return [
            BindingError(
                f"this QR shows version {claims.version}; the certificate was amended and the "
                f"registry holds version {record.version}: ask for the current certificate",
                code="superseded",
            )
        ]
    if claims.version > record.version:
        if _as_of_predates(claims, as_of):
            raise SourceUnavailable(
                f"the status data as of {when_text(as_of)} holds version {record.version}, older "
                f"than this QR's version {claims.version}: sync and verify again"
            )
        return [
            BindingError(
                f"this QR claims version {claims.version}, the registry holds {record.version}"
            )
        ]
    findings = []
    if claims.digest != record.digest:
        findings.append(BindingError("the record digest differs from the registry's"))
    if claims.tiers != record.tiers:
        findings.append(
            BindingError(
                f"tiers {tiers_text(claims.tiers)} differ from the registry's "
                f"{tiers_text(record.tiers)}"
            )
        )
    if claims.valid_from != record.valid_from:
        findings.append(BindingError("valid-from differs from the registry's"))
    if claims.valid_until > record.valid_until:
        findings.append(BindingError("valid-until is later than the registry's"))
    if record.holder_ref is not None and claims.holder_ref != record.holder_ref:
        findings.append(
            BindingError("the holder identification does not match the registry's reference")
        )
    return findings


def check_status(record: CertificateSlot) -> list[StatusError]:
    """The status stage: the stored status is Active."""
    if record.status is CertificateStatus.ACTIVE:
        return []
    last = record.last_change
    since = f" since {ts_text(last.since)}" if last else ""
    why = f" (reason {last.reason} {reason_name(last.reason)})" if last else ""
    if record.status is CertificateStatus.SUSPENDED:
        return [StatusError(f"suspended{since}{why}", code="suspended")]
    return [StatusError(f"revoked{since}{why}", code="revoked")]


def check_validity_dates(record: CertificateSlot, day: int) -> list[ValidityDatesError]:
    """The validity-dates stage, on the registry's dates (a renewal extends them)."""
    if day > record.valid_until:
        until = days.from_day(record.valid_until).isoformat()
        return [ValidityDatesError(f"expired: valid until {until}", code="expired")]
    if day < record.valid_from:
        start = days.from_day(record.valid_from).isoformat()
        return [ValidityDatesError(f"not valid before {start}", code="not_yet_valid")]
    return []


def check_recognition(
    answer: RecognitionAnswer, as_authority: str, claims: Claims
) -> list[RecognitionError]:
    """The recognition stage: turns the source's answer into findings."""
    if answer.recognized:
        return []
    mra = f"MRA {answer.mra_id}" if answer.mra_id is not None else "the MRA"
    messages = {
        RecognitionReason.UNKNOWN_CERTIFICATE: "the registry does not know the certificate",
        RecognitionReason.CERTIFICATE_NOT_ACTIVE: "the certificate is not active",
        RecognitionReason.ISSUER_NOT_ACTIVE: f"the issuer {claims.issuer} is not an active member",
        RecognitionReason.NO_MRA: f"no MRA between {as_authority} and {claims.issuer}",
        RecognitionReason.MRA_NOT_SIGNED: f"{mra} is not signed by every party yet",
        RecognitionReason.MRA_NOT_YET_IN_FORCE: f"{mra} is not in force yet",
        RecognitionReason.MRA_SUSPENDED: f"{mra} is suspended",
        RecognitionReason.MRA_TERMINATED: f"{mra} was terminated",
        RecognitionReason.MRA_ENDED: f"{mra} has ended",
        RecognitionReason.TIER_NOT_COVERED: (
            f"{mra} does not cover tier {tiers_text(claims.tiers)} of {claims.issuer} certificates"
        ),
    }
    message = messages.get(answer.reason, f"not recognized ({answer.reason.name})")
    return [RecognitionError(message, code=answer.reason.code)]


def recognized_reason(answer: RecognitionAnswer, as_authority: str, claims: Claims) -> Reason:
    if answer.reason is RecognitionReason.OWN_CERTIFICATE:
        return Reason("own_certificate", f"{as_authority}'s own certificate, active and valid")
    mra = f" under MRA {answer.mra_id}" if answer.mra_id is not None else ""
    return Reason(
        "recognized",
        f"active, valid, recognized by {as_authority}{mra} (tier {tiers_text(claims.tiers)})",
    )


def ts_text(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def when_text(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "unknown"


def tiers_text(tiers: int) -> str:
    return "+".join(_tier_names(tiers)) or "none"
