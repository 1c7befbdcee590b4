"""A registry on a real chain for the online source and the offline sync.

``chain_world`` builds on the root ``consortium`` fixture (MN, KZ and KR): MN publishes a
freshly generated ES256 document-signing key, MN and KR sign an MRA under which KR
recognizes MN's security-and-safety tier (S), and MN issues certificate ``MN-AEO-0001``
(tier S) whose QR text is signed with that key. Every time comes from the chain's clock.

``SCENARIOS`` is the table both sources are driven through: each one changes the chain,
returns the QR text to scan and names the outcome and reason code expected.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from web3 import Web3

from contracts.bootstrap import Consortium
from contracts.chain import Chain, ChainSettings, latest_timestamp
from contracts.domain import days, ids
from contracts.domain.claims import Claims
from contracts.domain.enums import KeyAlgorithm, ReasonCode, Tier
from contracts.domain.events import MraProposed
from contracts.logs import first_event, receipt_events
from contracts.reader import RegistryReader
from verifier import keys
from verifier.chain_source import ChainStatusSource
from verifier.offline import OfflineCache
from verifier.payload import encode
from verifier.pipeline import DEFAULT_MAX_AGE, verify
from verifier.source import StatusSource
from verifier.verdict import Outcome, Verdict

TIER_C = int(Tier.CUSTOMS_SIMPLIFICATIONS)
TIER_S = int(Tier.SECURITY_SAFETY)
NUMBER = "MN-AEO-0001"
HOLDER_ID = "MN6012345"
# Verifications run this long after the chain's latest block: a border laptop's clock.
SCAN_DELAY = timedelta(seconds=30)


def _commitment(number: str, version: int) -> bytes:
    # Stands for the hash of the full off-chain record; only its equality matters here.
    return bytes(Web3.keccak(text=f"record:{number}:v{version}"))


def claims_for(
    chain: Chain, number: str, tiers: int, valid_from: int, valid_until: int, version: int = 1
) -> Claims:
    """The claims MN's QR carries for ``number``, signed at the chain's latest block time."""
    return Claims.from_record(
        issuer="MN",
        number=number,
        holder_name="Altan Trans Logistics LLC",
        holder_id_scheme="TIN",
        holder_id=HOLDER_ID,
        tiers=tiers,
        valid_from=days.from_day(valid_from),
        valid_until=days.from_day(valid_until),
        issued_at=latest_timestamp(chain),
        version=version,
        commitment=_commitment(number, version),
    )


def issue(consortium: Consortium, number: str, tiers: int = TIER_S) -> Claims:
    """Issues ``number`` for MN on chain, valid from yesterday for three years."""
    today = days.day_of(latest_timestamp(consortium.chain))
    valid_from, valid_until = today - 1, today + 3 * 365
    consortium.operator("MN").issue(
        number,
        tiers,
        valid_from,
        valid_until,
        ids.holder_ref("TIN", HOLDER_ID),
        _commitment(number, 1),
    )
    return claims_for(consortium.chain, number, tiers, valid_from, valid_until)


@dataclass(frozen=True)
class ChainWorld:
    consortium: Consortium
    key: keys.PrivateKey
    kid: bytes
    key_valid_from: int
    mra_id: int
    claims: Claims
    text: str
    """The QR text of ``NUMBER`` as first issued."""

    @property
    def chain(self) -> Chain:
        return self.consortium.chain

    @property
    def certificate_id(self) -> bytes:
        return self.claims.certificate_id

    def now(self) -> datetime:
        return datetime.fromtimestamp(latest_timestamp(self.chain), UTC) + SCAN_DELAY

    def online(self, log_range: int | None = None) -> ChainStatusSource:
        reader = RegistryReader(self.chain, self.consortium.deployment)
        return ChainStatusSource(reader, log_range=log_range)

    def verify(
        self,
        text: str,
        source: StatusSource,
        as_authority: str = "KR",
        *,
        clock: datetime | None = None,
        max_age: timedelta = DEFAULT_MAX_AGE,
    ) -> Verdict:
        return verify(
            text,
            as_authority=as_authority,
            clock=clock or self.now(),
            source=source,
            max_age=max_age,
        )

    def sign(self, claims: Claims) -> str:
        return encode(claims, self.key)

    def amend(self) -> str:
        """Amends ``NUMBER`` to version 2; the QR text of the new version."""
        self.consortium.operator("MN").amend(
            self.certificate_id,
            TIER_S,
            ids.holder_ref("TIN", HOLDER_ID),
            _commitment(NUMBER, 2),
            ReasonCode.DATA_CHANGE,
        )
        claims = claims_for(
            self.chain, NUMBER, TIER_S, self.claims.valid_from, self.claims.valid_until, 2
        )
        return self.sign(claims)


@pytest.fixture
def chain_world(consortium: Consortium) -> ChainWorld:
    chain = consortium.chain
    key = keys.generate_private_key(KeyAlgorithm.ES256)
    public = keys.public_key_bytes(key)
    consortium.admin("MN").register_signing_key(public, KeyAlgorithm.ES256)
    key_valid_from = latest_timestamp(chain)
    today = days.day_of(key_valid_from)
    proposed = consortium.operator("MN").propose_mra(
        ["MN", "KR"], [TIER_S, TIER_S], today - 30, 0, Web3.keccak(text="MN-KR MRA text")
    )
    mra_id = first_event(receipt_events(chain, consortium.deployment, proposed), MraProposed).mra_id
    consortium.operator("KR").sign_mra(mra_id)
    claims = issue(consortium, NUMBER)
    return ChainWorld(
        consortium=consortium,
        key=key,
        kid=ids.key_id(public),
        key_valid_from=key_valid_from,
        mra_id=mra_id,
        claims=claims,
        text=encode(claims, key),
    )


@pytest.fixture
def offline_cache(tmp_path: Path) -> Iterator[OfflineCache]:
    with OfflineCache(tmp_path / "verifier-cache.sqlite") as opened:
        yield opened


def dead_chain() -> Chain:
    """A chain whose node does not answer: an HTTP endpoint on a port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 2}))
    return Chain("rpc", w3, ChainSettings(kind="rpc", rpc_url=url))


# ---------------------------------------------------------------- the scenario table


@dataclass(frozen=True)
class Scenario:
    name: str
    act: Callable[[ChainWorld], str]
    """Changes the chain; returns the QR text the officer scans."""
    outcome: Outcome
    code: str
    as_authority: str = "KR"

    def __str__(self) -> str:
        return self.name


def _unchanged(world: ChainWorld) -> str:
    return world.text


def _suspend(world: ChainWorld) -> str:
    world.consortium.operator("MN").suspend(world.certificate_id, ReasonCode.FAILED_AUDIT)
    return world.text


def _revoke(world: ChainWorld) -> str:
    world.consortium.operator("MN").revoke(world.certificate_id, ReasonCode.FRAUD)
    return world.text


def _amend_and_scan_old(world: ChainWorld) -> str:
    world.amend()
    return world.text


def _amend_and_scan_new(world: ChainWorld) -> str:
    return world.amend()


def _revoke_key(world: ChainWorld) -> str:
    # Revoked from the moment it became valid: a compromised key trusts nothing it signed.
    world.consortium.admin("MN").revoke_signing_key(world.kid, world.key_valid_from)
    return world.text


def _unknown(world: ChainWorld) -> str:
    claims = claims_for(
        world.chain, "MN-AEO-9999", TIER_S, world.claims.valid_from, world.claims.valid_until
    )
    return world.sign(claims)


def _customs_tier(world: ChainWorld) -> str:
    return world.sign(issue(world.consortium, "MN-AEO-0002", tiers=TIER_C))


def _suspend_mra(world: ChainWorld) -> str:
    world.consortium.operator("KR").suspend_mra(world.mra_id)
    return world.text


def _unsigned_mra_with_kz(world: ChainWorld) -> str:
    today = days.day_of(latest_timestamp(world.chain))
    world.consortium.operator("MN").propose_mra(
        ["MN", "KZ"], [TIER_S, TIER_S], today, 0, os.urandom(32)
    )
    return world.text


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("recognized_under_mra", _unchanged, Outcome.RECOGNIZED, "recognized"),
    Scenario(
        "own_certificate", _unchanged, Outcome.RECOGNIZED, "own_certificate", as_authority="MN"
    ),
    Scenario("no_mra", _unchanged, Outcome.NOT_RECOGNIZED, "no_mra", as_authority="KZ"),
    Scenario(
        "mra_not_signed",
        _unsigned_mra_with_kz,
        Outcome.NOT_RECOGNIZED,
        "mra_not_signed",
        as_authority="KZ",
    ),
    Scenario("mra_suspended", _suspend_mra, Outcome.NOT_RECOGNIZED, "mra_suspended"),
    Scenario("tier_not_covered", _customs_tier, Outcome.NOT_RECOGNIZED, "tier_not_covered"),
    Scenario("suspended", _suspend, Outcome.SUSPENDED, "suspended"),
    Scenario("revoked", _revoke, Outcome.REVOKED, "revoked"),
    Scenario("superseded", _amend_and_scan_old, Outcome.SUPERSEDED, "superseded"),
    Scenario("amended_current", _amend_and_scan_new, Outcome.RECOGNIZED, "recognized"),
    Scenario("signing_key_revoked", _revoke_key, Outcome.UNTRUSTED_KEY, "key_revoked"),
    Scenario("unknown_certificate", _unknown, Outcome.UNKNOWN_CERTIFICATE, "unknown_certificate"),
)
