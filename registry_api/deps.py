"""Dependencies every route shares, as ``Annotated`` aliases so that routes stay short."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from .settings import Settings


def get_app_settings(request: Request) -> Settings:
    """The settings the running app was created with (``create_app(settings)``)."""
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """One database session per request, closed (and rolled back if uncommitted) after it."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    with factory() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
