"""A small consortium for the snapshot tests: three members, their keys (generated at test
time), an MRA, and certificates made from a number so each test reads what it changes."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from contracts.domain import days
from contracts.domain.enums import AuthorityStatus, CertificateStatus, KeyAlgorithm, MraState
from contracts.domain.state import MraParty, MraRecord
from verifier import keys
from verifier.snapshot.build import build_state
from verifier.snapshot.model import BlockRef, CertificateState
from verifier.snapshot.state import CompactState, Params
from verifier.source import AuthorityRecord, SigningKeyRecord

NOW = 1_760_000_000
TODAY = days.day_of(NOW)
BLOCK = BlockRef(100, hashlib.sha256(b"block 100").digest(), NOW - 12)
LATER = BlockRef(160, hashlib.sha256(b"block 160").digest(), NOW + 708)


def certificate_id(n: int) -> bytes:
    """Ids whose first byte is ``n`` (below 256): the top 8 bits, which bucket and id bits
    always cover, differ, so a test's never-issued id is never admitted by chance."""
    return bytes((n % 256, n // 256)) + hashlib.sha256(b"certificate %d" % n).digest()[:30]


def certificate(n: int, **changes: object) -> CertificateState:
    base: dict[str, object] = {
        "certificate_id": certificate_id(n),
        "version": 1,
        "digest": hashlib.sha256(b"digest %d" % n).digest()[:20],
        "holder_ref": hashlib.sha256(b"holder %d" % n).digest(),
        "tiers": 2,
        "valid_from": TODAY - 100,
        "valid_until": TODAY + 1000,
    }
    base.update(changes)
    return CertificateState(**base)  # type: ignore[arg-type]


def claims_of(c: CertificateState) -> dict[str, object]:
    """What a QR of ``c``'s current version states, as :meth:`CompactState.status` takes it."""
    return {
        "version": c.version,
        "digest": c.digest,
        "holder_ref": c.holder_ref,
        "tiers": c.tiers,
        "valid_from": c.valid_from,
        "valid_until": c.valid_until,
    }


@functools.cache
def signer() -> keys.PrivateKey:
    return keys.generate_private_key(KeyAlgorithm.ES256)


@functools.cache
def other_key() -> keys.PrivateKey:
    return keys.generate_private_key(KeyAlgorithm.EDDSA)


def key_record(key: keys.PrivateKey, authority: str, **changes: int) -> SigningKeyRecord:
    return SigningKeyRecord(
        kid=keys.key_id_of(key),
        authority=authority,
        algorithm=keys.algorithm_of(key),
        public_key=keys.public_key_bytes(key),
        valid_from=changes.get("valid_from", NOW - 86_400 * 300),
        revoked_at=changes.get("revoked_at", 0),
    )


MEMBERS = (
    AuthorityRecord("MN", "Mongolia Customs General Administration", AuthorityStatus.ACTIVE),
    AuthorityRecord("KR", "Korea Customs Service", AuthorityStatus.ACTIVE),
    AuthorityRecord("KZ", "State Revenue Committee of Kazakhstan", AuthorityStatus.ACTIVE),
)
MRAS = (
    MraRecord(
        1,
        (MraParty("MN", 2, True), MraParty("KR", 3, True)),
        MraState.SIGNED,
        TODAY - 400,
        0,
        hashlib.sha256(b"MN-KR").digest(),
    ),
)


@dataclass(frozen=True)
class Consortium:
    members: tuple[AuthorityRecord, ...]
    keys: tuple[SigningKeyRecord, ...]
    mras: tuple[MraRecord, ...]

    def state(
        self, certificates: Iterable[CertificateState], params: Params | None = None
    ) -> CompactState:
        return build_state(
            members=self.members,
            keys=self.keys,
            mras=self.mras,
            certificates=certificates,
            params=params,
        )


def consortium() -> Consortium:
    return Consortium(MEMBERS, (key_record(signer(), "MN"), key_record(other_key(), "KR")), MRAS)


SUSPENDED = {"status": CertificateStatus.SUSPENDED, "reason": 2, "since": NOW - 3600}
REVOKED = {"status": CertificateStatus.REVOKED, "reason": 5, "since": NOW - 7200}
