"""The Alembic migrations build exactly the schema the models declare."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient

from registry_api.app import create_app
from registry_api.db import Base, make_engine, upgrade_database
from registry_api.db.session import alembic_config, current_revision
from registry_api.settings import Settings


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def schema_differences(engine: sa.Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, Base.metadata))


def test_migrations_produce_the_schema_of_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade_database(engine)
        assert schema_differences(engine) == []
        tables = set(sa.inspect(engine).get_table_names())
        assert tables == set(Base.metadata.tables) | {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrading_twice_changes_nothing(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade_database(engine)
        upgrade_database(engine)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_downgrading_to_base_removes_every_table_and_upgrading_restores_them(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    try:
        upgrade_database(engine)
        command.downgrade(alembic_config(engine), "base")
        assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade_database(engine)
        assert schema_differences(engine) == []
    finally:
        engine.dispose()


def test_the_app_migrates_its_database_at_start_up(settings: Settings) -> None:
    app = create_app(settings)
    with TestClient(app):
        assert current_revision(app.state.engine) == head_revision()
