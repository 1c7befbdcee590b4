"""The verification pipeline: pure stages, run in order, recorded in a frozen :class:`Verdict`.

Stages, in order: input, prefix, base45, decompress, cose, cbor, claims (decoding: each one
needs the previous), signature, key_validity, binding, status, validity_dates, recognition
(checks against a :class:`~verifier.source.StatusSource`). A decoding stage raises its error
type; a check stage returns every finding (a list of its error type), so a verdict can name
every reason that applies. :func:`verify` runs them all, never raises, and records each stage
as ok, failed, skipped (a stage it needs did not pass) or unavailable (the source could not
answer). Stage order and outcome precedence are documented in docs/qr-format.md.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final, TypeVar

from PIL import Image

from contracts.domain import days, ids
from contracts.domain.claims import Claims
from contracts.domain.enums import (
    CertificateStatus,
)
from contracts.domain.rules import RecognitionAnswer
from contracts.domain.state import AuthorityRecord, CertificateSlot, SigningKeyRecord
from verifier.errors import (
    Base45Error,
    BindingError,
    CborError,
    ClaimsError,
    CoseError,
    DecompressionError,
    InputError,
    KeyValidityError,
    PrefixError,
    RecognitionError,
    SignatureError,
    SourceUnavailable,
    StatusError,
    ValidityDatesError,
    VerificationError,
)
from verifier.input import read_input
from verifier.payload import (
    CoseSign1,
    claims_from_cbor,
    decode_base45,
    decode_claims_cbor,
    decompress,
    parse_cose,
    strip_prefix,
)
from verifier.source import SourceInfo, StatusSource
from verifier.stages import (
    CLOCK_SKEW,
    check_binding,
    check_key_validity,
    check_recognition,
    check_signature,
    check_status,
    check_validity_dates,
    recognized_reason,
    when_text,
)
from verifier.verdict import (
    Outcome,
    Reason,
    StageResult,
    StageState,
    Verdict,
    decide_outcome,
    outcome_of_reason,
)

__all__ = [
    "CLOCK_SKEW",
    "DEFAULT_MAX_AGE",
    "STAGES",
    "Clock",
    "InputData",
    "check_binding",
    "check_key_validity",
    "check_recognition",
    "check_signature",
    "check_status",
    "check_validity_dates",
    "read_input",
    "verify",
]

Clock = datetime | Callable[[], datetime]
InputData = str | bytes | bytearray | os.PathLike[str] | Image.Image

STAGES: Final = (
    "input",
    "prefix",
    "base45",
    "decompress",
    "cose",
    "cbor",
    "claims",
    "signature",
    "key_validity",
    "binding",
    "status",
    "validity_dates",
    "recognition",
)
DEFAULT_MAX_AGE: Final = timedelta(hours=24)

_T = TypeVar("_T")


# ---------------------------------------------------------------- the run


@dataclass
class _Run:
    """Collects stage results and reasons while the pipeline runs."""

    stages: dict[str, StageResult] = field(default_factory=dict)
    reasons: list[Reason] = field(default_factory=list)

    def ok(self, stage: str) -> None:
        self.stages[stage] = _OK[stage]

    def failed(self, stage: str, errors: Sequence[VerificationError]) -> None:
        self.stages[stage] = StageResult(
            stage, StageState.FAILED, errors[0].code, "; ".join(e.message for e in errors)
        )
        self.reasons.extend(Reason(e.code, e.message) for e in errors)

    def unavailable(self, stage: str, message: str, code: str | None = None) -> None:
        code = code or f"{stage}_unavailable"
        self.stages[stage] = StageResult(stage, StageState.UNAVAILABLE, code, message)
        self.reasons.append(Reason(code, f"{stage} check could not be completed: {message}"))

    def passed(self, stage: str) -> bool:
        return stage in self.stages and self.stages[stage].state is StageState.OK

    def decode(self, stage: str, step: Callable[[], _T]) -> _T | None:
        """Runs a decoding stage (it raises on refusal)."""
        try:
            value = step()
        except VerificationError as exc:
            self.failed(stage, [exc])
            return None
        except Exception as exc:  # a parser bug must still name the stage, never escape
            self.failed(stage, [_unexpected(stage, exc)])
            return None
        self.ok(stage)
        return value

    def check(self, stage: str, step: Callable[[], Sequence[VerificationError]]) -> bool:
        """Runs a check stage (it returns findings); True when it passed."""
        try:
            findings = step()
        except SourceUnavailable as exc:
            self.unavailable(stage, exc.message)
            return False
        except VerificationError as exc:
            findings = [exc]
        except Exception as exc:  # see decode()
            findings = [_unexpected(stage, exc)]
        if findings:
            self.failed(stage, findings)
            return False
        self.ok(stage)
        return True

    def lookup(self, stage: str, step: Callable[[], _T]) -> tuple[bool, _T | None]:
        """Asks the source; (False, None) when it could not answer (the stage is then
        recorded unavailable)."""
        try:
            return True, step()
        except SourceUnavailable as exc:
            self.unavailable(stage, exc.message)
        except Exception as exc:  # a source that breaks its contract is an unavailable source
            self.unavailable(stage, f"the status source failed: {type(exc).__name__}: {exc}")
        return False, None

    def skip_rest(self) -> tuple[StageResult, ...]:
        done = []
        for stage in STAGES:
            if stage not in self.stages:
                done.append(StageResult(stage, StageState.SKIPPED, None, _skip_note(self, stage)))
            else:
                done.append(self.stages[stage])
        return tuple(done)


# A passed stage's result carries nothing but its name: one frozen instance per stage.
_OK: Final = {stage: StageResult(stage, StageState.OK) for stage in STAGES}


def _skip_note(run: _Run, stage: str) -> str:
    index = STAGES.index(stage)
    blocking = next(
        (s for s in reversed(STAGES[:index]) if s in run.stages and not run.passed(s)), None
    )
    return f"not run: {blocking} did not pass" if blocking else "not run"


_STAGE_ERRORS: Final[dict[str, type[VerificationError]]] = {
    cls.stage: cls
    for cls in (
        InputError,
        PrefixError,
        Base45Error,
        DecompressionError,
        CoseError,
        CborError,
        ClaimsError,
        SignatureError,
        KeyValidityError,
        BindingError,
        StatusError,
        ValidityDatesError,
        RecognitionError,
    )
}


def _unexpected(stage: str, exc: Exception) -> VerificationError:
    """An exception no stage anticipated, reported as that stage's refusal."""
    code = _STAGE_ERRORS[stage].default_code if stage in _STAGE_ERRORS else None
    return VerificationError(f"unexpected error: {type(exc).__name__}: {exc}", code=code)


def verify(
    data: InputData,
    *,
    as_authority: str,
    clock: Clock,
    source: StatusSource,
    max_age: timedelta = DEFAULT_MAX_AGE,
) -> Verdict:
    """Verify a scanned AEO certificate QR code for the administration ``as_authority``.

    ``data`` is the QR text, bytes (text or an image file), a PIL image or a file path;
    ``clock`` is the current UTC time or a callable returning it; ``source`` answers the
    registry questions; status data older than ``max_age`` is flagged ``stale``.
    Never raises: every refusal is a verdict naming its stage.
    """
    try:
        now = _resolve_clock(clock)
    except Exception as exc:  # a clock that fails is a check that cannot be made
        now = datetime.now(UTC)
        run = _Run()
        run.unavailable("input", f"the clock could not be read: {exc}", "clock_unavailable")
        return _finish(run, now, as_authority)
    try:
        return _verify(data, as_authority, now, source, max_age)
    except Exception as exc:  # last line of defence: a bug must not crash a border post
        run = _Run()
        run.unavailable(
            "input", f"internal error: {type(exc).__name__}: {exc}", "verifier_unavailable"
        )
        return _finish(run, now, as_authority)


def _resolve_clock(clock: Clock) -> datetime:
    now = clock() if callable(clock) else clock
    if not isinstance(now, datetime):
        raise TypeError(f"clock gave a {type(now).__name__}, not a datetime")
    # A naive time is taken as UTC, the only zone the registry uses.
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


@dataclass
class _Found:
    """What the run learnt, for the verdict."""

    info: SourceInfo | None = None
    claims: Claims | None = None
    key: SigningKeyRecord | None = None
    record: CertificateSlot | None = None
    authority: AuthorityRecord | None = None
    answer: RecognitionAnswer | None = None
    stale: bool = False


def _verify(
    data: InputData, as_authority: str, now: datetime, source: StatusSource, max_age: timedelta
) -> Verdict:
    run = _Run()
    found = _Found()
    text = run.decode("input", lambda: read_input(data))
    text45 = run.decode("prefix", lambda: strip_prefix(text)) if text is not None else None
    compressed = run.decode("base45", lambda: decode_base45(text45)) if text45 is not None else None
    cose_bytes = (
        run.decode("decompress", lambda: decompress(compressed)) if compressed is not None else None
    )
    cose = run.decode("cose", lambda: parse_cose(cose_bytes)) if cose_bytes is not None else None
    claims_map = run.decode("cbor", lambda: decode_claims_cbor(cose.payload)) if cose else None
    claims = (
        run.decode("claims", lambda: claims_from_cbor(claims_map))
        if claims_map is not None
        else None
    )
    found.claims = claims
    if cose is not None and claims is not None:
        # A source that answers for one scanned QR at a time (a snapshot, which holds a
        # fingerprint of each certificate rather than its record) is bound to its claims.
        bind = getattr(source, "for_claims", None)
        if callable(bind):
            source = bind(claims)
        view = _one_view(source)
        try:
            _check_against_source(run, found, cose, claims, as_authority, now, source, max_age)
        finally:
            if view is not None:
                _close_view(view)
        # What the source wants the verdict to say about its answers (a snapshot: that a
        # membership filter, with its false-positive rate, vouched for the certificate), once
        # the issuer's key vouched for the claims: a refused key decides alone.
        notes = getattr(source, "verdict_reasons", None)
        if callable(notes) and run.passed("signature") and run.passed("key_validity"):
            run.reasons.extend(notes())
    return _finish(run, now, as_authority, found)


def _one_view(source: StatusSource) -> AbstractContextManager[object] | None:
    """Enters the source's ``reading()`` view when it has one (the offline cache does: all
    answers from one sync, the file's version read once). A view that cannot be opened is
    left out: the questions themselves then report what is wrong with the source."""
    reading = getattr(source, "reading", None)
    if not callable(reading):
        return None
    try:
        view = reading()
        view.__enter__()
    except Exception:  # see the docstring: the stages report the source's failure
        return None
    return view  # type: ignore[no-any-return]


def _close_view(view: AbstractContextManager[object]) -> None:
    with contextlib.suppress(Exception):  # the verdict is made; closing a read changes nothing
        view.__exit__(None, None, None)


def _check_against_source(
    run: _Run,
    found: _Found,
    cose: CoseSign1,
    claims: Claims,
    as_authority: str,
    now: datetime,
    source: StatusSource,
    max_age: timedelta,
) -> None:
    answered, info = run.lookup("signature", source.info)
    if not answered or info is None:
        return
    found.info = info
    found.stale = now - info.as_of > max_age
    if found.stale:
        run.reasons.append(
            Reason(
                "status_stale",
                f"the status data is from {when_text(info.as_of)}, older than {_age(max_age)}",
            )
        )
    answered, key = run.lookup("signature", lambda: source.signing_key(cose.kid))
    if not answered:
        return
    found.key = key
    if not run.check("signature", lambda: check_signature(cose, claims, key, info.as_of)):
        return
    assert key is not None  # check_signature passes only with a key
    _, found.authority = _best_effort(lambda: source.authority(claims.issuer))
    key_ok = run.check("key_validity", lambda: check_key_validity(claims, key, now))

    answered, record = run.lookup("binding", lambda: source.certificate(claims.certificate_id))
    if not answered:
        return
    binding_ok = run.check("binding", lambda: check_binding(claims, record, info.as_of))
    if record is None or record.status is CertificateStatus.NONE:
        return
    found.record = record
    if binding_ok and claims.valid_until < record.valid_until:
        run.reasons.append(
            Reason(
                "renewed",
                "renewed: valid until "
                f"{days.from_day(record.valid_until).isoformat()} per the registry "
                f"(the QR shows {days.from_day(claims.valid_until).isoformat()})",
            )
        )
    status_ok = run.check("status", lambda: check_status(record))
    day = days.day_of(int(now.timestamp()))
    dates_ok = run.check("validity_dates", lambda: check_validity_dates(record, day))
    if not (key_ok and binding_ok and status_ok and dates_ok):
        return
    if not _is_code(as_authority):
        run.unavailable("recognition", f"as_authority {as_authority!r} is not an authority code")
        return
    answered, answer = run.lookup(
        "recognition", lambda: source.recognition(as_authority, record, day)
    )
    if not answered or answer is None:
        return
    found.answer = answer
    if run.check("recognition", lambda: check_recognition(answer, as_authority, claims)):
        run.reasons.append(recognized_reason(answer, as_authority, claims))


def _is_code(code: str) -> bool:
    try:
        ids.authority_code(code)
    except (ValueError, TypeError):
        return False
    return True


def _best_effort(step: Callable[[], _T]) -> tuple[bool, _T | None]:
    try:
        return True, step()
    except Exception:  # display-only data (the issuer's name): its absence changes nothing
        return False, None


def _finish(run: _Run, now: datetime, as_authority: str, found: _Found | None = None) -> Verdict:
    found = found or _Found()
    stages = run.skip_rest()
    reasons = tuple(run.reasons)
    outcome = decide_outcome(reasons, stages)
    if not reasons:
        reasons = (Reason("verifier_unavailable", "no check produced a finding"),)
    return Verdict(
        outcome=outcome,
        reasons=_ordered(reasons, outcome),
        stages=stages,
        checked_at=now,
        as_authority=as_authority,
        as_of=found.info.as_of if found.info else None,
        stale=found.stale,
        source=found.info,
        claims=found.claims,
        signing_key=found.key,
        certificate=found.record,
        issuer_name=found.authority.name if found.authority else None,
        recognition=found.answer,
    )


def _ordered(reasons: tuple[Reason, ...], outcome: Outcome) -> tuple[Reason, ...]:
    """The reasons behind the outcome first, then the rest in the order found."""
    return tuple(sorted(reasons, key=lambda r: outcome_of_reason(r.code) is not outcome))


def _age(age: timedelta) -> str:
    hours = age.total_seconds() / 3600
    return f"{hours:g} hours" if hours < 48 else f"{hours / 24:g} days"
