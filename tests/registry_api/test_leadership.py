"""registry_api/leadership.py: one process runs each background job. On PostgreSQL an
advisory lock per job, held on its own connection, passes to a follower once the leader's
session dies; on SQLite a second process that would do the background work is refused."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from registry_api.db import make_engine
from registry_api.errors import ConfigurationError
from registry_api.leadership import (
    LocalLease,
    PostgresLease,
    hold_sqlite_background,
    lease_for,
    lock_key,
    sqlite_lock_path,
)

PROJECT_DIR = Path(__file__).resolve().parents[2]


def test_each_job_of_each_authority_has_its_own_lock_key_the_same_everywhere() -> None:
    keys = {lock_key(code, job) for code in ("MN", "KR") for job in ("outbox-sender", "indexer")}
    assert len(keys) == 4
    assert lock_key("MN", "indexer") == lock_key("MN", "indexer")
    assert all(-(2**63) <= key < 2**63 for key in keys)


def test_a_sqlite_database_gets_a_lock_file_beside_it_and_memory_none(tmp_path: Path) -> None:
    assert sqlite_lock_path(f"sqlite:///{tmp_path / 'registry.db'}") == (
        tmp_path / "registry.db.background.lock"
    )
    assert sqlite_lock_path("sqlite://") is None
    assert sqlite_lock_path("postgresql+psycopg://aeo@db.internal/aeo") is None


def test_sqlite_leases_are_always_granted(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    try:
        lease = lease_for(engine, "MN", "indexer")
        assert isinstance(lease, LocalLease)
        assert lease.acquire()
        assert lease.still_held()
    finally:
        engine.dispose()


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the background work of ``tmp_path/registry.db``."""
    code = textwrap.dedent(
        f"""
        import sys, time
        from registry_api.leadership import hold_sqlite_background
        hold_sqlite_background({f"sqlite:///{tmp_path / 'registry.db'}"!r})
        print("held", flush=True)
        sys.stdin.read()
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT_DIR,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "held"
    yield process
    process.kill()
    process.communicate(timeout=10)  # also closes its pipes


def test_a_second_process_doing_background_work_on_a_sqlite_database_is_refused_with_the_way_out(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    with pytest.raises(ConfigurationError) as refused:
        hold_sqlite_background(url)
    message = refused.value.detail
    assert "another process already runs the background work" in message
    assert "registry.db" in message
    assert "aeo serve --no-background" in message
    assert "PostgreSQL" in message

    holder.kill()  # the lock dies with its process, as with kill -9
    holder.communicate(timeout=10)
    hold = hold_sqlite_background(url)
    hold.release()


def test_holds_in_one_process_are_shared_and_the_last_release_frees_the_database(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    first = hold_sqlite_background(url)
    second = hold_sqlite_background(url)
    first.release()
    first.release()  # idempotent
    probe = [sys.executable, "-c", f"from registry_api.leadership import *; "
             f"hold_sqlite_background({url!r})"]  # fmt: skip
    assert subprocess.run(probe, cwd=PROJECT_DIR, capture_output=True).returncode != 0
    second.release()
    assert subprocess.run(probe, cwd=PROJECT_DIR, capture_output=True).returncode == 0


@pytest.mark.postgresql_only
def test_a_job_lock_passes_to_the_follower_once_the_leaders_session_dies(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    try:
        leader = PostgresLease(engine, "MN", "outbox-sender")
        follower = PostgresLease(engine, "MN", "outbox-sender")
        other_job = PostgresLease(engine, "MN", "indexer")
        assert leader.acquire()
        assert not follower.acquire()
        assert other_job.acquire()  # jobs are led independently
        assert leader.still_held()

        # The leader's session ends as a kill -9 of its process ends it.
        with engine.connect() as admin:
            ended = admin.scalar(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
                    "AND classid::bigint = :high AND objid::bigint = :low"
                ),
                # A bigint key is stored as two 32-bit halves.
                {"high": (leader.key >> 32) & 0xFFFFFFFF, "low": leader.key & 0xFFFFFFFF},
            )
        assert ended is True
        assert follower.acquire()
        assert not leader.still_held()  # it notices before its next pass
        assert not leader.acquire()

        follower.release()
        assert leader.acquire()
        leader.release()
        other_job.release()
    finally:
        engine.dispose()
