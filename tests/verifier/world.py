"""A small registry state for verifier tests: MN issues, KR verifies under an MRA.

``World`` holds signing keys, the claims of one certificate and a ``MemorySource`` that
knows them; tests change the source or the claims to produce each verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from contracts.domain import days, ids
from contracts.domain.claims import Claims
from contracts.domain.enums import AuthorityStatus, KeyAlgorithm, MraState
from contracts.domain.state import (
    AuthorityRecord,
    CertificateSlot,
    MraParty,
    MraRecord,
    SigningKeyRecord,
    certificate_slot_for,
)
from verifier import keys
from verifier.payload import encode
from verifier.source import MemorySource, SourceInfo

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SYNCED_AT = datetime(2025, 6, 1, 6, 0, tzinfo=UTC)
ISSUED_AT = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
KEY_VALID_FROM = datetime(2025, 1, 1, tzinfo=UTC)
COMMITMENT = bytes.fromhex("5a" * 32)
LONG_NAME = "Mongolian International Freight Forwarding and Logistics Limited Liability Company"
S_TIER = 2
#: the account that sent the test events' transactions, and the registry that emitted them
OPERATOR = "0x" + "0B" * 20
REGISTRY_ADDRESS = "0x" + "5E" * 20


def position(block: int, index: int, timestamp: int) -> dict[str, Any]:
    """The fields that say where a chain event happened (the domain events carry them all)."""
    return {
        "block_number": block,
        "log_index": index,
        "block_timestamp": timestamp,
        "block_hash": block.to_bytes(32, "big"),
        "tx_hash": ids.keccak(f"tx {block}/{index}".encode()),
        "address": REGISTRY_ADDRESS,
    }


def day(value: date) -> int:
    return days.to_day(value)


def base_claims(**changes: Any) -> Claims:
    claims = Claims.from_record(
        issuer="MN",
        number="MN-AEO-2025-000731",
        holder_name="Gobi Trans LLC",
        holder_id_scheme="TIN",
        holder_id="MN6734521098",
        tiers=3,
        valid_from=date(2025, 3, 1),
        valid_until=date(2030, 2, 28),
        issued_at=ISSUED_AT,
        version=1,
        commitment=COMMITMENT,
    )
    return replace(claims, **changes)


def key_record(private: keys.PrivateKey, authority: str = "MN", **changes: Any) -> SigningKeyRecord:
    public = keys.public_key_bytes(private)
    record = SigningKeyRecord(
        kid=ids.key_id(public),
        authority=authority,
        algorithm=keys.algorithm_of(private),
        public_key=public,
        valid_from=int(KEY_VALID_FROM.timestamp()),
    )
    return replace(record, **changes)


def record_for(claims: Claims, **changes: Any) -> CertificateSlot:
    record = certificate_slot_for(
        issuer=claims.issuer,
        number=claims.number,
        tiers=claims.tiers,
        valid_from=claims.valid_from,
        valid_until=claims.valid_until,
        holder_ref=claims.holder_ref,
        commitment=COMMITMENT,
        issued_at=claims.issued_at,
        version=claims.version,
    )
    return replace(record, **changes)


def standard_mra(**changes: Any) -> MraRecord:
    mra = MraRecord(
        mra_id=1,
        parties=(MraParty("MN", S_TIER, True), MraParty("KR", 0b11000, True)),
        status=MraState.SIGNED,
        effective_from=day(date(2024, 1, 1)),
        ends_on=0,
        text_hash=bytes(32),
    )
    return replace(mra, **changes)


@dataclass
class World:
    es256: keys.PrivateKey
    eddsa: keys.PrivateKey
    claims: Claims
    source: MemorySource

    def text(self, claims: Claims | None = None, key: keys.PrivateKey | None = None) -> str:
        return encode(claims or self.claims, key or self.es256)

    def set_record(self, record: CertificateSlot) -> None:
        self.source.certificates[record.certificate_id] = record

    def record(self) -> CertificateSlot:
        return self.source.certificates[self.claims.certificate_id]

    def add_key(self, record: SigningKeyRecord) -> None:
        self.source.keys[record.kid] = record


def build_world(
    es256: keys.PrivateKey | None = None, eddsa: keys.PrivateKey | None = None
) -> World:
    es256 = es256 or keys.generate_private_key(KeyAlgorithm.ES256)
    eddsa = eddsa or keys.generate_private_key(KeyAlgorithm.EDDSA)
    claims = base_claims()
    source = MemorySource(
        source_info=SourceInfo(
            kind="offline",
            as_of=SYNCED_AT,
            block_number=1234,
            block_hash=bytes.fromhex("ab" * 32),
            block_time=datetime(2025, 6, 1, 5, 59, 48, tzinfo=UTC),
        ),
        authorities={
            "MN": AuthorityRecord(
                "MN", "Mongolian Customs General Administration", AuthorityStatus.ACTIVE
            ),
            "KR": AuthorityRecord("KR", "Korea Customs Service", AuthorityStatus.ACTIVE),
            "KZ": AuthorityRecord(
                "KZ", "State Revenue Committee of Kazakhstan", AuthorityStatus.ACTIVE
            ),
        },
        mras=[standard_mra()],
    )
    world = World(es256=es256, eddsa=eddsa, claims=claims, source=source)
    world.add_key(key_record(es256))
    world.add_key(key_record(eddsa))
    world.set_record(record_for(claims))
    return world
