"""Which process runs each background job (issue 16, part 1).

A registry's background work is a handful of jobs (the outbox sender, the indexer, the import
runner, the webhook deliverer...), each a loop in :mod:`registry_api.workers`. Any number of
processes may offer to run them (``aeo worker`` on several machines, or HTTP processes with
``AEO_RUN_WORKERS=true``); exactly one runs each job at a time.

**PostgreSQL.** Each job has a session-level advisory lock, keyed by the authority and the
job's name (:func:`lock_key`). A process leads a job while it holds that lock on a connection
of its own (:class:`PostgresLease`), taken with ``pg_try_advisory_lock`` and never released
while it leads. Followers ask again every second (``RETRY_SECONDS``). When the leader dies
(``kill -9``, a crash) its connection closes, PostgreSQL ends the session and frees the lock,
and a follower takes the job over at its next try: within about a second. A machine that
vanishes without closing its connections is noticed by the server's TCP keepalive
(``tcp_keepalives_idle`` and friends, docs/operations.md). A leader checks its connection
before every pass (one ``SELECT 1`` on an idle connection); a lost connection ends its lead
before the pass runs, so it does not keep working on a job another process may have taken.
The jobs stay safe in the short overlap a network cut can still leave: the sender holds its
account's advisory lock for each pass and claims operations with ``FOR UPDATE SKIP LOCKED``
(``outbox/sender.py``), and the indexer writes each page and its cursor in one transaction.

**SQLite.** A SQLite file is one machine's, and two processes doing the background work on it
would be two writers of the same operator account's nonces. The process that runs background
work holds an exclusive lock on a file beside the database (``registry.db.background.lock``,
:func:`hold_sqlite_background`); a second one is refused at start with a message that says why
and what to do. Within one process each job has one loop, so every lease is granted
(:class:`LocalLease`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import Final, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from .errors import ConfigurationError

logger = logging.getLogger("registry_api.leadership")

#: how often a follower asks for a job's lock; takeover follows a leader's death by at most this
RETRY_SECONDS: Final = 1.0


class Lease(Protocol):
    """The right to run one job. Used from the job's own thread only."""

    def acquire(self) -> bool:
        """Try to become the job's leader (never blocks); True when this process leads."""

    def still_held(self) -> bool:
        """Whether this process still leads (False once its hold was lost)."""

    def release(self) -> None:
        """Stop leading (idempotent)."""


class LocalLease:
    """Always granted: SQLite (one process, see :func:`hold_sqlite_background`) and tests."""

    def acquire(self) -> bool:
        return True

    def still_held(self) -> bool:
        return True

    def release(self) -> None:
        return None


def lock_key(authority: str, job: str) -> int:
    """The advisory lock key of ``job`` of ``authority`` (a signed 64-bit integer, as
    PostgreSQL wants), the same in every process and on every machine."""
    digest = hashlib.sha256(f"aeo-job:{authority}:{job}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresLease:
    """Leadership of one job through a PostgreSQL advisory lock held on a dedicated
    connection (taken from ``engine``'s pool and kept out of it while leading)."""

    def __init__(self, engine: sa.Engine, authority: str, job: str) -> None:
        self.engine = engine
        self.job = job
        self.key = lock_key(authority, job)
        self._connection: sa.Connection | None = None

    @property
    def leading(self) -> bool:
        return self._connection is not None

    def acquire(self) -> bool:
        if self._connection is not None:
            return True
        try:
            connection = self.engine.connect()
        except sa.exc.DBAPIError as exc:
            logger.warning("job %s: the database does not answer: %s", self.job, exc)
            return False
        try:
            granted = bool(connection.scalar(sa.select(sa.func.pg_try_advisory_lock(self.key))))
            # The lock belongs to the session and outlives this transaction; committing keeps
            # the connection idle (not "idle in transaction") while it holds the lock.
            connection.commit()
        except sa.exc.DBAPIError as exc:
            logger.warning("job %s: could not ask for its lock: %s", self.job, exc)
            self._discard(connection)
            return False
        if not granted:
            connection.close()
            return False
        self._connection = connection
        logger.info("this process now runs the job %s", self.job)
        return True

    def still_held(self) -> bool:
        connection = self._connection
        if connection is None:
            return False
        try:
            connection.scalar(sa.select(sa.literal(1)))
            connection.commit()
        except sa.exc.DBAPIError as exc:
            # The session, and the lock with it, is gone: another process may lead now.
            logger.warning("job %s: lost its database session, so its lead: %s", self.job, exc)
            self._connection = None
            self._discard(connection)
            return False
        return True

    def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.scalar(sa.select(sa.func.pg_advisory_unlock(self.key)))
            connection.commit()
            connection.close()
        except sa.exc.DBAPIError:
            self._discard(connection)  # a broken connection took the lock with it
        logger.info("this process no longer runs the job %s", self.job)

    @staticmethod
    def _discard(connection: sa.Connection) -> None:
        # A connection whose session is broken (or that holds a lock we no longer want)
        # must not go back to the pool.
        with contextlib.suppress(Exception):
            connection.invalidate()
        with contextlib.suppress(Exception):
            connection.close()


def lease_for(engine: sa.Engine, authority: str, job: str) -> Lease:
    """The lease that decides who runs ``job`` on ``engine``'s database."""
    if engine.dialect.name == "postgresql":
        return PostgresLease(engine, authority, job)
    return LocalLease()


# ---------------------------------------------------------------- SQLite: one background process


class _Held:
    def __init__(self, path: Path, descriptor: int) -> None:
        self.path = path
        self.descriptor = descriptor
        self.count = 1


_HELD: dict[Path, _Held] = {}
_HELD_GUARD = threading.Lock()


def sqlite_lock_path(database_url: str) -> Path | None:
    """The lock file of a SQLite database file (None: not SQLite, or in memory)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    database = Path(url.database)
    return database.with_name(database.name + ".background.lock")


class BackgroundHold:
    """This process's hold on a SQLite database's background work; ``release`` once."""

    def __init__(self, held: _Held | None) -> None:
        self._held = held

    def release(self) -> None:
        held, self._held = self._held, None
        if held is None:
            return
        with _HELD_GUARD:
            held.count -= 1
            if held.count == 0:
                del _HELD[held.path]
                os.close(held.descriptor)  # closing the descriptor drops the lock


def hold_sqlite_background(database_url: str) -> BackgroundHold:
    """Claim the background work of a SQLite database for this process, or raise
    ConfigurationError naming the way out when another process has it. Held again in the
    same process (two apps in one test process) it is shared; not SQLite: nothing to hold."""
    path = sqlite_lock_path(database_url)
    if path is None:
        return BackgroundHold(None)
    path = path.resolve()
    with _HELD_GUARD:
        held = _HELD.get(path)
        if held is not None:
            held.count += 1
            return BackgroundHold(held)
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise ConfigurationError(
                f"another process already runs the background work (outbox sender, indexer, "
                f"imports, webhooks) on the SQLite database {path.name[: -len('.background.lock')]}"
                f" (lock {path}): a second one would be a second writer of the same operator "
                "account and feed. Run one process with background work (aeo serve, or aeo "
                "worker beside aeo serve --no-background), or move to PostgreSQL to run "
                "several workers (docs/operations.md, Processes)"
            ) from None
        held = _HELD[path] = _Held(path, descriptor)
        return BackgroundHold(held)
