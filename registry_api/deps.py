"""Dependencies every route shares, as ``Annotated`` aliases so that routes stay short, and
:func:`run_read` for the hot read paths.

The dependencies are ``async``: FastAPI runs a plain ``def`` dependency in the thread
pool, and each such hop (a thread hand-off and a GIL round trip) cost more than the
database reads of a status lookup under load. Reading the settings does no I/O; opening a
session does none either (its connection is checked out at the first query, in the
route's thread), and closing it (a rollback, the connection back to the pool) goes to the
thread pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, TypeVar

import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from .settings import Settings


async def get_app_settings(request: Request) -> Settings:
    """The settings the running app was created with (``create_app(settings)``)."""
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One database session per request, closed (and rolled back if uncommitted) after it."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    session = factory()
    try:
        yield session
    finally:
        await run_in_threadpool(session.close)


T = TypeVar("T")


def reads_on_event_loop(engine: sa.Engine) -> bool:
    """Whether :func:`run_read` runs reads on the event loop: for SQLite, a short indexed
    read of a local file costs less than the thread hop around it (and, in WAL mode, never
    waits for a writer); a PostgreSQL read waits on the network, which would stall every
    other request, so it goes to the thread pool."""
    return engine.dialect.name == "sqlite"


async def run_read(request: Request, read: Callable[[sa.Connection], T]) -> T:
    """``read(connection)`` on a pooled connection of the app's database, on the event loop
    or in the thread pool as :func:`reads_on_event_loop` decides. For short, read-only
    work: a write may wait for a lock."""
    engine: sa.Engine = request.app.state.engine

    def work() -> T:
        with engine.connect() as connection:
            return read(connection)

    if request.app.state.reads_on_event_loop:
        return work()
    return await run_in_threadpool(work)


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
