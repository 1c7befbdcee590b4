"""The verifier's pipeline over a snapshot: a :class:`~verifier.source.StatusSource` for one
scanned QR, and :func:`verify_offline`, which decodes the QR, builds that source from its
claims and runs :func:`verifier.pipeline.verify` unchanged.

A snapshot cannot hand out a certificate's record by id alone: it holds a binding fingerprint,
not the digest. Bound to the QR's claims it can (:func:`record_for`),
so every stage of the pipeline runs as it does against the full offline cache, and the verdict
is the same except where the filter admits a certificate that was never issued (its rate is
:attr:`~verifier.snapshot.state.CompactState.false_positive_rate`; docs/snapshot.md).
"""

from __future__ import annotations

import os
import threading
from datetime import timedelta
from pathlib import Path
from typing import Final

from contracts.domain.claims import Claims
from contracts.domain.days import Day
from contracts.domain.enums import CertificateStatus
from contracts.domain.rules import RecognitionAnswer
from contracts.domain.state import (
    AuthorityRecord,
    CertificateSlot,
    SigningKeyRecord,
    StatusChange,
)
from verifier.errors import SourceUnavailable, VerificationError
from verifier.input import read_input
from verifier.payload import decode
from verifier.pipeline import DEFAULT_MAX_AGE, Clock, InputData, verify
from verifier.snapshot.cache import CachedSnapshot, load
from verifier.snapshot.errors import SnapshotError
from verifier.snapshot.model import Binding, CertificateAnswer, Membership
from verifier.snapshot.state import CompactState
from verifier.source import SourceInfo, StatusSource
from verifier.verdict import Reason, Verdict

#: the reason code of a verdict whose certificate the membership filter vouched for
FILTER_REASON: Final = "status_from_filter"


def answer_for(
    state: CompactState, claims: Claims, certificate_id: bytes | None = None
) -> CertificateAnswer:
    """:meth:`CompactState.status` with a QR's claims (``certificate_id`` is theirs, when the
    caller derived it already: a Keccak hash less)."""
    return state.status(
        certificate_id or claims.certificate_id,
        version=claims.version,
        digest=claims.digest,
        holder_ref=claims.holder_ref,
        tiers=claims.tiers,
        valid_from=claims.valid_from,
        valid_until=claims.valid_until,
    )


class SnapshotSource:
    """A status source answering from ``state`` for the certificate ``claims`` describe."""

    def __init__(self, state: CompactState, info: SourceInfo, claims: Claims | None) -> None:
        self._state = state
        self._info = info
        self._claims = claims
        self.answer: CertificateAnswer | None = None
        """The snapshot's answer for the claims, once the pipeline asked for the record."""

    def info(self) -> SourceInfo:
        return self._info

    def signing_key(self, kid: bytes) -> SigningKeyRecord | None:
        return self._state.signing_key(kid)

    def authority(self, code: str) -> AuthorityRecord | None:
        return self._state.authority(code)

    def certificate(self, certificate_id: bytes) -> CertificateSlot | None:
        claims = self._claims
        if claims is None or claims.certificate_id != certificate_id:
            raise SourceUnavailable(
                "a snapshot answers for the scanned QR's certificate only, with its claims"
            )
        answer = self.answer = answer_for(self._state, claims, certificate_id)
        if (
            answer.membership is Membership.FILTER
            and answer.binding is Binding.DIFFERS
            and claims.issued_at > self._info.as_of.timestamp()
        ):
            # Signed after the snapshot was made, and its id bits meet another entry: most
            # likely a certificate issued since, so "sync again", not "does not match".
            return None
        return record_for(
            answer,
            certificate_id=certificate_id,
            issuer=claims.issuer,
            number=claims.number,
            digest=claims.digest,
            holder_ref=claims.holder_ref,
            tiers=claims.tiers,
            valid_from=claims.valid_from,
            valid_until=claims.valid_until,
        )

    def recognition(
        self, authority: str, certificate: CertificateSlot, day: int
    ) -> RecognitionAnswer:
        return self._state.recognition(authority, certificate, day)

    def verdict_reasons(self) -> list[Reason]:
        """The pipeline adds these to the verdict: when the membership filter vouched for
        the certificate (not listed, binding matched), the chance that it would vouch for a
        certificate never issued (docs/qr-format.md, the residual risk)."""
        answer = self.answer
        if answer is None or answer.membership is not Membership.FILTER:
            return []
        if answer.binding is not Binding.MATCHES:
            return []
        rate = answer.false_positive_rate
        odds = f" (one in {round(1 / rate):,})" if rate > 0 else ""
        return [
            Reason(
                FILTER_REASON,
                "issued per the snapshot's membership filter: a certificate never issued "
                f"would pass it with probability {rate:.1e}{odds}",
            )
        ]


class SnapshotCacheSource:
    """The border post's snapshot cache file (:mod:`verifier.snapshot.cache`) as a status
    source: ``aeo verify --offline`` and the border page ask it like the SQLite cache.

    The pipeline binds it to each scanned QR's claims (:meth:`for_claims`). The file is read
    again when a sync replaced it (its inode, size or time changed), so a page left running
    answers from the latest sync.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._cached: CachedSnapshot | None = None

    def cached(self) -> CachedSnapshot:
        """The loaded cache; raises :class:`SourceUnavailable` when there is none to read."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            raise SourceUnavailable(
                f"the snapshot cache {self.path} does not exist (aeo verifier sync --from URL)"
            ) from None
        stamp = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        with self._lock:
            if self._cached is None or stamp != self._stamp:
                try:
                    loaded = load(self.path)
                except SnapshotError as exc:
                    raise SourceUnavailable(f"the snapshot cache: {exc.message}") from exc
                if loaded is None:
                    raise SourceUnavailable(f"the snapshot cache {self.path} does not exist")
                self._cached, self._stamp = loaded, stamp
            return self._cached

    def for_claims(self, claims: Claims) -> StatusSource:
        try:
            cached = self.cached()
        except SourceUnavailable as exc:
            return _Unavailable(exc.message)
        return SnapshotSource(cached.state, cached.source_info(), claims)

    def info(self) -> SourceInfo:
        return self.cached().source_info()

    def signing_key(self, kid: bytes) -> SigningKeyRecord | None:
        return self.cached().state.signing_key(kid)

    def authority(self, code: str) -> AuthorityRecord | None:
        return self.cached().state.authority(code)

    def certificate(self, certificate_id: bytes) -> CertificateSlot | None:
        raise SourceUnavailable(
            "a snapshot answers for a scanned QR's certificate only, with its claims"
        )

    def recognition(
        self, authority: str, certificate: CertificateSlot, day: int
    ) -> RecognitionAnswer:
        return self.cached().state.recognition(authority, certificate, day)


class _Unavailable:
    """A source that cannot answer (the cache could not be read), and says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def info(self) -> SourceInfo:
        raise SourceUnavailable(self.reason)

    def signing_key(self, kid: bytes) -> SigningKeyRecord | None:
        raise SourceUnavailable(self.reason)

    def authority(self, code: str) -> AuthorityRecord | None:
        raise SourceUnavailable(self.reason)

    def certificate(self, certificate_id: bytes) -> CertificateSlot | None:
        raise SourceUnavailable(self.reason)

    def recognition(
        self, authority: str, certificate: CertificateSlot, day: int
    ) -> RecognitionAnswer:
        raise SourceUnavailable(self.reason)


def verify_offline(
    data: InputData,
    *,
    state: CompactState,
    info: SourceInfo,
    as_authority: str,
    clock: Clock,
    max_age: timedelta = DEFAULT_MAX_AGE,
) -> Verdict:
    """:func:`verifier.pipeline.verify` against a snapshot. Never raises."""
    claims: Claims | None = None
    try:
        text = read_input(data)
        claims = decode(text).claims
    except (VerificationError, ValueError):
        text = None  # the pipeline reads the input again and names the stage that refuses
    return verify(
        data if text is None else text,
        as_authority=as_authority,
        clock=clock,
        source=SnapshotSource(state, info, claims),
        max_age=max_age,
    )


def record_for(
    answer: CertificateAnswer,
    *,
    certificate_id: bytes,
    issuer: str,
    number: str | None,
    digest: bytes,
    holder_ref: bytes,
    tiers: int,
    valid_from: int,
    valid_until: int,
) -> CertificateSlot | None:
    """The :class:`CertificateSlot` the verifier's pipeline compares a QR with, as far as the
    snapshot knows it; ``None`` for an unknown certificate.

    The snapshot holds no digest, only whether the QR's binding matches the chain's: when it
    differs, the record carries the bitwise complement of the QR's digest, so the pipeline's
    binding check fails with ``commitment_mismatch`` as it does against the full record (and
    the holder reference is left out: the snapshot cannot tell which field differs).
    """
    if answer.membership is Membership.UNKNOWN:
        return None
    matches = answer.binding is not Binding.DIFFERS
    history = (
        (StatusChange(answer.status, answer.reason, answer.since),)
        if answer.status is not CertificateStatus.ACTIVE
        else ()
    )
    return CertificateSlot(
        certificate_id=certificate_id,
        issuer=issuer,
        tiers=tiers,
        status=answer.status,
        valid_from=Day(valid_from),
        valid_until=Day(answer.valid_until if answer.valid_until is not None else valid_until),
        version=answer.version,
        digest=digest if matches else bytes(b ^ 0xFF for b in digest),
        history=history,
        holder_ref=holder_ref if matches else None,
        number=number,
    )
