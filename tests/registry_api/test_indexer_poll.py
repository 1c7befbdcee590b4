"""The indexer's worker looks at the latest block often (``indexer_poll_interval``, 0.25 s
by default) and runs a pass only when it is not the block the index ends at: new blocks
are indexed at the next poll, an idle poll changes nothing, and a node restored to other
blocks of the same height is noticed at once."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from contracts.chain import mine, revert_to_snapshot, snapshot
from registry_api.db import CertificateEvent, FeedEntry, Role
from registry_api.settings import Settings

from .certificate_data import assert_index_equals_chain, issue
from .conftest import ChainApp, ChainAppFactory


@pytest.fixture
def mn(chain_app: ChainAppFactory) -> ChainApp:
    return chain_app("MN")


def indexed(service: ChainApp) -> int:
    with service.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(CertificateEvent)) or 0


def test_the_default_poll_interval_is_a_fraction_of_a_one_second_block() -> None:
    assert Settings(authority="MN").indexer_poll_interval == 0.25


def test_a_poll_indexes_a_new_block_and_an_idle_poll_applies_nothing(mn: ChainApp) -> None:
    indexer = mn.workers.indexer
    sender = mn.workers.sender
    assert indexer is not None
    assert sender is not None
    mn.settle()
    assert indexer.poll() == 0
    issue(mn, mn.headers(Role.ISSUING_OFFICER), "MN-1")
    sender.run_until_idle()
    assert indexer.poll() == 1
    assert indexed(mn) == 1
    assert indexer.poll() == 0
    assert indexer.cursor() == mn.consortium.chain.block_number()
    assert_index_equals_chain(mn)


def test_a_node_restored_to_other_blocks_of_the_same_height_is_noticed_at_the_next_poll(
    mn: ChainApp,
) -> None:
    indexer = mn.workers.indexer
    assert indexer is not None
    chain = mn.consortium.chain
    mn.settle()
    before = snapshot(chain)
    issue(mn, mn.headers(Role.ISSUING_OFFICER), "MN-LOST")
    mn.settle()
    assert indexed(mn) == 1
    height = chain.block_number()

    revert_to_snapshot(chain, before)
    mine(chain, height - chain.block_number())  # same height, other blocks
    assert chain.block_number() == height
    indexer.poll()
    assert indexed(mn) == 0
    with mn.session() as session:
        kinds = session.scalars(sa.select(FeedEntry.kind)).all()
    assert "chain.rewound" in kinds
    assert_index_equals_chain(mn)
