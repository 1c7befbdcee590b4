"""Helpers the console's tests share: a settable clock, the mounted console of an app, cheap
password hashing for tests that are not about it, people added straight in the database,
and signing in through the pages."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Mount

from registry_api.console import accounts
from registry_api.console.app import ConsoleApp
from registry_api.console.passwords import Passwords
from registry_api.console.roles import RoleTarget
from registry_api.db import Person, Role
from registry_api.settings import Settings
from tests.registry_api.support import make_settings

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def cheap_passwords() -> Passwords:
    """argon2id at the lowest cost: for tests about other things than hashing."""
    return Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def console_settings(tmp_path: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "run_workers": False,
        # Generated per test: TOTP secrets are sealed under a key derived from it.
        "passphrase": secrets.token_urlsafe(24),
    }
    values.update(overrides)
    return make_settings(tmp_path, database_url, **values)


def console_of(app: FastAPI) -> ConsoleApp:
    for route in app.routes:
        if isinstance(route, Mount) and route.path == "/console":
            assert isinstance(route.app, ConsoleApp)
            return route.app
    raise AssertionError("the console is not mounted at /console")


def new_password() -> str:
    return secrets.token_urlsafe(18)


@dataclass
class People:
    """Adds local accounts straight in the database, their password already changed."""

    app: FastAPI
    passwords: dict[str, str] = field(default_factory=dict)

    def add(
        self,
        name: str,
        role: Role = Role.ISSUING_OFFICER,
        *,
        partner_authority: str | None = None,
        totp_required: bool = False,
        change_required: bool = False,
    ) -> str:
        console = console_of(self.app)
        password = new_password()
        with self.app.state.session_factory() as session:
            person = accounts.add_local_person(
                session,
                name=name,
                target=RoleTarget(role, partner_authority),
                password_hash=console.passwords.hash(password),
                now=console.clock(),
                totp_required=totp_required,
                display_name=name.title(),
            )
            person.password_change_required = change_required
            session.commit()
        self.passwords[name] = password
        return password

    def get(self, name: str) -> Person:
        with self.app.state.session_factory() as session:
            person = accounts.get_person(session, name)
            session.expunge(person)
            return person


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def post_form(
    client: TestClient, path: str, data: dict[str, str], *, page: str | None = None
) -> Any:
    """POST ``data`` to ``path`` with the CSRF token of ``page`` (default: ``path``)."""
    html = client.get(page or path).text
    return client.post(path, data={**data, "csrf_token": csrf_of(html)}, follow_redirects=False)


def sign_in(client: TestClient, name: str, password: str) -> Any:
    return post_form(client, "/console/sign-in", {"name": name, "password": password})


def session_cookie(client: TestClient) -> str | None:
    for cookie in client.cookies.jar:
        if cookie.name == "aeo_console_session":
            return cookie.value
    return None
