"""A small registry state for the page's tests: real signed payloads and an offline cache.

Mongolia (MN) issues; Korea (KR) verifies under an MRA in force that recognizes MN's
security-and-safety tier (S) only. The signing key is generated per test session.
"""

from __future__ import annotations

import itertools
import zlib
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from hashlib import sha256
from pathlib import Path

import base45
import cbor2

from contracts.domain import days, events as ev, ids
from contracts.domain.claims import Claims
from contracts.domain.enums import CertificateStatus, KeyAlgorithm
from tests.verifier.world import OPERATOR, position
from verifier import keys
from verifier.offline import OfflineCache, SyncPoint
from verifier.payload import PREFIX, build

# The fixed validation clock; the cache was synced two hours before.
NOW = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
SYNCED_AT = NOW - timedelta(hours=2)

TIER_C = 1
TIER_S = 2
REASON_FRAUD = 5

ISSUER = "MN"
ISSUER_NAME = "Mongolia Customs General Administration"
VERIFIER = "KR"


@dataclass(frozen=True)
class Certificate:
    number: str
    holder_name: str
    holder_id: str
    tiers: int


RECOGNIZED = Certificate("MN-AEO-2024-0042", "Altan Trans Logistics LLC", "MN6012345", TIER_S)
NOT_COVERED = Certificate("MN-AEO-2024-0077", "Khuree Customs Brokers LLC", "MN6077777", TIER_C)
REVOKED = Certificate("MN-AEO-2023-0005", "Gobi Freight Forwarding JSC", "MN5000005", TIER_S)


@dataclass(frozen=True)
class World:
    cache_path: Path
    texts: dict[str, str]
    """Payload text per case: recognized, not_recognized, revoked, tampered."""


def _ts(moment: datetime) -> int:
    return int(moment.timestamp())


def _commitment(certificate: Certificate) -> bytes:
    # Stands for the hash of the full off-chain record; only its equality matters here.
    return sha256(f"record:{certificate.number}".encode()).digest()


def _claims(certificate: Certificate) -> Claims:
    return Claims.from_record(
        issuer=ISSUER,
        number=certificate.number,
        holder_name=certificate.holder_name,
        holder_id_scheme="TIN",
        holder_id=certificate.holder_id,
        tiers=certificate.tiers,
        valid_from=date(2024, 3, 1),
        valid_until=date(2027, 2, 28),
        issued_at=datetime(2024, 3, 1, 10, 0, tzinfo=UTC),
        version=1,
        commitment=_commitment(certificate),
    )


def _tampered(claims: Claims, private_key: keys.PrivateKey) -> str:
    """The payload with another holder name and the original signature: a forgery."""
    encoded = build(claims, private_key)
    protected, _, _, signature = cbor2.loads(encoded.cose)
    forged = replace(claims, holder_name="Someone Else Trading LLC")
    forged_cbor = cbor2.dumps(forged.to_cbor_map(), canonical=True)
    cose = cbor2.dumps([protected, {}, forged_cbor, signature], canonical=True)
    return PREFIX + base45.b45encode(zlib.compress(cose, 9)).decode("ascii")


def build_world(directory: Path) -> World:
    private_key = keys.generate_private_key()
    public = keys.public_key_bytes(private_key)
    block_time = _ts(datetime(2024, 1, 10, tzinfo=UTC))
    blocks = itertools.count(1)

    events: list[ev.ChainEvent] = [
        ev.AuthorityAdmitted(
            **position(next(blocks), 0, block_time),
            code=ISSUER,
            name=ISSUER_NAME,
            admin=OPERATOR,
        ),
        ev.AuthorityAdmitted(
            **position(next(blocks), 0, block_time),
            code=VERIFIER,
            name="Korea Customs Service",
            admin=OPERATOR,
        ),
        ev.SigningKeyRegistered(
            **position(next(blocks), 0, block_time),
            kid=ids.key_id(public),
            authority=ISSUER,
            algorithm=KeyAlgorithm.ES256,
            public_key=public,
            valid_from=block_time,
        ),
        ev.MraProposed(
            **position(next(blocks), 0, block_time),
            mra_id=1,
            parties=(VERIFIER, ISSUER),
            recognized_tiers=(TIER_S, TIER_S),
            effective_from=days.to_day(date(2024, 1, 1)),
            ends_on=0,
            text_hash=sha256(b"KR-MN MRA text").digest(),
            party=VERIFIER,
            operator=OPERATOR,
        ),
        ev.MraSigned(
            **position(next(blocks), 0, block_time),
            mra_id=1,
            party=ISSUER,
            operator=OPERATOR,
        ),
        ev.MraInForce(
            **position(next(blocks), 0, block_time),
            mra_id=1,
            party=ISSUER,
            effective_from=days.to_day(date(2024, 1, 1)),
            operator=OPERATOR,
        ),
    ]
    texts: dict[str, str] = {}
    for case, certificate in (
        ("recognized", RECOGNIZED),
        ("not_recognized", NOT_COVERED),
        ("revoked", REVOKED),
    ):
        claims = _claims(certificate)
        texts[case] = build(claims, private_key).text
        events.append(
            ev.CertificateIssued(
                **position(next(blocks), 0, block_time),
                certificate_id=claims.certificate_id,
                issuer=ISSUER,
                number=certificate.number,
                tiers=certificate.tiers,
                valid_from=claims.valid_from,
                valid_until=claims.valid_until,
                holder_ref=claims.holder_ref,
                commitment=_commitment(certificate),
                operator=OPERATOR,
            )
        )
        if certificate is REVOKED:
            events.append(
                ev.CertificateStatusChanged(
                    **position(next(blocks), 0, block_time),
                    certificate_id=claims.certificate_id,
                    status=CertificateStatus.REVOKED,
                    reason=REASON_FRAUD,
                    issuer=ISSUER,
                    operator=OPERATOR,
                )
            )
    texts["tampered"] = _tampered(_claims(RECOGNIZED), private_key)

    cache_path = directory / "offline-cache.sqlite"
    with OfflineCache(cache_path) as cache:
        cache.apply_events(
            events,
            SyncPoint(
                block_number=next(blocks),
                block_hash=sha256(b"head").digest(),
                block_time=SYNCED_AT - timedelta(minutes=1),
                synced_at=SYNCED_AT,
            ),
        )
    return World(cache_path=cache_path, texts=texts)
