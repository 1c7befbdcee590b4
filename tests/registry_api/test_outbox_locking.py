"""Two workers of one account on one database (a second replica started with its workers
on): each accepted operation is still signed once and sent in one transaction, and the
index is written once. On PostgreSQL senders take turns under an advisory lock and claim
operations with ``SELECT ... FOR UPDATE SKIP LOCKED``; indexers lock the cursor row. On
SQLite the state-guarded store of a signed transaction keeps a second signature out."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from registry_api.db import CertificateEvent, FeedEntry, Operation, OperationState, Role
from registry_api.workers.indexer import Indexer
from registry_api.workers.sender import _lease_key

from .certificate_data import assert_index_equals_chain, issue, issued_count
from .conftest import ChainApp, ChainAppFactory
from .test_outbox_sender import new_sender, operator_nonce

# Slow, so not in `make test-fast` (`make test` runs it): two senders racing.
pytestmark = pytest.mark.slow

COUNT = 8
NUMBERS = [f"MN-AEO-2025-{n:04d}" for n in range(1, COUNT + 1)]


@pytest.fixture
def mn(chain_app: ChainAppFactory) -> ChainApp:
    return chain_app("MN")


def operation_states(mn: ChainApp) -> dict[str | None, OperationState]:
    with mn.session() as session:
        rows = session.execute(sa.select(Operation.certificate_number, Operation.state))
        return {number: state for number, state in rows}


def run_together(*steps: Callable[[], object], rounds: int) -> None:
    """Call every step ``rounds`` times, each step in a thread of its own, all starting at
    once; re-raise the first error a thread met."""
    start = threading.Barrier(len(steps))
    errors: list[BaseException] = []

    def loop(step: Callable[[], object]) -> None:
        start.wait()
        try:
            for _ in range(rounds):
                step()
        except BaseException as exc:  # handed to the test's thread below
            errors.append(exc)

    threads = [threading.Thread(target=loop, args=(step,)) for step in steps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads)
    if errors:
        raise errors[0]


def test_two_senders_running_at_once_send_each_operation_in_one_transaction(
    mn: ChainApp,
) -> None:
    officer = mn.headers(Role.ISSUING_OFFICER)
    before = operator_nonce(mn)
    first, second = new_sender(mn), new_sender(mn)
    written = iter(NUMBERS)

    def write() -> None:
        number = next(written, None)
        if number is not None:
            issue(mn, officer, number)

    # Writes arrive while both senders pass, so each finds new work now and then.
    run_together(write, first.run_once, second.run_once, rounds=COUNT * 3)
    for _ in range(10):
        if first.run_once() + second.run_once() == 0 and first.open_operations() == 0:
            break
    assert mn.workers.indexer is not None
    mn.workers.indexer.run_once()

    with mn.session() as session:
        operations = session.scalars(sa.select(Operation)).all()
    assert [op.state for op in operations] == [OperationState.CONFIRMED] * COUNT
    assert len({op.tx_hash for op in operations}) == COUNT
    assert sorted(op.nonce for op in operations if op.nonce is not None) == list(
        range(before, before + COUNT)
    )
    assert operator_nonce(mn) - before == COUNT  # no transaction beyond one per operation
    assert [issued_count(mn, number) for number in NUMBERS] == [1] * COUNT
    assert_index_equals_chain(mn)


@pytest.mark.postgresql_only
def test_a_sender_skips_its_pass_while_another_process_holds_the_outbox(mn: ChainApp) -> None:
    issue(mn, mn.headers(Role.ISSUING_OFFICER), NUMBERS[0])
    before = operator_nonce(mn)
    sender = new_sender(mn)
    key = _lease_key(sender.address)
    with mn.app.state.engine.connect() as other_process:
        other_process.execute(sa.select(sa.func.pg_advisory_lock(key)))
        try:
            assert sender.run_once() == 0
            assert operation_states(mn) == {NUMBERS[0]: OperationState.PENDING}
            assert operator_nonce(mn) == before
        finally:
            other_process.execute(sa.select(sa.func.pg_advisory_unlock(key)))

    assert sender.run_once() > 0
    assert operation_states(mn) == {NUMBERS[0]: OperationState.CONFIRMED}
    assert issued_count(mn, NUMBERS[0]) == 1


@pytest.mark.postgresql_only
def test_a_pending_operation_another_sender_has_claimed_is_left_to_it(mn: ChainApp) -> None:
    officer = mn.headers(Role.ISSUING_OFFICER)
    issue(mn, officer, NUMBERS[0])
    issue(mn, officer, NUMBERS[1])
    before = operator_nonce(mn)
    with mn.session() as claimer:
        # Another sender's transaction holds the first operation: this one sends the
        # second and leaves the first alone.
        claimer.scalars(
            sa.select(Operation).where(Operation.certificate_number == NUMBERS[0]).with_for_update()
        ).one()
        new_sender(mn).run_once()
        claimer.rollback()
    assert operation_states(mn) == {
        NUMBERS[0]: OperationState.PENDING,
        NUMBERS[1]: OperationState.CONFIRMED,
    }
    assert operator_nonce(mn) == before + 1

    new_sender(mn).run_once()
    assert [issued_count(mn, number) for number in NUMBERS[:2]] == [1, 1]


@pytest.mark.postgresql_only
def test_two_indexers_running_at_once_write_each_event_and_feed_entry_once(
    mn: ChainApp,
) -> None:
    officer = mn.headers(Role.ISSUING_OFFICER)
    for number in NUMBERS:
        issue(mn, officer, number)
    new_sender(mn).run_until_idle()
    consortium = mn.consortium
    indexers = [
        Indexer(
            mn.app.state.session_factory,
            consortium.chain,
            consortium.deployment,
            "MN",
            page_size=2,  # many small page transactions that overlap
        )
        for _ in range(2)
    ]
    run_together(*(indexer.run_once for indexer in indexers), rounds=3)

    with mn.session() as session:
        events = session.scalar(sa.select(sa.func.count(CertificateEvent.id)))
        entries = session.execute(
            sa.select(FeedEntry.kind, FeedEntry.block_number).order_by(FeedEntry.sequence)
        ).all()
    assert events == COUNT
    assert [kind for kind, _ in entries].count("certificate.issued") == COUNT
    # Pages were committed one after the other: the feed follows the chain's order.
    blocks = [block for _, block in entries]
    assert blocks == sorted(blocks)
    assert_index_equals_chain(mn)
