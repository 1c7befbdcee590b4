"""What the console's certificate, action, import and dashboard tests share: MN's registry
on the test chain with its console, people of each role signed in through the pages, and a
certificate issued through the API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from contracts.bootstrap import Consortium
from registry_api.db import Role

from ..certificate_data import idem, record_body
from ..conftest import ChainApp
from ..registry_support import open_registry, register_key_on_chain
from .support import People, cheap_passwords, console_of, csrf_of, sign_in

#: the roles of this administration's staff and of partners, with the partner's code
ROLE_TARGETS: dict[Role, str | None] = {
    Role.ADMIN: None,
    Role.ISSUING_OFFICER: None,
    Role.MRA_OFFICER: None,
    Role.AUDITOR: None,
    Role.PARTNER: "KR",
    Role.BORDER_OFFICER: "KR",
}


@dataclass
class Officers:
    """MN's registry with a console client per role (signed in on first use)."""

    mn: ChainApp
    people: People
    stack: ExitStack
    tmp_path: Path
    clients: dict[Role, TestClient] = field(default_factory=dict)

    def client(self, role: Role = Role.ISSUING_OFFICER) -> TestClient:
        if role not in self.clients:
            name = role.value.replace("_", "-")
            password = self.people.add(name, role, partner_authority=ROLE_TARGETS[role])
            client = TestClient(self.mn.app)
            answer = sign_in(client, name, password)
            assert answer.status_code == 303, answer.text
            self.clients[role] = client
        return self.clients[role]

    def issue(self, number: str = "MN-AEO-2025-0001", **overrides: Any) -> None:
        """Issue ``number`` through the API and let the chain confirm and index it."""
        answer = self.mn.client.post(
            "/v1/certificates",
            json=record_body(number, **overrides),
            headers=self.mn.headers(**idem()),
        )
        assert answer.status_code == 202, answer.text
        self.mn.settle()

    def partner(self, authority: str = "KR") -> ChainApp:
        """Another member's registry on the same chain."""
        return open_registry(self.stack, self.tmp_path, self.mn.consortium, authority)

    def register_signing_key(self) -> None:
        register_key_on_chain(self.mn)

    def post(self, role: Role, path: str, data: dict[str, str], *, page: str | None = None) -> Any:
        """POST ``data`` to ``path`` as ``role``, with the CSRF token of ``page``."""
        client = self.client(role)
        html = client.get(page or path).text
        return client.post(path, data={**data, "csrf_token": csrf_of(html)}, follow_redirects=False)


@pytest.fixture
def officers(tmp_path: Path, consortium: Consortium) -> Iterator[Officers]:
    """MN's registry (its workers driven by hand, ``mn.settle()``) with a signing key file
    that :meth:`Officers.register_signing_key` publishes when a test needs documents."""
    with ExitStack() as stack:
        mn = open_registry(stack, tmp_path, consortium)
        mn.settle()  # the index knows the members (and their codes) from the start
        console_of(mn.app).passwords = cheap_passwords()
        world = Officers(mn=mn, people=People(mn.app), stack=stack, tmp_path=tmp_path)
        yield world
        for client in world.clients.values():
            client.close()
