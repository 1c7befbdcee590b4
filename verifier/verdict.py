"""The verifier's answer: one outcome, every reason, the stages, and the data behind them.

Outcome precedence, when several findings apply (first wins; docs/qr-format.md explains it):

    malformed > bad_signature > untrusted_key > commitment_mismatch > unknown_certificate
    > revoked > expired > suspended > not_yet_valid > superseded > check_unavailable
    > not_recognized > recognized

A definite negative found by completed checks stands even if another check was unavailable;
a positive verdict (recognized, not_recognized) needs every check completed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final, NamedTuple

from contracts.domain import days
from contracts.domain.claims import Claims
from contracts.domain.encoding import hex0x, iso
from contracts.domain.enums import reason_name, tier_names
from contracts.domain.rules import RecognitionAnswer
from contracts.domain.state import CertificateSlot, SigningKeyRecord
from verifier.source import SourceInfo


class Outcome(StrEnum):
    RECOGNIZED = "recognized"
    NOT_RECOGNIZED = "not_recognized"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    SUPERSEDED = "superseded"
    UNKNOWN_CERTIFICATE = "unknown_certificate"
    UNTRUSTED_KEY = "untrusted_key"
    BAD_SIGNATURE = "bad_signature"
    COMMITMENT_MISMATCH = "commitment_mismatch"
    MALFORMED = "malformed"
    CHECK_UNAVAILABLE = "check_unavailable"


PRECEDENCE: Final[tuple[Outcome, ...]] = (
    Outcome.MALFORMED,
    Outcome.BAD_SIGNATURE,
    Outcome.UNTRUSTED_KEY,
    Outcome.COMMITMENT_MISMATCH,
    Outcome.UNKNOWN_CERTIFICATE,
    Outcome.REVOKED,
    Outcome.EXPIRED,
    Outcome.SUSPENDED,
    Outcome.NOT_YET_VALID,
    Outcome.SUPERSEDED,
    Outcome.CHECK_UNAVAILABLE,
    Outcome.NOT_RECOGNIZED,
    Outcome.RECOGNIZED,
)

_RANK: Final = {outcome: rank for rank, outcome in enumerate(PRECEDENCE)}

HEADLINES: Final[dict[Outcome, str]] = {
    Outcome.RECOGNIZED: "VALID AND RECOGNIZED",
    Outcome.NOT_RECOGNIZED: "VALID, NOT RECOGNIZED",
    Outcome.SUSPENDED: "SUSPENDED",
    Outcome.REVOKED: "REVOKED",
    Outcome.EXPIRED: "EXPIRED",
    Outcome.NOT_YET_VALID: "NOT YET VALID",
    Outcome.SUPERSEDED: "OUTDATED CERTIFICATE (SUPERSEDED)",
    Outcome.UNKNOWN_CERTIFICATE: "UNKNOWN CERTIFICATE",
    Outcome.UNTRUSTED_KEY: "UNTRUSTED SIGNING KEY",
    Outcome.BAD_SIGNATURE: "BAD SIGNATURE",
    Outcome.COMMITMENT_MISMATCH: "DOES NOT MATCH THE REGISTRY",
    Outcome.MALFORMED: "NOT A READABLE AEO CERTIFICATE CODE",
    Outcome.CHECK_UNAVAILABLE: "CANNOT VERIFY NOW",
}

# Reason code -> the outcome it points to; codes not listed here are information only
# (``status_stale``, ``renewed``, ``status_from_filter``) and never decide the outcome.
_OUTCOME_OF_REASON: Final[dict[str, Outcome]] = {
    **dict.fromkeys(
        (
            "unreadable_input",
            "no_qr_code",
            "too_large",
            "too_complex",
            "bad_prefix",
            "unsupported_version",
            "bad_base45",
            "bad_compression",
            "bad_cose",
            "unsupported_algorithm",
            "bad_cbor",
            "bad_claims",
            # Not the one encoding the issuer writes (docs/qr-format.md, section 1).
            "trailing_bytes",
            "non_canonical_compression",
            "non_canonical_cose",
        ),
        Outcome.MALFORMED,
    ),
    "bad_signature": Outcome.BAD_SIGNATURE,
    "algorithm_mismatch": Outcome.BAD_SIGNATURE,
    "non_canonical_signature": Outcome.BAD_SIGNATURE,
    **dict.fromkeys(
        (
            "unknown_key",
            "bad_key_record",
            "key_wrong_authority",
            "key_not_yet_valid",
            "key_revoked",
            "signed_in_future",
        ),
        Outcome.UNTRUSTED_KEY,
    ),
    "commitment_mismatch": Outcome.COMMITMENT_MISMATCH,
    "unknown_certificate": Outcome.UNKNOWN_CERTIFICATE,
    "revoked": Outcome.REVOKED,
    "expired": Outcome.EXPIRED,
    "suspended": Outcome.SUSPENDED,
    "not_yet_valid": Outcome.NOT_YET_VALID,
    "superseded": Outcome.SUPERSEDED,
    **dict.fromkeys(
        (
            "no_mra",
            "mra_not_signed",
            "mra_not_yet_in_force",
            "mra_suspended",
            "mra_terminated",
            "mra_ended",
            "tier_not_covered",
            "issuer_not_active",
            "certificate_not_active",
        ),
        Outcome.NOT_RECOGNIZED,
    ),
    "recognized": Outcome.RECOGNIZED,
    "own_certificate": Outcome.RECOGNIZED,
}

INFO_REASONS: Final = frozenset({"status_stale", "renewed", "status_from_filter"})


def outcome_of_reason(code: str) -> Outcome | None:
    """The outcome a reason code points to; ``None`` for information-only codes."""
    if code.endswith("_unavailable"):
        return Outcome.CHECK_UNAVAILABLE
    return _OUTCOME_OF_REASON.get(code)


class Reason(NamedTuple):
    code: str
    message: str


class StageState(StrEnum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class StageResult:
    stage: str
    state: StageState
    code: str | None = None
    message: str | None = None

    def to_json_dict(self) -> dict[str, object]:
        return {
            "stage": self.stage,
            "state": self.state.value,
            "code": self.code,
            "message": self.message,
        }


EXIT_RECOGNIZED: Final = 0
EXIT_NOT_RECOGNIZED: Final = 1
EXIT_USAGE: Final = 2  # the CLI's own: bad arguments
EXIT_OTHER: Final = 3


@dataclass(frozen=True)
class Verdict:
    """What :func:`verifier.verify` answers. Build with :func:`decide_outcome`'s rule."""

    outcome: Outcome
    reasons: tuple[Reason, ...]
    stages: tuple[StageResult, ...]
    checked_at: datetime
    as_authority: str
    as_of: datetime | None = None
    stale: bool = False
    source: SourceInfo | None = None
    claims: Claims | None = None
    signing_key: SigningKeyRecord | None = None
    certificate: CertificateSlot | None = None
    issuer_name: str | None = None
    recognition: RecognitionAnswer | None = None

    @property
    def headline(self) -> str:
        return HEADLINES[self.outcome]

    @property
    def issuer_confirmed(self) -> bool:
        """Whether the issuer the code names is proven: its signature verified with a key
        that administration registered. Until then the name is only what the code claims."""
        return (
            self.claims is not None
            and self.signing_key is not None
            and self.signing_key.authority == self.claims.issuer
            and any(s.stage == "signature" and s.state is StageState.OK for s in self.stages)
        )

    def issuer_line(self) -> str:
        """Who issued the certificate, the first line of every verdict: a reader must never
        take one administration's certificate for another's (a KZ certificate numbered
        ``MN-AEO-0001`` is KZ's)."""
        if self.claims is None:
            return "Issuer unknown: the code could not be read"
        who = self.claims.issuer + (f" – {self.issuer_name}" if self.issuer_name else "")
        if self.issuer_confirmed:
            return f"Issued by {who}"
        return f"Claims to be issued by {who}: not confirmed by its signature"

    @property
    def exit_code(self) -> int:
        return exit_code(self)

    @property
    def offline(self) -> bool:
        # "snapshot": the offline cache a registry's signed snapshot filled (docs/snapshot.md).
        return self.source is not None and self.source.kind in {"offline", "snapshot"}

    def stage(self, name: str) -> StageResult:
        return next(s for s in self.stages if s.stage == name)

    def status_as_of(self) -> str | None:
        """ "status as of <time>" with its source, the phrase every offline verdict shows."""
        if self.as_of is None or self.source is None:
            return None
        where = {"offline": "offline cache", "snapshot": "offline snapshot"}.get(
            self.source.kind, self.source.kind
        )
        if self.source.block_number is not None:
            where += f", block {self.source.block_number}"
        stale = ", STALE" if self.stale else ""
        return f"status as of {self.as_of.strftime('%Y-%m-%d %H:%M UTC')} ({where}{stale})"

    def summary(self) -> str:
        """One sentence: the issuer, the headline, the deciding reason, and the time of the
        status data."""
        deciding = next(
            (r for r in self.reasons if outcome_of_reason(r.code) is self.outcome),
            self.reasons[0] if self.reasons else None,
        )
        parts = [self.issuer_line(), self.headline]
        if deciding is not None:
            parts.append(deciding.message)
        as_of = self.status_as_of()
        text = ": ".join(parts)
        return f"{text} ({as_of})" if as_of else text

    def to_dict(self) -> dict[str, object]:
        cert = self.certificate
        last = cert.last_change if cert else None
        return {
            "format": "AEO1",
            # First, as on every other verdict: who issued the certificate, and whether its
            # signature proves it.
            "issuer": {
                "code": self.claims.issuer if self.claims else None,
                "name": self.issuer_name,
                "confirmed": self.issuer_confirmed,
                "line": self.issuer_line(),
            },
            "outcome": self.outcome.value,
            "headline": self.headline,
            "summary": self.summary(),
            "reasons": [{"code": r.code, "message": r.message} for r in self.reasons],
            "as_of": iso(self.as_of) if self.as_of else None,
            "stale": self.stale,
            "source": self.source.to_json_dict() if self.source else None,
            "checked_at": iso(self.checked_at),
            "as_authority": self.as_authority,
            "stages": [s.to_json_dict() for s in self.stages],
            "claims": self.claims.to_json_dict() if self.claims else None,
            "tiers": list(tier_names(self.claims.tiers)) if self.claims else None,
            "issuer_name": self.issuer_name,
            "signing_key": (
                {
                    "kid": hex0x(self.signing_key.kid),
                    "authority": self.signing_key.authority,
                    "algorithm": self.signing_key.algorithm.name,
                    "valid_from": self.signing_key.valid_from,
                    "revoked_at": self.signing_key.revoked_at or None,
                }
                if self.signing_key
                else None
            ),
            "registry": (
                {
                    "certificate_id": hex0x(cert.certificate_id),
                    "status": cert.status.name.lower(),
                    "status_reason": reason_name(last.reason) if last else None,
                    "status_since": last.since if last else None,
                    "tiers": list(tier_names(cert.tiers)),
                    "valid_from": days.from_day(cert.valid_from).isoformat(),
                    "valid_until": days.from_day(cert.valid_until).isoformat(),
                    "version": cert.version,
                }
                if cert
                else None
            ),
            "recognition": (
                {
                    "recognized": self.recognition.recognized,
                    "reason": self.recognition.reason.code,
                    "mra_id": self.recognition.mra_id,
                }
                if self.recognition
                else None
            ),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)


def decide_outcome(reasons: tuple[Reason, ...], stages: tuple[StageResult, ...]) -> Outcome:
    """The highest-precedence outcome any reason points to.

    A positive outcome also needs every stage completed; when one is not (a bug or a
    source that answered nothing), the answer is ``check_unavailable``, never a pass.
    """
    outcome = Outcome.CHECK_UNAVAILABLE
    rank = len(PRECEDENCE)
    for reason in reasons:
        found = outcome_of_reason(reason.code)
        if found is not None and _RANK[found] < rank:
            outcome, rank = found, _RANK[found]
    if outcome is Outcome.RECOGNIZED and any(s.state is not StageState.OK for s in stages):
        return Outcome.CHECK_UNAVAILABLE
    if outcome is Outcome.NOT_RECOGNIZED and any(
        s.state is not StageState.OK for s in stages if s.stage != "recognition"
    ):
        return Outcome.CHECK_UNAVAILABLE
    return outcome


def exit_code(verdict: Verdict) -> int:
    """The CLI's exit code: 0 recognized, 1 not recognized, 3 anything else (2 = usage)."""
    if verdict.outcome is Outcome.RECOGNIZED:
        return EXIT_RECOGNIZED
    if verdict.outcome is Outcome.NOT_RECOGNIZED:
        return EXIT_NOT_RECOGNIZED
    return EXIT_OTHER
