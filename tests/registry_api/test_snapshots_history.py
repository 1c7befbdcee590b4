"""The snapshot publisher keeps the states it published in ``history/`` beside the snapshot
(services.snapshots): a publisher started again on the same database and directory still
offers deltas from the blocks border posts hold, within the history's bounds."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from contracts.bootstrap import Consortium
from contracts.domain import ids
from contracts.domain.enums import CertificateStatus
from registry_api.services.snapshots import SnapshotPublisher
from verifier.snapshot.cache import store_delta, store_snapshot

from .conftest import ChainApp
from .registry_support import issue, open_registry, record, register_key_on_chain
from .test_snapshots import anchor, publisher, suspend

#: enough certificates that a delta of a few changes is well under half the full snapshot
NUMBERS = tuple(f"MN-AEO-2024-{n:04d}" for n in range(120))
_DAY = 86400


@pytest.fixture
def mn(tmp_path: Path, consortium: Consortium) -> Iterator[ChainApp]:
    with ExitStack() as stack:
        # Three kept states: the bound is reached in a few publications.
        app = open_registry(stack, tmp_path, consortium, snapshot_deltas_kept=3)
        register_key_on_chain(app)
        issue(app, *(record(number) for number in NUMBERS))
        yield app


def restarted(app: ChainApp, clock: Callable[[], float] | None = None) -> SnapshotPublisher:
    """A new publisher on the registry's database and snapshot directory (what a restarted
    worker process builds), in place of the old one."""
    old = publisher(app)
    new = SnapshotPublisher(
        old.session_factory, old.settings, old.block_reader, **({"clock": clock} if clock else {})
    )
    app.workers.snapshots = new
    return new


def test_a_restarted_publisher_serves_a_delta_from_a_snapshot_published_before_the_restart(
    mn: ChainApp, tmp_path: Path
) -> None:
    first = publisher(mn).run_once()
    assert first is not None
    cache = tmp_path / "post.cache"
    store_snapshot(cache, mn.client.get("/v1/snapshot").content, [anchor(mn)], now=1)
    suspend(mn, NUMBERS[7])
    second = restarted(mn).run_once()
    assert second is not None
    assert [d.from_block for d in second.deltas] == [first.block_number]
    delta = mn.client.get(f"/v1/snapshot/deltas?from={first.block_number}")
    assert delta.status_code == 200
    assert len(delta.content) == second.deltas[0].size < second.full.size // 2
    cached = store_delta(cache, delta.content, [anchor(mn)], now=2)
    assert cached.header.block.number == second.block_number
    assert cached.state.lookup(ids.certificate_id("MN", NUMBERS[7])).status is (
        CertificateStatus.SUSPENDED
    )


def test_a_restarted_publisher_whose_index_did_not_move_publishes_nothing_new(
    mn: ChainApp,
) -> None:
    first = publisher(mn).run_once()
    assert first is not None
    assert restarted(mn).run_once() is None
    assert mn.client.get("/v1/snapshot/index").json()["block"]["number"] == first.block_number


def test_the_history_keeps_only_the_last_states_the_setting_allows(mn: ChainApp) -> None:
    settings = mn.app.state.settings
    history = settings.snapshot_path / "history"
    blocks = []
    for number in NUMBERS[: settings.snapshot_deltas_kept + 2]:
        suspend(mn, number)
        published = publisher(mn).run_once()
        assert published is not None
        blocks.append(published.block_number)
    kept = blocks[-settings.snapshot_deltas_kept :]
    assert sorted(int(p.stem.removeprefix("state-")) for p in history.iterdir()) == kept
    suspend(mn, NUMBERS[100])
    latest = restarted(mn).run_once()
    assert latest is not None
    assert sorted(d.from_block for d in latest.deltas) == kept


def test_states_older_than_the_history_days_are_forgotten_after_a_restart(
    mn: ChainApp,
) -> None:
    first = publisher(mn).run_once()
    assert first is not None
    suspend(mn, NUMBERS[3])
    days = mn.app.state.settings.snapshot_history_days
    later = publisher(mn).clock() + (days + 1) * _DAY
    second = restarted(mn, clock=lambda: later).run_once()
    assert second is not None
    assert second.deltas == ()
    history = mn.app.state.settings.snapshot_path / "history"
    assert [p.name for p in history.iterdir()] == [f"state-{second.block_number}.cbor"]


def test_an_unreadable_history_file_costs_only_its_delta(
    mn: ChainApp, caplog: pytest.LogCaptureFixture
) -> None:
    first = publisher(mn).run_once()
    assert first is not None
    suspend(mn, NUMBERS[4])
    second = publisher(mn).run_once()
    assert second is not None
    history = mn.app.state.settings.snapshot_path / "history"
    (history / f"state-{second.block_number}.cbor").write_bytes(b"\x00cut short")
    suspend(mn, NUMBERS[5])
    third = restarted(mn).run_once()
    assert third is not None
    assert [d.from_block for d in third.deltas] == [first.block_number]
    assert f"state-{second.block_number}.cbor skipped" in caplog.text
