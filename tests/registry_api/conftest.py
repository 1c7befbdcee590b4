"""Fixtures for the registry service: settings, a real database, the app and API keys.

Every database test runs against a SQLite file in ``tmp_path``, and also against
PostgreSQL when ``AEO_TEST_DATABASE_URL`` names a server (each test then gets a schema of
its own, dropped afterwards).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from registry_api.app import create_app
from registry_api.db import Role, make_engine
from registry_api.services.api_keys import create_api_key
from registry_api.settings import Settings, get_settings

from .support import make_settings

PG_URL_ENV = "AEO_TEST_DATABASE_URL"
DATABASES = ["sqlite", *(["postgresql"] if os.environ.get(PG_URL_ENV) else [])]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings must come from the test, not from whatever AEO_* the shell exported."""
    for name in list(os.environ):
        if name.startswith("AEO_") and name != PG_URL_ENV:
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
        return
    base = make_url(os.environ[PG_URL_ENV])
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    # The context manager runs the lifespan: the schema migration happens here.
    with TestClient(app) as test_client:
        yield test_client


KeyFactory = Callable[..., str]


@pytest.fixture
def make_key(app: FastAPI, client: TestClient) -> KeyFactory:
    """Create an API key straight in the database; returns its token."""

    def factory(
        role: Role = Role.ADMIN, user: str = "tester", partner_authority: str | None = None
    ) -> str:
        with app.state.session_factory() as session:
            _key, token = create_api_key(
                session,
                user=user,
                role=role,
                own_authority=app.state.settings.authority,
                partner_authority=partner_authority,
            )
        return token

    return factory


@pytest.fixture
def admin_token(make_key: KeyFactory) -> str:
    return make_key(Role.ADMIN, user="first admin")
