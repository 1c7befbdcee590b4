"""``aeo bench scale``: does a status lookup slow down as the registry grows, and how fast
does the indexer rebuild a database from the chain's events?

Two SQLite databases are filled straight through the tables (no chain): one with 10,000
certificates, one with ``certificates`` (a million by default), each with its indexed
``issued`` event (:mod:`aeo.bench.data`). On each, ``lookups`` random numbers are looked
up the way ``GET /v1/certificates/{number}`` does (a pooled connection,
``services.certificates.certificate_status``: the certificate, its latest event and whether
operations wait, in one query), after a warm-up; ``lookup_p99_ms_10k``,
``lookup_p99_ms_1m`` and their ``ratio`` say what the size costs.

``indexer_replay_events_per_s``: ``replay_events`` decoded chain events (batch issues, and a
suspension and reinstatement for some) applied to a fresh, migrated database through the
real :meth:`registry_api.workers.indexer.Indexer.apply_events`, one transaction per 1,000-block page
as the indexer commits them.
"""

from __future__ import annotations

import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address
from rich.console import Console

from aeo.bench.common import BenchError, Report, ms, percentile, rate, ratio, stepper
from aeo.bench.data import fill_registry, number_of
from contracts.chain import ChainSettings, connect
from contracts.deploy import Deployment
from contracts.domain import days, ids
from contracts.domain.days import Day
from contracts.domain.enums import CertificateStatus, ReasonCode, Tier
from contracts.domain.events import (
    Address,
    AuthorityCode,
    CertificateIssued,
    CertificateNumber,
    CertificateStatusChanged,
    ChainEvent,
)
from contracts.logs import BESU_MAX_LOG_RANGE
from registry_api.db import make_engine, make_session_factory, upgrade_database
from registry_api.services.certificates import certificate_status
from registry_api.workers.indexer import Indexer

SMALL = 10_000
_WARM_UP = 200


def _lookup_latencies(db_url: str, size: int, lookups: int) -> list[float]:
    engine = make_engine(db_url)
    picker = random.Random(size)  # noqa: S311 - spreading reads, not security
    numbers = [number_of(picker.randrange(size)) for _ in range(lookups + _WARM_UP)]
    latencies = []
    try:
        for i, number in enumerate(numbers):
            started = time.perf_counter()
            with engine.connect() as connection:
                certificate_status(connection, number)
            if i >= _WARM_UP:
                latencies.append(time.perf_counter() - started)
    finally:
        engine.dispose()
    return latencies


def _fill(db_url: str, size: int, console: Console | None, label: str) -> float:
    started = time.perf_counter()
    with stepper(console, label, size) as step:
        # Lookups never recompute the hash columns: stand-ins fill a million rows faster.
        fill_registry(db_url, size, on_progress=lambda done: step(label, done), real_hashes=False)
    return time.perf_counter() - started


def replay_events(count: int, authority: str = "MN") -> list[ChainEvent]:
    """``count`` decoded events as the chain layer hands them to the indexer: batch issues
    of 100 certificates per transaction, and every 10th certificate later suspended and
    reinstated."""
    operator = Address(to_checksum_address("0x" + "11" * 20))
    address = Address(to_checksum_address("0x" + "22" * 20))
    timestamp = int(datetime.now(UTC).timestamp()) - 86400
    today = days.day_of(timestamp)
    events: list[ChainEvent] = []
    block = 10
    index = 0
    while len(events) < count:
        tx_hash = ids.keccak(f"tx {block}".encode())
        block_hash = ids.keccak(f"block {block}".encode())
        position: dict[str, Any] = {
            "block_number": block,
            "block_hash": block_hash,
            "block_timestamp": timestamp + block,
            "tx_hash": tx_hash,
            "address": address,
        }
        for log_index in range(100):
            number = number_of(index, authority)
            events.append(
                CertificateIssued(
                    **position,
                    log_index=log_index,
                    certificate_id=ids.certificate_id(authority, number),
                    issuer=AuthorityCode(authority),
                    number=CertificateNumber(number),
                    tiers=Tier.SECURITY_SAFETY,
                    valid_from=Day(today - 30),
                    valid_until=Day(today + 3 * 365),
                    holder_ref=ids.holder_ref("TIN", f"{5000000 + index}"),
                    commitment=ids.keccak(f"record {number}".encode()),
                    operator=operator,
                )
            )
            index += 1
        block += 1
        for status, reason in (
            (CertificateStatus.SUSPENDED, ReasonCode.FAILED_AUDIT),
            (CertificateStatus.ACTIVE, ReasonCode.REMEDIED),
        ):
            tx = ids.keccak(f"tx {block}".encode())
            for log_index, target in enumerate(range(index - 100, index, 10)):
                events.append(
                    CertificateStatusChanged(
                        block_number=block,
                        block_hash=ids.keccak(f"block {block}".encode()),
                        block_timestamp=timestamp + block,
                        tx_hash=tx,
                        address=address,
                        log_index=log_index,
                        certificate_id=ids.certificate_id(authority, number_of(target, authority)),
                        issuer=AuthorityCode(authority),
                        status=status,
                        reason=reason,
                        operator=operator,
                    )
                )
            block += 1
    return events[:count]


def _replay(folder: Path, count: int, console: Console | None) -> tuple[float, int]:
    events = replay_events(count)
    db_url = f"sqlite:///{folder / 'replay.db'}"
    engine = make_engine(db_url)
    upgrade_database(engine)
    factory = make_session_factory(engine)
    deployment = Deployment(
        chain_id=1,
        registry=to_checksum_address("0x" + "22" * 20),
        mras=to_checksum_address("0x" + "33" * 20),
        start_block=1,
        deployer=to_checksum_address("0x" + "44" * 20),
        vote_threshold_bps=5000,
        proposal_lifetime=86400,
        registry_code_hash="0x",
        mras_code_hash="0x",
    )
    # The indexer needs a chain object to exist; replaying decoded events never calls it.
    with connect(ChainSettings(kind="memory")) as chain:
        indexer = Indexer(factory, chain, deployment, "MN")
        pages: dict[int, list[ChainEvent]] = {}
        for event in events:
            pages.setdefault(event.block_number // BESU_MAX_LOG_RANGE, []).append(event)
        applied = 0
        started = time.perf_counter()
        with stepper(console, "indexer replay", len(events)) as step:
            for page in pages.values():
                with factory() as session:
                    applied += indexer.apply_events(session, page)
                    session.commit()
                step("indexer replay", applied)
        seconds = time.perf_counter() - started
    engine.dispose()
    if applied != len(events):
        raise BenchError(f"the indexer applied {applied} of {len(events)} replayed events")
    return seconds, applied


def run(
    *,
    certificates: int = 1_000_000,
    lookups: int = 2000,
    replay: int = 10_000,
    console: Console | None = None,
) -> Report:
    if certificates < 1 or lookups < 1 or replay < 1:
        raise BenchError("certificates, lookups and replay must be at least 1")
    small = min(SMALL, certificates)
    with tempfile.TemporaryDirectory(prefix="aeo-bench-scale-") as tmp:
        folder = Path(tmp)
        small_url = f"sqlite:///{folder / 'small.db'}"
        large_url = f"sqlite:///{folder / 'large.db'}"
        _fill(small_url, small, console, f"filling {small:,} certificates")
        fill_seconds = _fill(large_url, certificates, console, f"filling {certificates:,}")
        with stepper(console, "status lookups", None):
            at_small = _lookup_latencies(small_url, small, lookups)
            at_large = _lookup_latencies(large_url, certificates, lookups)
        large_bytes = (folder / "large.db").stat().st_size
        replay_seconds, applied = _replay(folder, replay, console)
    p99_small, p99_large = percentile(at_small, 99), percentile(at_large, 99)
    return {
        "lookup_p99_ms_10k": ms(p99_small),
        "lookup_p99_ms_1m": ms(p99_large),
        "ratio": ratio(p99_large, p99_small),
        "indexer_replay_events_per_s": rate(applied, replay_seconds),
        "lookup_p50_ms_10k": ms(percentile(at_small, 50)),
        "lookup_p50_ms_1m": ms(percentile(at_large, 50)),
        "certificates_small": small,
        "certificates_large": certificates,
        "events_large": certificates,
        "lookups": lookups,
        "database_mb_large": round(large_bytes / 2**20, 1),
        "fill_rows_per_s": rate(2 * certificates, fill_seconds),
        "replay_events": applied,
    }
