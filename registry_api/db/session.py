"""Engines, sessions and the schema migration run at start-up.

A SQLite database is created mode 0600 before SQLite opens it (its directory 0700 when
created here): the records, the API keys' hashes and the webhook secrets are for this
service's account only. SQLite gives its ``-wal``, ``-shm`` and ``-journal`` files the
database file's mode, so they are 0600 too. A database found readable by others is
tightened to 0600, with a warning in the log.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from .base import Base

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")

logger = logging.getLogger("registry_api.db")


def normalise_url(url: str | URL) -> URL:
    """Pick the drivers this project installs: pysqlite, and psycopg 3 for PostgreSQL."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # SQLite ignores foreign keys unless asked, per connection. WAL lets readers proceed
    # while the sender or indexer writes; busy_timeout waits for a writer instead of
    # failing with "database is locked".
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_private_sqlite_file(database: Path) -> None:
    """Create the SQLite file ``database`` empty and 0600 (an empty file is an empty
    database to SQLite), or tighten an existing one and its companions to 0600."""
    database.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        # One call creates it with its final mode: no moment when another user may open it.
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        for path in (database, *(Path(f"{database}{suffix}") for suffix in SQLITE_COMPANIONS)):
            _tighten(path)


def _tighten(path: Path) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if not mode & 0o077:
        return
    try:
        path.chmod(mode & 0o700)
    except OSError as exc:
        logger.warning(
            "database file %s is readable by other users (mode %o) and cannot be made private: %s",
            path,
            mode,
            exc.strerror,
        )
        return
    logger.warning(
        "database file %s was readable by other users (mode %o); it is now %o",
        path,
        mode,
        mode & 0o700,
    )


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for ``url``; a SQLite file is created (0600, its directory too) if missing."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            create_private_sqlite_file(Path(database))
        # Requests run in a thread pool; a pooled connection may serve any thread.
        kwargs.setdefault("connect_args", {"check_same_thread": False})
        if database and database != ":memory:":
            # No cap on connections: SQLite's own locks (busy_timeout) arbitrate writers. A
            # request keeps its connection between its thread-pool hops, so with a capped
            # pool (5 + 10) a burst of 55 requests left every thread waiting for a
            # connection held by a request waiting for a thread, for the pool's 30 s
            # timeout, then answered 500 (tests/faults/test_concurrent_writers.py).
            kwargs.setdefault("max_overflow", -1)
        engine = sa.create_engine(parsed, **kwargs)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return sa.create_engine(parsed, **kwargs)


def insert_if_absent(
    session: Session, entity: type[Base], values: dict[str, Any], key: list[str]
) -> None:
    """``INSERT ... ON CONFLICT (key) DO NOTHING`` on SQLite and PostgreSQL: of two
    transactions inserting the same row at once, neither fails (no commit here)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(entity).values(**values).on_conflict_do_nothing(index_elements=key))


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: routes shape their answer from objects after committing.
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade_database(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema to ``revision`` (``alembic upgrade head``)."""
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
