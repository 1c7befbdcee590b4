"""Alembic environment: migrations run against the engine the service passes in
(``registry_api.db.session.upgrade_database``), or, from the alembic command line,
against the database the ``AEO_*`` settings name."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator

from registry_api.db import Base
from registry_api.db.session import make_engine

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # Migrations are frozen history: render a project TypeDecorator as the plain SQLAlchemy
    # type it stores, so an old migration never imports today's application code.
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


def _engine() -> Engine:
    engine = config.attributes.get("engine")
    if isinstance(engine, Engine):
        return engine
    from registry_api.settings import get_settings

    return make_engine(get_settings().db_url)


def run_migrations_online() -> None:
    engine = _engine()
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            # SQLite alters tables by copying them; batch mode does that for later revisions.
            render_as_batch=connection.dialect.name == "sqlite",
            render_item=render_item,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_migrations_online()
