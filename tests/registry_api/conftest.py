"""Fixtures for the registry service: settings, a real database, the app and API keys.

Every test that opens a registry database runs against a SQLite file in ``tmp_path``, and
also against PostgreSQL when ``AEO_TEST_DATABASE_URL`` names a server
(``postgresql+psycopg://user@127.0.0.1:5432/postgres``; ``make test-postgres`` starts a
throwaway one). On PostgreSQL each registry a test opens gets a database of its own,
created from that URL and dropped when the test ends.

Tests get a database URL from ``database_url`` (one per test) or from
:func:`new_database_url` (one per registry: ``chain_app``, ``open_registry``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL, make_url
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
#: fixtures that open a registry database: a test using one runs once per database kind
DATABASE_FIXTURES = frozenset(
    {"database_url", "settings", "app", "client", "chain_app", "consortium"}
)


_POSTGRESQL_ONLY_LEFT_OUT = pytest.StashKey[int]()
NEEDS_POSTGRESQL = (
    f"a PostgreSQL behaviour: set {PG_URL_ENV} (make test-postgres starts a throwaway server)"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "postgresql_only: behaviour only PostgreSQL has (row and advisory locks)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    names = set(metafunc.fixturenames)
    if metafunc.definition.get_closest_marker("postgresql_only"):
        if len(DATABASES) > 1:
            metafunc.parametrize("database_kind", ["postgresql"])
        return
    # Without a PostgreSQL URL only the tests that always named their database keep the
    # "[sqlite]" id they had; the others stay unparametrized.
    if "database_url" in names or (len(DATABASES) > 1 and names & DATABASE_FIXTURES):
        metafunc.parametrize("database_kind", DATABASES)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a PostgreSQL URL the PostgreSQL-only tests are deselected, and the run says so.

    They are not skipped silently: ``make test`` runs them on a throwaway server afterwards
    (scripts/pg-test.sh), and the terminal summary names how many were left out here.
    """
    if len(DATABASES) > 1:
        return
    kept = [item for item in items if item.get_closest_marker("postgresql_only") is None]
    left_out = [item for item in items if item.get_closest_marker("postgresql_only") is not None]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept
        config.stash[_POSTGRESQL_ONLY_LEFT_OUT] = len(left_out)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    left_out = config.stash.get(_POSTGRESQL_ONLY_LEFT_OUT, 0)
    if left_out:
        terminalreporter.write_line(
            f"{left_out} PostgreSQL-only tests deselected: {NEEDS_POSTGRESQL}", yellow=True
        )


@pytest.fixture
def database_kind() -> str:
    """sqlite or postgresql; ``pytest_generate_tests`` parametrizes it."""
    return "sqlite"


@dataclass
class RegistryDatabases:
    """Hands out a fresh database per registry of one test, and drops them afterwards."""

    kind: str
    server: URL | None = None
    _created: list[str] = field(default_factory=list)
    _admin: sa.Engine | None = None

    def url(self, data_dir: Path) -> str:
        """A new, empty database for a registry whose data directory is ``data_dir``."""
        if self.kind == "sqlite":
            return f"sqlite:///{data_dir / 'registry.db'}"
        assert self.server is not None
        name = f"aeo_test_{uuid.uuid4().hex[:16]}"
        with self._admin_engine().connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        self._created.append(name)
        return self.server.set(database=name).render_as_string(hide_password=False)

    def _admin_engine(self) -> sa.Engine:
        if self._admin is None:
            assert self.server is not None
            # CREATE/DROP DATABASE cannot run inside a transaction block.
            self._admin = make_engine(
                self.server, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool
            )
        return self._admin

    def drop_all(self) -> None:
        if self._admin is None:
            return
        with self._admin.connect() as connection:
            for name in self._created:
                # FORCE: a registry that was not shut down may still hold connections.
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._created.clear()
        self._admin.dispose()
        self._admin = None


#: the running test's databases, for helpers that build registries without fixtures
_ACTIVE: RegistryDatabases | None = None


def new_database_url(data_dir: Path) -> str:
    """A fresh database for one registry of the running test (SQLite: a file in
    ``data_dir``; PostgreSQL: a new database on the test server, dropped after the test).
    Outside a test (a script that drives ``open_registry``) it is a SQLite file."""
    return (_ACTIVE or RegistryDatabases("sqlite")).url(data_dir)


@pytest.fixture(autouse=True)
def registry_databases(database_kind: str) -> Iterator[RegistryDatabases]:
    # Autouse, so it is set up before and torn down after every fixture that starts an app.
    global _ACTIVE
    server = make_url(os.environ[PG_URL_ENV]) if database_kind == "postgresql" else None
    databases = RegistryDatabases(database_kind, server)
    _ACTIVE = databases
    try:
        yield databases
    finally:
        _ACTIVE = None
        databases.drop_all()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings must come from the test, not from whatever AEO_* the shell exported."""
    for name in list(os.environ):
        if name.startswith("AEO_") and name != PG_URL_ENV:
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def database_url(registry_databases: RegistryDatabases, tmp_path: Path) -> str:
    return registry_databases.url(tmp_path)


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
    ``chain_app("MN")``, ``chain_app("KR")``... Each has its own database and signs with
    that member's operator account. ``run_workers=True`` starts the real background
    sender and indexer threads; other keyword arguments override settings."""
    stack = ExitStack()

    def factory(authority: str = "MN", *, run_workers: bool = False, **overrides: Any) -> ChainApp:
        data_dir = tmp_path / f"{authority.lower()}-{uuid.uuid4().hex[:6]}"
        settings = make_settings(
            data_dir,
            new_database_url(data_dir),
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
