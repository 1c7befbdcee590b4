"""Where the verifier gets the registry's state: the :class:`StatusSource` protocol.

A source answers four questions about the chain as of one moment (:meth:`StatusSource.info`):
the signing key with a key id, the certificate slot with an id (and its status history),
an authority, and whether an authority recognizes a certificate. Two implementations:

- the offline cache (:class:`verifier.offline.OfflineCache`), filled from chain events;
- a chain-backed source (written on top of the chain layer), whose answers map one-to-one
  to contract views: ``getSigningKey`` (algorithm 0 -> ``None``), ``getCertificate``
  (status None -> ``None``) plus the ``CertificateStatusChanged`` logs for the history,
  ``getAuthority``, and ``MraRegistry.recognizes`` (or the MRA data and
  :func:`contracts.domain.rules.recognize`). The records they answer with are
  :mod:`contracts.domain.state`'s.

A source may also offer ``reading()``, a context manager under which all its answers come
from one state (the offline cache's read transaction); the pipeline asks one verification's
questions inside it when it exists.

Any method may raise :class:`SourceUnavailable`; the verifier then reports which check could
not be done instead of passing it. ``None`` means "the registry has no such thing" and is a
finding, so a source must never return ``None`` for "I could not tell".

:class:`MemorySource` holds a snapshot in memory (golden vectors, tests, demos).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from contracts.domain.days import Day
from contracts.domain.encoding import hex0x, iso, parse_iso, unhex
from contracts.domain.enums import AuthorityStatus, CertificateStatus, KeyAlgorithm, MraState
from contracts.domain.rules import RecognitionAnswer, effective_status, recognize
from contracts.domain.state import (
    AuthorityRecord,
    CertificateSlot,
    MraParty,
    MraRecord,
    SigningKeyRecord,
    StatusChange,
)
from verifier.errors import SourceUnavailable

__all__ = ["MemorySource", "SourceInfo", "SourceUnavailable", "StatusSource"]


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

    def certificate(self, certificate_id: bytes) -> CertificateSlot | None:
        """The certificate with this 32-byte id, or ``None`` when it was never issued."""
        ...

    def authority(self, code: str) -> AuthorityRecord | None:
        """The member authority with this code, or ``None`` when never admitted."""
        ...

    def recognition(
        self, authority: str, certificate: CertificateSlot, day: Day
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
    certificates: dict[bytes, CertificateSlot] = field(default_factory=dict)
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

    def certificate(self, certificate_id: bytes) -> CertificateSlot | None:
        self._check("certificate")
        return self.certificates.get(certificate_id)

    def authority(self, code: str) -> AuthorityRecord | None:
        self._check("authority")
        return self.authorities.get(code)

    def recognition(
        self, authority: str, certificate: CertificateSlot, day: Day
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
                algorithm=KeyAlgorithm[k["algorithm"]],
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


def _certificate_json(c: CertificateSlot) -> dict[str, object]:
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


def _certificate_from_json(c: Mapping[str, Any]) -> CertificateSlot:
    return CertificateSlot(
        certificate_id=unhex(c["certificate_id"]),
        issuer=c["issuer"],
        number=c.get("number"),
        tiers=c["tiers"],
        status=CertificateStatus[c["status"]],
        valid_from=Day(c["valid_from"]),
        valid_until=Day(c["valid_until"]),
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
        effective_from=Day(m["effective_from"]),
        ends_on=Day(m["ends_on"]),
        text_hash=unhex(m["text_hash"]) if m.get("text_hash") else b"",
    )
