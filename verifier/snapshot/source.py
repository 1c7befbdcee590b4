"""The verifier's pipeline over a snapshot: a :class:`~verifier.source.StatusSource` for one
scanned QR, and :func:`verify_offline`, which decodes the QR, builds that source from its
claims and runs :func:`verifier.pipeline.verify` unchanged.

A snapshot cannot hand out a certificate's record by id alone: it holds a binding fingerprint,
not the digest. Bound to the QR's claims it can (:func:`verifier.snapshot.state.record_for`),
so every stage of the pipeline runs as it does against the full offline cache, and the verdict
is the same except where the filter admits a certificate that was never issued (its rate is
:attr:`~verifier.snapshot.state.CompactState.false_positive_rate`; docs/snapshot.md).
"""

from __future__ import annotations

from datetime import timedelta

from contracts.domain.claims import Claims
from contracts.domain.rules import RecognitionAnswer
from contracts.domain.state import AuthorityRecord, CertificateSlot, SigningKeyRecord
from verifier.errors import SourceUnavailable, VerificationError
from verifier.payload import decode
from verifier.pipeline import DEFAULT_MAX_AGE, Clock, InputData, read_input, verify
from verifier.snapshot.model import Binding, CertificateAnswer, Membership
from verifier.snapshot.state import CompactState, record_for
from verifier.source import SourceInfo
from verifier.verdict import Verdict


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
