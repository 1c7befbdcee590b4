"""Dependencies every route shares, as ``Annotated`` aliases so that routes stay short.

Both are ``async``: FastAPI runs a plain ``def`` dependency in the thread pool, and each such
hop (a thread hand-off and a GIL round trip) cost more than the database reads of a status
lookup under load. Reading the settings does no I/O; opening a session does none either
(its connection is checked out at the first query, in the route's thread), and closing it
(a rollback, the connection back to the pool) goes to the thread pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

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


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
