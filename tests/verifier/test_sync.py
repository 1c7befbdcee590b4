"""Filling the offline cache from the chain's events: first, incremental, paged and resumed
syncs, a chain rewind, offline verdicts for every scenario, and their agreement with the
online ones."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contracts.chain import latest_timestamp, revert_to_snapshot, snapshot
from contracts.domain.enums import CertificateStatus, ReasonCode
from contracts.logs import BESU_MAX_LOG_RANGE, fetch_events
from tests.verifier.conftest import (
    NUMBER,
    SCENARIOS,
    ChainWorld,
    Scenario,
    dead_chain,
    issue,
)
from verifier.errors import CacheError, SourceUnavailable
from verifier.offline import NOT_CACHED, OfflineCache, SyncPoint
from verifier.pipeline import DEFAULT_MAX_AGE
from verifier.sync import ProgressCallback, SyncProgress, SyncReport, sync
from verifier.verdict import Outcome

# Slow, so not in `make test-fast` (`make test` runs it): syncs from a chain world per test
# (test_offline_from_chain covers sync in the fast run).
pytestmark = pytest.mark.slow


def run_sync(
    world: ChainWorld,
    offline_cache: OfflineCache,
    *,
    page_size: int = BESU_MAX_LOG_RANGE,
    progress: ProgressCallback | None = None,
) -> SyncReport:
    """Syncs with the clock at the chain's time, as a border post's laptop would read it."""
    at = world.now()
    deployment = world.consortium.deployment
    return sync(
        world.chain, deployment, offline_cache, progress, page_size=page_size, clock=lambda: at
    )


def dump(offline_cache: OfflineCache) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table but the sync point, to compare two caches."""
    with sqlite3.connect(offline_cache.path) as db:
        tables = [
            name
            for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if name != "sync_state"
        ]
        return {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall()) for t in tables}  # noqa: S608


def fresh_cache(tmp_path: Path, world: ChainWorld, name: str) -> OfflineCache:
    """A cache synced from scratch right now: what the chain holds, as the cache stores it."""
    other = OfflineCache(tmp_path / name)
    run_sync(world, other)
    return other


# ---------------------------------------------------------------- the sync itself


def test_a_first_sync_fills_the_cache_from_the_deploy_block(
    chain_world: ChainWorld, offline_cache: OfflineCache
) -> None:
    at = chain_world.now()
    report = sync(
        chain_world.chain, chain_world.consortium.deployment, offline_cache, clock=lambda: at
    )

    head = chain_world.chain.w3.eth.get_block("latest")
    assert report.from_block == chain_world.consortium.deployment.start_block
    assert report.to_block == head["number"]
    assert report.block_hash == bytes(head["hash"])
    assert report.block_time == datetime.fromtimestamp(head["timestamp"], UTC)
    assert report.synced_at == at
    assert report.from_scratch
    assert not report.rewound
    assert report.pages == 1
    assert report.events_read == len(
        fetch_events(chain_world.chain, chain_world.consortium.deployment)
    )
    assert offline_cache.counts() == {
        "authorities": 3,
        "signing_keys": 1,
        "certificates": 1,
        "status_changes": 1,
        "mras": 1,
    }
    info = offline_cache.info()
    assert (info.kind, info.as_of, info.block_number) == ("offline", at, report.to_block)


def test_the_synced_cache_answers_as_the_chain_does(
    chain_world: ChainWorld, offline_cache: OfflineCache
) -> None:
    operator = chain_world.consortium.operator("MN")
    operator.suspend(chain_world.certificate_id, ReasonCode.FAILED_AUDIT)
    operator.reinstate(chain_world.certificate_id, ReasonCode.REMEDIED)
    chain_world.amend()
    run_sync(chain_world, offline_cache)
    online = chain_world.online()

    assert offline_cache.certificate(chain_world.certificate_id) == online.certificate(
        chain_world.certificate_id
    )
    assert offline_cache.signing_key(chain_world.kid) == online.signing_key(chain_world.kid)
    for code in ("MN", "KZ", "KR"):
        assert offline_cache.authority(code) == online.authority(code)


def test_the_chains_events_apply_as_they_are_decoded_leaving_out_accounts_and_votes(
    chain_world: ChainWorld, tmp_path: Path
) -> None:
    chain_world.consortium.operator("MN").suspend(
        chain_world.certificate_id, ReasonCode.FAILED_AUDIT
    )
    chain_events = fetch_events(chain_world.chain, chain_world.consortium.deployment)
    left_out = {e.event_name for e in chain_events if isinstance(e, NOT_CACHED)}
    assert left_out == {"AccountAdded", "BootstrapClosed"}

    head = chain_events[-1].block_number
    point = SyncPoint(head, bytes(32), chain_world.now(), chain_world.now())
    with OfflineCache(tmp_path / "direct.sqlite") as cache:
        applied = cache.apply_events(chain_events, point)
        record = cache.certificate(chain_world.certificate_id)
    assert applied == len(chain_events) - sum(isinstance(e, NOT_CACHED) for e in chain_events)
    assert record is not None
    assert record.number == NUMBER
    assert record.status is CertificateStatus.SUSPENDED
    assert record.history[-1].reason == ReasonCode.FAILED_AUDIT


def test_a_sync_with_nothing_new_only_moves_the_sync_time(
    chain_world: ChainWorld, offline_cache: OfflineCache
) -> None:
    first = run_sync(chain_world, offline_cache)
    later = first.synced_at + timedelta(hours=3)

    again = sync(
        chain_world.chain, chain_world.consortium.deployment, offline_cache, clock=lambda: later
    )

    assert (again.pages, again.events_read, again.events_applied) == (0, 0, 0)
    assert again.to_block == first.to_block
    assert not again.from_scratch
    assert offline_cache.info().as_of == later


def test_an_incremental_sync_reads_only_new_blocks_and_picks_up_a_suspension(
    chain_world: ChainWorld, offline_cache: OfflineCache
) -> None:
    first = run_sync(chain_world, offline_cache)
    chain_world.consortium.operator("MN").suspend(
        chain_world.certificate_id, ReasonCode.FAILED_AUDIT
    )
    before = chain_world.verify(chain_world.text, offline_cache)

    second = run_sync(chain_world, offline_cache)
    after = chain_world.verify(chain_world.text, offline_cache)

    assert before.outcome is Outcome.RECOGNIZED
    assert before.as_of == first.synced_at
    assert second.from_block == first.to_block + 1
    assert second.events_applied == 1
    assert not second.from_scratch
    assert after.outcome is Outcome.SUSPENDED
    assert after.as_of == second.synced_at


def test_progress_is_reported_after_every_page(
    chain_world: ChainWorld, offline_cache: OfflineCache
) -> None:
    seen: list[SyncProgress] = []

    report = run_sync(chain_world, offline_cache, page_size=4, progress=seen.append)

    assert len(seen) == report.pages > 1
    assert [p.done for p in seen] == sorted({p.done for p in seen})
    assert all(p.total == report.to_block - report.from_block + 1 for p in seen)
    assert seen[-1].done == seen[-1].total
    assert seen[-1].events_applied == report.events_applied


class Interrupted(Exception):
    """Stands for the power cut or Ctrl-C that stops a sync between two pages."""


def test_an_interrupted_sync_keeps_its_pages_and_the_next_one_resumes(
    tmp_path: Path, chain_world: ChainWorld, offline_cache: OfflineCache
) -> None:
    def stop_after_first_page(progress: SyncProgress) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        run_sync(chain_world, offline_cache, page_size=4, progress=stop_after_first_page)
    point = offline_cache.sync_point()
    assert point is not None
    first_page_end = chain_world.consortium.deployment.start_block + 3
    assert point.block_number == first_page_end
    # A part-synced cache vouches only for the time of the block it reached.
    assert offline_cache.info().as_of == point.block_time

    resumed = run_sync(chain_world, offline_cache, page_size=4)

    assert resumed.from_block == first_page_end + 1
    assert not resumed.from_scratch
    assert dump(offline_cache) == dump(fresh_cache(tmp_path, chain_world, "fresh.sqlite"))


@pytest.mark.both_chains
def test_a_rewound_chain_makes_the_next_sync_start_again_from_scratch(
    tmp_path: Path, chain_world: ChainWorld, offline_cache: OfflineCache
) -> None:
    chain = chain_world.chain
    fork_point = snapshot(chain)
    abandoned = issue(chain_world.consortium, "MN-AEO-FORK")
    run_sync(chain_world, offline_cache)
    assert offline_cache.certificate(abandoned.certificate_id) is not None
    revert_to_snapshot(chain, fork_point)
    kept = issue(chain_world.consortium, "MN-AEO-KEPT")
    chain_world.consortium.operator("MN").suspend(
        chain_world.certificate_id, ReasonCode.FAILED_AUDIT
    )

    report = run_sync(chain_world, offline_cache)

    assert report.rewound
    assert report.from_scratch
    assert report.from_block == chain_world.consortium.deployment.start_block
    assert offline_cache.certificate(abandoned.certificate_id) is None
    assert offline_cache.certificate(kept.certificate_id) is not None
    online = chain_world.online()
    for certificate_id in (chain_world.certificate_id, kept.certificate_id):
        assert offline_cache.certificate(certificate_id) == online.certificate(certificate_id)
    assert dump(offline_cache) == dump(fresh_cache(tmp_path, chain_world, "fresh.sqlite"))


def test_a_chain_shorter_than_the_cache_counts_as_a_rewind(
    chain_world: ChainWorld, offline_cache: OfflineCache
) -> None:
    fork_point = snapshot(chain_world.chain)
    issue(chain_world.consortium, "MN-AEO-FORK")
    run_sync(chain_world, offline_cache)
    revert_to_snapshot(chain_world.chain, fork_point)

    report = run_sync(chain_world, offline_cache)

    assert report.rewound
    assert offline_cache.counts()["certificates"] == 1


def test_a_sync_against_a_dead_node_raises_and_keeps_the_cache(
    chain_world: ChainWorld, offline_cache: OfflineCache
) -> None:
    first = run_sync(chain_world, offline_cache)

    with pytest.raises(SourceUnavailable, match="cannot sync the offline cache"):
        sync(dead_chain(), chain_world.consortium.deployment, offline_cache)

    assert offline_cache.sync_point() is not None
    assert offline_cache.info().as_of == first.synced_at


def test_a_chain_without_the_deployment_is_refused(
    chain_world: ChainWorld, offline_cache: OfflineCache
) -> None:
    deployment = chain_world.consortium.deployment
    ahead = replace(deployment, start_block=chain_world.chain.block_number() + 10)

    with pytest.raises(CacheError, match="not the chain the deployment is on"):
        sync(chain_world.chain, ahead, offline_cache)


def test_a_page_size_below_one_is_refused(
    chain_world: ChainWorld, offline_cache: OfflineCache
) -> None:
    with pytest.raises(ValueError, match="page_size must be at least 1"):
        sync(chain_world.chain, chain_world.consortium.deployment, offline_cache, page_size=0)


# ---------------------------------------------------------------- verdicts offline


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_offline_verdict_equals_the_online_one_in_every_scenario(
    chain_world: ChainWorld, offline_cache: OfflineCache, scenario: Scenario
) -> None:
    text = scenario.act(chain_world)
    clock = chain_world.now()
    online = chain_world.verify(text, chain_world.online(), scenario.as_authority, clock=clock)
    report = run_sync(chain_world, offline_cache)

    offline = chain_world.verify(text, offline_cache, scenario.as_authority, clock=clock)

    assert offline.outcome is scenario.outcome, offline.reasons
    assert offline.reasons[0].code == scenario.code
    assert offline.as_of == report.synced_at
    assert offline.source is not None
    assert offline.source.kind == "offline"
    assert (offline.outcome, offline.reasons) == (online.outcome, online.reasons)
    assert offline.certificate == online.certificate
    assert offline.signing_key == online.signing_key
    assert [(s.stage, s.state) for s in offline.stages] == [
        (s.stage, s.state) for s in online.stages
    ]


def test_a_cache_older_than_the_max_age_is_flagged_stale(
    chain_world: ChainWorld, offline_cache: OfflineCache
) -> None:
    report = run_sync(chain_world, offline_cache)
    later = report.synced_at + DEFAULT_MAX_AGE + timedelta(hours=1)

    fresh = chain_world.verify(chain_world.text, offline_cache, clock=report.synced_at)
    stale = chain_world.verify(chain_world.text, offline_cache, clock=later)

    assert not fresh.stale
    assert stale.stale
    assert "status_stale" in [r.code for r in stale.reasons]
    assert stale.as_of == report.synced_at


@pytest.mark.both_chains
def test_a_border_post_syncs_then_verifies_offline_through_a_suspension(
    chain_world: ChainWorld, offline_cache: OfflineCache
) -> None:
    first = run_sync(chain_world, offline_cache)
    assert chain_world.verify(chain_world.text, offline_cache).outcome is Outcome.RECOGNIZED

    receipt = chain_world.consortium.operator("MN").suspend(
        chain_world.certificate_id, ReasonCode.FAILED_AUDIT
    )
    since = int(chain_world.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])
    online = chain_world.verify(chain_world.text, chain_world.online())
    not_yet = chain_world.verify(chain_world.text, offline_cache)
    second = run_sync(chain_world, offline_cache)
    offline = chain_world.verify(chain_world.text, offline_cache)

    assert online.outcome is Outcome.SUSPENDED
    assert (not_yet.outcome, not_yet.as_of) == (Outcome.RECOGNIZED, first.synced_at)
    assert (offline.outcome, offline.as_of) == (Outcome.SUSPENDED, second.synced_at)
    assert offline.certificate is not None
    assert offline.certificate.last_change is not None
    assert offline.certificate.last_change.since == since
    assert offline.reasons == online.reasons
    assert latest_timestamp(chain_world.chain) >= since


@pytest.mark.parametrize("chain_kind", ["anvil"])
def test_when_the_node_goes_down_online_checks_are_unavailable_and_offline_ones_go_on(
    chain_world: ChainWorld, offline_cache: OfflineCache
) -> None:
    report = run_sync(chain_world, offline_cache)
    clock = chain_world.now()
    online = chain_world.online()

    chain_world.chain.close()  # stops the anvil process this test started

    down = chain_world.verify(chain_world.text, online, clock=clock)
    offline = chain_world.verify(chain_world.text, offline_cache, clock=clock)
    assert down.outcome is Outcome.CHECK_UNAVAILABLE
    assert "did not answer" in down.reasons[0].message
    assert (offline.outcome, offline.as_of) == (Outcome.RECOGNIZED, report.synced_at)
    with pytest.raises(SourceUnavailable):
        run_sync_without_chain_clock(chain_world, offline_cache)
    assert offline_cache.info().as_of == report.synced_at


def run_sync_without_chain_clock(world: ChainWorld, offline_cache: OfflineCache) -> SyncReport:
    # The chain's clock cannot be read from a dead node; the sync must fail before using one.
    return sync(world.chain, world.consortium.deployment, offline_cache)
