"""Fixtures for the registry service: settings, a real database, the app and API keys.

Every database test runs against a SQLite file in ``tmp_path``, and also against
PostgreSQL when ``AEO_TEST_DATABASE_URL`` names a server (each test then gets a schema of
its own, dropped afterwards).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from contracts.bootstrap import Consortium
from registry_api.app import create_app
from registry_api.db import Role, make_engine
from registry_api.services.api_keys import create_api_key
from registry_api.settings import Settings, get_settings
from registry_api.workers import ChainAccess, Workers

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


# ---------------------------------------------------------------- apps on a deployed chain


@dataclass
class ChainApp:
    """One administration's service on the test chain: its app, a started TestClient, and
    its workers (``run_workers=False`` by default: tests drive them with ``settle()``)."""

    authority: str
    app: FastAPI
    client: TestClient
    consortium: Consortium

    @property
    def workers(self) -> Workers:
        workers: Workers = self.app.state.workers
        return workers

    def session(self) -> Session:
        session: Session = self.app.state.session_factory()
        return session

    def token(
        self,
        role: Role = Role.ISSUING_OFFICER,
        user: str | None = None,
        partner_authority: str | None = None,
    ) -> str:
        """A new API key of ``role`` (straight in the database); its bearer token."""
        with self.session() as session:
            _key, token = create_api_key(
                session,
                user=user or f"{role.value} of {self.authority}",
                role=role,
                own_authority=self.authority,
                partner_authority=partner_authority,
            )
        return token

    def headers(self, role: Role = Role.ISSUING_OFFICER, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role)}", **extra}

    def settle(self) -> None:
        """Send every accepted operation and index the chain to its head."""
        self.workers.settle()


ChainAppFactory = Callable[..., ChainApp]


@pytest.fixture
def chain_app(tmp_path: Path, consortium: Consortium) -> Iterator[ChainAppFactory]:
    """Build services bound to the deployed ``consortium`` (MN, KZ, KR) on ``chain``:
    ``chain_app("MN")``, ``chain_app("KR")``... Each has its own SQLite file and signs with
    that member's operator account. ``run_workers=True`` starts the real background
    sender and indexer threads; other keyword arguments override settings."""
    stack = ExitStack()

    def factory(authority: str = "MN", *, run_workers: bool = False, **overrides: Any) -> ChainApp:
        data_dir = tmp_path / f"{authority.lower()}-{uuid.uuid4().hex[:6]}"
        settings = make_settings(
            data_dir,
            f"sqlite:///{data_dir / 'registry.db'}",
            authority=authority,
            run_workers=run_workers,
            **{"sender_poll_interval": 0.05, "indexer_poll_interval": 0.1, **overrides},
        )
        access = ChainAccess(
            chain=consortium.chain,
            deployment=consortium.deployment,
            operator=consortium.member(authority).operator,
        )
        app = create_app(settings, chain_access=access)
        client = stack.enter_context(TestClient(app))
        return ChainApp(authority=authority, app=app, client=client, consortium=consortium)

    with stack:
        yield factory
