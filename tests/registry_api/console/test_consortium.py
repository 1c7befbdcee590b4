"""The consortium pages: administrators and auditors read the members, proposals, accounts
and signing keys; only administrators vote, rotate and manage API keys; a new key's token is
shown once; on a deployed consortium a vote cast in KZ's console admits a member, and a
rotation in MN's console is confirmed."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from functools import partial
from pathlib import Path

import pytest
import sqlalchemy as sa
from eth_account import Account
from fastapi import FastAPI
from fastapi.testclient import TestClient

from contracts.bootstrap import Consortium
from contracts.domain.enums import AuthorityStatus
from contracts.reader import RegistryReader
from registry_api.db import ApiKey, Operation, Role

from ..conftest import ChainApp
from ..registry_support import open_registry, register_key_on_chain
from .support import People, cheap_passwords, console_of, csrf_of, post_form, sign_in

PARTNER_OF = {Role.PARTNER: "KR", Role.BORDER_OFFICER: "KR"}
PAGES = (
    "/console/consortium",
    "/console/consortium/api-keys",
    "/console/consortium/proposals/1/vote",
    "/console/consortium/api-keys/1/revoke",
)
FORMS = (
    "/console/consortium/proposals/1/vote",
    "/console/consortium/signing-keys/rotate",
    "/console/consortium/api-keys",
    "/console/consortium/api-keys/1/revoke",
)


def signed_in_as(client: TestClient, people: People, role: Role, name: str = "") -> None:
    name = name or f"{role.value.replace('_', '')}{len(people.passwords)}"
    sign_in(client, name, people.add(name, role, partner_authority=PARTNER_OF.get(role)))


def operations(app: FastAPI) -> list[Operation]:
    with app.state.session_factory() as session:
        rows = list(session.scalars(sa.select(Operation)))
        session.expunge_all()
        return rows


def idempotency_key_of(html: str) -> str:
    found = re.search(r'name="idempotency_key" value="([^"]+)"', html)
    assert found, "the form has no idempotency key"
    return found.group(1)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.AUDITOR])
def test_administrators_and_auditors_read_the_consortium_only_administrators_change_it(
    client: TestClient, people: People, role: Role
) -> None:
    signed_in_as(client, people, role)
    assert 'href="/console/consortium"' in client.get("/console/").text
    page = client.get("/console/consortium")
    assert page.status_code == 200
    for title in ("Members", "Open membership proposals", "Our accounts on the chain",
                  "Our document-signing keys"):  # fmt: skip
        assert title in page.text
    admin = role is Role.ADMIN
    assert ("Rotate the signing key" in page.text) == admin
    for path in ("/console/consortium/api-keys", "/console/consortium/signing-keys/rotate"):
        assert client.get(path).status_code == (200 if admin else 403), path


@pytest.mark.parametrize(
    "role", [Role.ISSUING_OFFICER, Role.MRA_OFFICER, Role.PARTNER, Role.BORDER_OFFICER]
)
def test_the_consortium_pages_are_refused_to_the_other_roles(
    client: TestClient, people: People, role: Role
) -> None:
    signed_in_as(client, people, role)
    for path in PAGES:
        page = client.get(path)
        assert page.status_code == 403, path
        assert "You cannot see this page" in page.text
    assert 'href="/console/consortium"' not in client.get("/console/").text


def test_a_bad_api_key_form_shows_each_error_next_to_its_field_and_keeps_what_was_typed(
    app: FastAPI, client: TestClient, people: People
) -> None:
    signed_in_as(client, people, Role.ADMIN, "root")
    empty = post_form(client, "/console/consortium/api-keys", {"user": "", "role": ""})
    assert empty.status_code == 400
    assert 'id="user-error"' in empty.text
    assert 'id="role-error"' in empty.text
    partner = post_form(
        client,
        "/console/consortium/api-keys",
        {"user": "KR risk engine", "role": "partner", "partner_authority": ""},
    )
    assert partner.status_code == 400
    assert 'id="partner_authority-error"' in partner.text
    assert "is required for role &#39;partner&#39;" in partner.text
    assert 'value="KR risk engine"' in partner.text
    assert '<option value="partner" selected>' in partner.text
    ours = post_form(
        client,
        "/console/consortium/api-keys",
        {"user": "KR risk engine", "role": "partner", "partner_authority": "mn"},
    )
    assert ours.status_code == 400
    assert "must be another administration than MN" in ours.text
    # What was typed is quoted in the message: shown as text, never as markup.
    markup = post_form(
        client,
        "/console/consortium/api-keys",
        {"user": "KR risk engine", "role": "partner", "partner_authority": "<b>x</b>"},
    )
    assert markup.status_code == 400
    assert "<b>x</b>" not in markup.text
    assert "&lt;B&gt;X&lt;/B&gt;" in markup.text
    with app.state.session_factory() as session:
        holders = {key.user.name for key in session.scalars(sa.select(ApiKey))}
    assert "KR risk engine" not in holders


def test_a_new_api_key_is_shown_once_works_and_stops_working_once_revoked(
    app: FastAPI, client: TestClient, people: People
) -> None:
    signed_in_as(client, people, Role.ADMIN, "root")
    created = post_form(
        client,
        "/console/consortium/api-keys",
        {"user": "KR risk engine", "role": "partner", "partner_authority": "kr"},
    )
    assert created.status_code == 200
    token = re.search(r'id="api-key-token">([^<]+)<', created.text)
    assert token
    bearer = {"Authorization": f"Bearer {token.group(1)}"}
    me = client.get("/v1/me", headers=bearer)
    assert me.status_code == 200, me.text
    listing = client.get("/console/consortium/api-keys").text
    assert "KR risk engine" in listing
    assert token.group(1) not in listing
    assert "console-" not in listing  # people's console keys are not machines' keys

    with app.state.session_factory() as session:
        key = session.scalars(
            sa.select(ApiKey).where(ApiKey.role == Role.PARTNER, ApiKey.revoked_at.is_(None))
        ).one()
        key_id, prefix = key.id, key.prefix
    confirm = client.get(f"/console/consortium/api-keys/{key_id}/revoke")
    assert f"Revoke key {prefix}" in confirm.text
    assert "can no longer call the registry" in confirm.text
    refused = client.post(f"/console/consortium/api-keys/{key_id}/revoke")
    assert refused.status_code == 403
    assert client.get("/v1/me", headers=bearer).status_code == 200
    revoked = client.post(
        f"/console/consortium/api-keys/{key_id}/revoke",
        data={"csrf_token": csrf_of(confirm.text)},
        follow_redirects=False,
    )
    assert revoked.status_code == 303
    assert client.get("/v1/me", headers=bearer).status_code == 401


def test_a_persons_console_key_cannot_be_revoked_as_a_machines(
    app: FastAPI, client: TestClient, people: People
) -> None:
    signed_in_as(client, people, Role.ADMIN, "root")
    with app.state.session_factory() as session:
        console_key = session.scalars(
            sa.select(ApiKey).where(ApiKey.prefix.startswith("console-"))
        ).one()
    assert client.get(f"/console/consortium/api-keys/{console_key.id}/revoke").status_code == 404
    answer = post_form(
        client,
        f"/console/consortium/api-keys/{console_key.id}/revoke",
        {},
        page="/console/consortium/api-keys",
    )
    assert answer.status_code == 404
    assert client.get("/console/consortium").status_code == 200  # still signed in


def test_a_rotation_that_cannot_start_says_why_at_the_form_and_records_nothing(
    app: FastAPI, client: TestClient, people: People
) -> None:
    signed_in_as(client, people, Role.ADMIN, "root")
    form = client.get("/console/consortium/signing-keys/rotate").text
    assert "QR codes signed with the current key stop verifying" in form
    bad = client.post(
        "/console/consortium/signing-keys/rotate",
        data={
            "csrf_token": csrf_of(form),
            "idempotency_key": idempotency_key_of(form),
            "algorithm": "RSA",
        },
    )
    assert bad.status_code == 400
    assert "Choose one of the algorithms listed" in bad.text
    unregistered = client.post(
        "/console/consortium/signing-keys/rotate",
        data={"csrf_token": csrf_of(form), "idempotency_key": idempotency_key_of(form)},
    )
    assert unregistered.status_code in (409, 503)
    assert 'id="algorithm-error"' in unregistered.text
    assert operations(app) == []


def test_every_consortium_form_refuses_a_post_without_its_csrf_token(
    app: FastAPI, client: TestClient, people: People
) -> None:
    signed_in_as(client, people, Role.ADMIN, "root")
    for path in FORMS:
        refused = client.post(
            path, data={"idempotency_key": "0123456789abcdef", "user": "x", "role": "admin"}
        )
        assert refused.status_code == 403, path
        assert "This form has expired" in refused.text
    assert operations(app) == []


# ---------------------------------------------------------------- on a deployed consortium


@pytest.fixture
def registry(tmp_path: Path, consortium: Consortium) -> Iterator[Callable[..., ChainApp]]:
    with ExitStack() as stack:

        def opened(authority: str) -> ChainApp:
            service = open_registry(stack, tmp_path, consortium, authority)
            console_of(service.app).passwords = cheap_passwords()
            return service

        yield partial(opened)


def _follow(service: ChainApp, location: str) -> str:
    service.settle()
    return service.client.get(location).text


@pytest.mark.slow
def test_a_vote_in_kzs_console_admits_the_member_mn_proposed(
    registry: Callable[..., ChainApp],
) -> None:
    mn, kz = registry("MN"), registry("KZ")
    proposal = {
        "action": "admit",
        "authority": "TJ",
        "name": "Customs Service of Tajikistan",
        "admin": Account.create().address,
    }
    proposed = mn.client.post(
        "/v1/admin/membership-proposals",
        json=proposal,
        headers=mn.headers(Role.ADMIN, **{"Idempotency-Key": "admit-tj"}),
    )
    assert proposed.status_code == 202, proposed.text
    mn.settle()
    kz.settle()

    sign_in(kz.client, "aigul", People(kz.app).add("aigul", Role.ADMIN))
    page = kz.client.get("/console/consortium").text
    proposals = page.split('id="proposals"', 1)[1].split("</table>", 1)[0]
    assert "Admit TJ (Customs Service of Tajikistan)" in proposals
    assert "1 of 2" in proposals
    vote_path = re.findall(r'href="(/console/consortium/proposals/\d+/vote)"', proposals)[0]
    confirm = kz.client.get(vote_path).text
    assert "A vote cannot be withdrawn" in confirm
    voted = kz.client.post(
        vote_path,
        data={"csrf_token": csrf_of(confirm), "idempotency_key": idempotency_key_of(confirm)},
        follow_redirects=False,
    )
    assert voted.status_code == 303
    pending = kz.client.get(voted.headers["location"]).text
    assert "Vote on a membership proposal" in pending
    assert 'hx-trigger="every 1s"' in pending
    assert "Confirmed by the chain" in _follow(kz, voted.headers["location"])
    reader = RegistryReader(kz.consortium.chain, kz.consortium.deployment)
    assert reader.get_authority("TJ").status is AuthorityStatus.ACTIVE
    again = kz.client.post(
        vote_path,
        data={"csrf_token": csrf_of(confirm), "idempotency_key": "0f8c2a4e-6b1d-4c3e"},
    )
    assert again.status_code == 409
    assert "is already executed" in again.text


@pytest.mark.slow
def test_a_rotation_in_the_console_registers_a_new_key_and_revokes_the_old(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    old_kid = register_key_on_chain(mn).hex()
    sign_in(mn.client, "root", People(mn.app).add("root", Role.ADMIN))
    form = mn.client.get("/console/consortium/signing-keys/rotate").text
    assert f"Certificates are signed now with key {old_kid}" in form
    sent = mn.client.post(
        "/console/consortium/signing-keys/rotate",
        data={"csrf_token": csrf_of(form), "idempotency_key": idempotency_key_of(form)},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    assert "Confirmed by the chain" in _follow(mn, sent.headers["location"])
    mn.settle()
    keys = mn.client.get("/console/consortium").text.split('id="signing-keys"', 1)[1]
    rows = {kid: row for kid, row in re.findall(r"<code>([0-9a-f]{16})</code>(.*?)</tr>", keys)}
    assert "revoked" in rows[old_kid]
    assert [kid for kid, row in rows.items() if "active" in row and kid != old_kid]
