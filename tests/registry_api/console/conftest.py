"""Fixtures for the console: a registry app (no workers) with a settable clock and cheap
password hashing, its test client, and a way to add people."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from registry_api.app import create_app
from registry_api.settings import Settings

from .support import Clock, People, cheap_passwords, console_of, console_settings


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return console_settings(tmp_path, database_url)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(settings: Settings, clock: Clock) -> FastAPI:
    registry = create_app(settings)
    console = console_of(registry)
    console.clock = clock
    console.passwords = cheap_passwords()
    return registry


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def people(app: FastAPI, client: TestClient) -> People:
    return People(app)
