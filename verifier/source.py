"""Where the verifier gets the registry's state: the :class:`StatusSource` protocol.

A source answers four questions about the chain as of one moment (:meth:`StatusSource.info`):
the signing key with a key id, the certificate slot with an id (and its status history),
an authority, and whether an authority recognizes a certificate. Two implementations:

- the offline cache (:class:`verifier.offline.OfflineCache`), filled from chain events;
- a chain-backed source (written on top of the chain layer), whose answers map one-to-one
  to contract views: ``getSigningKey`` (algorithm 0 -> ``None``), ``getCertificate``
  (status None -> ``None``) plus the ``CertificateStatusChanged`` logs for the history,
  ``getAuthority``, and ``MraRegistry.recognizes`` (or the MRA data and
  :func:`verifier.rules.recognize`).

A source may also offer ``reading()``, a context manager under which all its answers come
from one state (the offline cache's read transaction); the pipeline asks one verification's
questions inside it when it exists.

Any method may raise :class:`SourceUnavailable`; the verifier then reports which check could
not be done instead of passing it. ``None`` means "the registry has no such thing" and is a
finding, so a source must never return ``None`` for "I could not tell".

:class:`MemorySource` holds a snapshot in memory (golden vectors, tests, demos).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from contracts import ids
from verifier.errors import SourceUnavailable
from verifier.keys import Algorithm
from verifier.rules import (
    AuthorityStatus,
    CertificateStatus,
    MraParty,
    MraRecord,
    MraState,
    RecognitionAnswer,
    effective_status,
    recognize,
)

__all__ = [
    "AuthorityRecord",
    "CertificateRecord",
    "MemorySource",
    "SigningKeyRecord",
    "SourceInfo",
    "SourceUnavailable",
    "StatusChange",
    "StatusSource",
]


@dataclass(frozen=True)
class SourceInfo:
    """Which state a source answers from.

    ``as_of`` is the time the state is known to be current: for a live chain the latest
    block's time, for the offline cache the time of its last sync.
    """

    kind: str
    as_of: datetime
    block_number: int | None = None
    block_hash: bytes | None = None
    block_time: datetime | None = None

    def to_json_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "as_of": iso(self.as_of),
            "block_number": self.block_number,
            "block_hash": hex0x(self.block_hash),
            "block_time": iso(self.block_time) if self.block_time else None,
        }


@dataclass(frozen=True)
class SigningKeyRecord:
    """A document-signing key as the trust list publishes it (``getSigningKey``)."""

    kid: bytes
    authority: str
    algorithm: Algorithm
    public_key: bytes
    valid_from: int
    revoked_at: int = 0
    """Unix time from which signatures are not trusted; 0 = not revoked."""


@dataclass(frozen=True)
class StatusChange:
    status: CertificateStatus
    reason: int
    since: int
    """Unix time of the block that made the change."""


@dataclass(frozen=True)
class CertificateRecord:
    """A certificate's storage slot, plus what events add (history, holder reference)."""

    certificate_id: bytes
    issuer: str
    tiers: int
    status: CertificateStatus
    valid_from: int
    valid_until: int
    version: int
    digest: bytes
    history: tuple[StatusChange, ...] = ()
    """Status changes, oldest first (issue, suspend, reinstate, revoke)."""
    holder_ref: bytes | None = None
    """From the issue/amend events when the source has them; the slot does not store it."""
    number: str | None = None

    @property
    def last_change(self) -> StatusChange | None:
        return self.history[-1] if self.history else None


@dataclass(frozen=True)
class AuthorityRecord:
    code: str
    name: str
    status: AuthorityStatus


@runtime_checkable
class StatusSource(Protocol):
    """The registry's state, as the verifier reads it. Every method may raise
    :class:`SourceUnavailable`."""

    def info(self) -> SourceInfo:
        """Which state the answers come from (its time, and block when known)."""
        ...

    def signing_key(self, kid: bytes) -> SigningKeyRecord | None:
        """The key with this 8-byte id, or ``None`` when none was ever registered."""
        ...

    def certificate(self, certificate_id: bytes) -> CertificateRecord | None:
        """The certificate with this 32-byte id, or ``None`` when it was never issued."""
        ...

    def authority(self, code: str) -> AuthorityRecord | None:
        """The member authority with this code, or ``None`` when never admitted."""
        ...

    def recognition(
        self, authority: str, certificate: CertificateRecord, day: int
    ) -> RecognitionAnswer:
        """Does ``authority`` recognize ``certificate`` on ``day``? A live source may answer
        for its latest block instead (its ``info().as_of`` says when that is)."""
        ...


# ---------------------------------------------------------------- an in-memory snapshot


@dataclass
class MemorySource:
    """A :class:`StatusSource` over records held in memory.

    ``unavailable`` names methods (``"info"``, ``"signing_key"``, ``"certificate"``,
    ``"authority"``, ``"recognition"``) that raise :class:`SourceUnavailable`, to stand for a
    source that cannot answer those questions.
    """

    source_info: SourceInfo
    keys: dict[bytes, SigningKeyRecord] = field(default_factory=dict)
    certificates: dict[bytes, CertificateRecord] = field(default_factory=dict)
    authorities: dict[str, AuthorityRecord] = field(default_factory=dict)
    mras: list[MraRecord] = field(default_factory=list)
    unavailable: frozenset[str] = frozenset()

    def _check(self, method: str) -> None:
        if method in self.unavailable:
            raise SourceUnavailable(f"the status source cannot answer {method} lookups now")

    def info(self) -> SourceInfo:
        self._check("info")
        return self.source_info

    def signing_key(self, kid: bytes) -> SigningKeyRecord | None:
        self._check("signing_key")
        return self.keys.get(kid)

    def certificate(self, certificate_id: bytes) -> CertificateRecord | None:
        self._check("certificate")
        return self.certificates.get(certificate_id)

    def authority(self, code: str) -> AuthorityRecord | None:
        self._check("authority")
        return self.authorities.get(code)

    def recognition(
        self, authority: str, certificate: CertificateRecord, day: int
    ) -> RecognitionAnswer:
        self._check("recognition")
        issuer = self.authorities.get(certificate.issuer)
        return recognize(
            authority,
            issuer=certificate.issuer,
            tiers=certificate.tiers,
            status=effective_status(
                certificate.status, certificate.valid_from, certificate.valid_until, day
            ),
            issuer_status=issuer.status if issuer else AuthorityStatus.NONE,
            mras=self.mras,
            day=day,
        )

    # Snapshots as JSON (the golden vectors store the state they run against this way).

    def to_json_dict(self) -> dict[str, object]:
        return {
            **self.source_info.to_json_dict(),
            "authorities": [
                {"code": a.code, "name": a.name, "status": a.status.name}
                for a in self.authorities.values()
            ],
            "signing_keys": [
                {
                    "kid": hex0x(k.kid),
                    "authority": k.authority,
                    "algorithm": k.algorithm.name,
                    "public_key": hex0x(k.public_key),
                    "valid_from": k.valid_from,
                    "revoked_at": k.revoked_at,
                }
                for k in self.keys.values()
            ],
            "certificates": [_certificate_json(c) for c in self.certificates.values()],
            "mras": [_mra_json(m) for m in self.mras],
            "unavailable": sorted(self.unavailable),
        }

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> MemorySource:
        info = SourceInfo(
            kind=data["kind"],
            as_of=parse_iso(data["as_of"]),
            block_number=data.get("block_number"),
            block_hash=unhex(data["block_hash"]) if data.get("block_hash") else None,
            block_time=parse_iso(data["block_time"]) if data.get("block_time") else None,
        )
        keys = [
            SigningKeyRecord(
                kid=unhex(k["kid"]),
                authority=k["authority"],
                algorithm=Algorithm[k["algorithm"]],
                public_key=unhex(k["public_key"]),
                valid_from=k["valid_from"],
                revoked_at=k["revoked_at"],
            )
            for k in data["signing_keys"]
        ]
        certificates = [_certificate_from_json(c) for c in data["certificates"]]
        authorities = [
            AuthorityRecord(a["code"], a["name"], AuthorityStatus[a["status"]])
            for a in data["authorities"]
        ]
        return cls(
            source_info=info,
            keys={k.kid: k for k in keys},
            certificates={c.certificate_id: c for c in certificates},
            authorities={a.code: a for a in authorities},
            mras=[_mra_from_json(m) for m in data["mras"]],
            unavailable=frozenset(data.get("unavailable", ())),
        )


def _certificate_json(c: CertificateRecord) -> dict[str, object]:
    return {
        "certificate_id": hex0x(c.certificate_id),
        "issuer": c.issuer,
        "number": c.number,
        "tiers": c.tiers,
        "status": c.status.name,
        "valid_from": c.valid_from,
        "valid_until": c.valid_until,
        "version": c.version,
        "digest": hex0x(c.digest),
        "holder_ref": hex0x(c.holder_ref),
        "history": [
            {"status": h.status.name, "reason": h.reason, "since": h.since} for h in c.history
        ],
    }


def _certificate_from_json(c: Mapping[str, Any]) -> CertificateRecord:
    return CertificateRecord(
        certificate_id=unhex(c["certificate_id"]),
        issuer=c["issuer"],
        number=c.get("number"),
        tiers=c["tiers"],
        status=CertificateStatus[c["status"]],
        valid_from=c["valid_from"],
        valid_until=c["valid_until"],
        version=c["version"],
        digest=unhex(c["digest"]),
        holder_ref=unhex(c["holder_ref"]) if c.get("holder_ref") else None,
        history=tuple(
            StatusChange(CertificateStatus[h["status"]], h["reason"], h["since"])
            for h in c.get("history", ())
        ),
    )


def _mra_json(m: MraRecord) -> dict[str, object]:
    return {
        "mra_id": m.mra_id,
        "parties": [
            {"authority": p.authority, "recognized_tiers": p.recognized_tiers, "signed": p.signed}
            for p in m.parties
        ],
        "status": m.status.name,
        "effective_from": m.effective_from,
        "ends_on": m.ends_on,
        "text_hash": hex0x(m.text_hash),
    }


def _mra_from_json(m: Mapping[str, Any]) -> MraRecord:
    return MraRecord(
        mra_id=m["mra_id"],
        parties=tuple(
            MraParty(p["authority"], p["recognized_tiers"], p["signed"]) for p in m["parties"]
        ),
        status=MraState[m["status"]],
        effective_from=m["effective_from"],
        ends_on=m["ends_on"],
        text_hash=unhex(m["text_hash"]) if m.get("text_hash") else b"",
    )


def certificate_record_for(
    *,
    issuer: str,
    number: str,
    tiers: int,
    valid_from: int,
    valid_until: int,
    holder_ref: bytes,
    commitment: bytes,
    issued_at: int,
    version: int = 1,
    history: Iterable[StatusChange] = (),
) -> CertificateRecord:
    """The record a freshly issued certificate has (tests and demos build state with it)."""
    status_history = (
        StatusChange(CertificateStatus.ACTIVE, 0, issued_at),
        *history,
    )
    return CertificateRecord(
        certificate_id=ids.certificate_id(issuer, number),
        issuer=issuer,
        number=number,
        tiers=tiers,
        status=status_history[-1].status,
        valid_from=valid_from,
        valid_until=valid_until,
        version=version,
        digest=ids.record_digest(holder_ref, commitment),
        history=status_history,
        holder_ref=holder_ref,
    )


# ---------------------------------------------------------------- small JSON helpers


def hex0x(value: bytes | None) -> str | None:
    return None if value is None else "0x" + value.hex()


def unhex(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


def iso(value: datetime) -> str:
    """UTC, second precision, with a ``Z``: how every time in the JSON output reads."""
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_iso(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
