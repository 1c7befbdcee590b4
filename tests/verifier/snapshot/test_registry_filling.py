"""Both cache fillings give the same verdicts: in every scenario of the verifier's table, a
snapshot cache filled the way a registry publishes it answers what the SQLite cache synced
from the same chain answers, and says when its membership filter vouched for a certificate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.domain.enums import CertificateStatus
from tests.verifier.conftest import SCENARIOS, ChainWorld, Scenario
from tests.verifier.snapshot_filling import RegistrySnapshots
from verifier.offline import OfflineCache
from verifier.snapshot.source import FILTER_REASON
from verifier.sync import sync
from verifier.verdict import Outcome, StageState

# Slow, so not in `make test-fast` (`make test` runs it): a chain world and a registry index
# per scenario.
pytestmark = pytest.mark.slow


@pytest.fixture
def snapshots(chain_world: ChainWorld, tmp_path: Path) -> Iterator[RegistrySnapshots]:
    filling = RegistrySnapshots(
        chain_world.chain, chain_world.consortium.deployment, tmp_path / "registry"
    )
    yield filling
    filling.close()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_the_snapshot_cache_verdict_equals_the_synced_caches_in_every_scenario(
    chain_world: ChainWorld,
    offline_cache: OfflineCache,
    snapshots: RegistrySnapshots,
    scenario: Scenario,
) -> None:
    text = scenario.act(chain_world)
    clock = chain_world.now()
    sync(chain_world.chain, chain_world.consortium.deployment, offline_cache, clock=lambda: clock)
    synced = chain_world.verify(text, offline_cache, scenario.as_authority, clock=clock)
    from_snapshot = chain_world.verify(
        text, snapshots.fill(clock), scenario.as_authority, clock=clock
    )

    assert from_snapshot.outcome is scenario.outcome, from_snapshot.reasons
    assert from_snapshot.reasons[0].code == scenario.code
    assert from_snapshot.offline
    codes = [r.code for r in from_snapshot.reasons]
    assert [c for c in codes if c != FILTER_REASON] == [r.code for r in synced.reasons]
    assert [(s.stage, s.state) for s in from_snapshot.stages] == [
        (s.stage, s.state) for s in synced.stages
    ]
    # The filter vouches for a certificate no exception row lists (issued, never amended,
    # renewed, suspended or revoked) whose QR's claims it matched, under a trusted key.
    certificate = from_snapshot.certificate
    vouched = (
        certificate is not None
        and all(
            from_snapshot.stage(stage).state is StageState.OK
            for stage in ("signature", "key_validity", "binding")
        )
        and certificate.status is CertificateStatus.ACTIVE
        and certificate.version == 1
        and "renewed" not in codes
    )
    assert (FILTER_REASON in codes) is vouched, codes


def test_the_filters_reason_states_its_false_positive_rate(
    chain_world: ChainWorld, snapshots: RegistrySnapshots
) -> None:
    clock = chain_world.now()
    verdict = chain_world.verify(chain_world.text, snapshots.fill(clock), clock=clock)
    assert verdict.outcome is Outcome.RECOGNIZED
    reason = verdict.reasons[-1]
    assert reason.code == FILTER_REASON
    assert reason.message.startswith(
        "issued per the snapshot's membership filter: a certificate never issued would pass "
        "it with probability "
    )
    assert "(one in " in reason.message
