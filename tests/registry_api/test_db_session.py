"""File modes of the registry's SQLite database (``registry_api.db.session``)."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from registry_api.db import make_engine, upgrade_database


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """umask 0: whatever is not created private on purpose comes out world-readable."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def test_a_new_sqlite_database_and_its_wal_files_are_private(
    tmp_path: Path, permissive_umask: None
) -> None:
    database = tmp_path / "data" / "mn" / "registry.db"
    engine = make_engine(f"sqlite:///{database}")
    try:
        upgrade_database(engine)
        with engine.connect() as connection:
            # WAL mode: while a connection is open, SQLite keeps its -wal and -shm files.
            connection.execute(sa.text("CREATE TABLE probe (x INTEGER)"))
            connection.execute(sa.text("INSERT INTO probe VALUES (1)"))
            connection.commit()
            companions = [Path(f"{database}-wal"), Path(f"{database}-shm")]
            assert all(path.exists() for path in companions)
            assert {path.name: mode_of(path) for path in [database, *companions]} == {
                "registry.db": 0o600,
                "registry.db-wal": 0o600,
                "registry.db-shm": 0o600,
            }
    finally:
        engine.dispose()
    assert mode_of(database.parent) == 0o700


def test_an_existing_world_readable_database_is_tightened_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "registry.db"
    engine = make_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        connection.execute(sa.text("CREATE TABLE kept (x INTEGER)"))
        connection.execute(sa.text("INSERT INTO kept VALUES (42)"))
        connection.commit()
    engine.dispose()
    database.chmod(0o644)

    with caplog.at_level(logging.WARNING, logger="registry_api.db"):
        engine = make_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT x FROM kept")).scalar_one() == 42
    finally:
        engine.dispose()
    assert mode_of(database) == 0o600
    assert f"database file {database} was readable by other users (mode 644)" in caplog.text


def test_a_private_database_is_left_as_it_is(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "registry.db"
    make_engine(f"sqlite:///{database}").dispose()
    database.chmod(0o400)
    with caplog.at_level(logging.WARNING, logger="registry_api.db"):
        make_engine(f"sqlite:///{database}").dispose()
    assert mode_of(database) == 0o400
    assert caplog.text == ""
