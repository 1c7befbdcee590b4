"""The partners' pages: a partner's people see exactly their share (the certificates an MRA in
force covers, searchable; the feed's changes by day), an administrator any partner's; the
webhooks with the API's address rules, their secret shown once, their delivery log; the
other roles are refused."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from registry_api.db import Role, Webhook
from registry_api.services.webhooks import WebhookSecrets

from ..certificate_data import issue
from ..conftest import ChainApp, ChainAppFactory
from ..feed_support import C, S, propose_mra
from .support import People, cheap_passwords, console_of, csrf_of, post_form, sign_in

PARTNER_OF = {Role.PARTNER: "KR", Role.BORDER_OFFICER: "KR"}
PUBLIC_HOOK = "https://hooks.partner.example/aeo"


def signed_in_as(client: TestClient, people: People, role: Role, name: str = "") -> None:
    name = name or f"{role.value.replace('_', '')}{len(people.passwords)}"
    sign_in(client, name, people.add(name, role, partner_authority=PARTNER_OF.get(role)))


def webhooks(app: FastAPI) -> list[Webhook]:
    with app.state.session_factory() as session:
        rows = list(session.scalars(sa.select(Webhook)))
        session.expunge_all()
        return rows


@pytest.mark.parametrize("role", [Role.PARTNER, Role.ADMIN])
def test_the_partner_pages_open_for_partners_and_administrators(
    client: TestClient, people: People, role: Role
) -> None:
    signed_in_as(client, people, role)
    assert 'href="/console/partners"' in client.get("/console/").text
    page = client.get("/console/partners")
    assert page.status_code == 200
    if role is Role.PARTNER:
        assert "What KR sees of our registry" in page.text
        assert "No MRA in force with KR covers any of our certificates today." in page.text
    else:
        assert "No administration is a party to an MRA with us yet." in page.text
    assert client.get("/console/partners/webhooks").status_code == 200


@pytest.mark.parametrize(
    "role", [Role.ISSUING_OFFICER, Role.MRA_OFFICER, Role.AUDITOR, Role.BORDER_OFFICER]
)
def test_the_partner_pages_are_refused_to_the_other_roles(
    client: TestClient, people: People, role: Role
) -> None:
    signed_in_as(client, people, role)
    for path in ("/console/partners", "/console/partners/webhooks", "/console/partners/webhooks/1"):
        page = client.get(path)
        assert page.status_code == 403, path
        assert "You cannot see this page" in page.text
    assert 'href="/console/partners"' not in client.get("/console/").text


def test_a_webhook_to_an_internal_address_is_refused_next_to_the_url_field_with_it_kept(
    app: FastAPI, client: TestClient, people: People
) -> None:
    signed_in_as(client, people, Role.PARTNER)
    for url, words in (
        ("http://127.0.0.1:8080/hook", "must point at a public address"),
        ("http://10.1.2.3/hook", "must point at a public address"),
        ("ftp://hooks.partner.example/", "must use https or http"),
        ("", "Enter the address that will receive the changes"),
    ):
        answer = post_form(client, "/console/partners/webhooks", {"url": url})
        assert answer.status_code == 400, url
        assert 'id="url-error"' in answer.text
        assert words in answer.text
        assert f'value="{url}"' in answer.text
    assert webhooks(app) == []


def test_a_new_webhook_shows_its_secret_once_and_only_its_owner_and_admins_see_it(
    app: FastAPI, client: TestClient, people: People
) -> None:
    signed_in_as(client, people, Role.PARTNER, "kim")
    created = post_form(client, "/console/partners/webhooks", {"url": PUBLIC_HOOK})
    assert created.status_code == 200
    secret = re.search(r'id="webhook-secret">([^<]+)<', created.text)
    assert secret
    [webhook] = webhooks(app)
    assert webhook.url == PUBLIC_HOOK
    assert secret.group(1) not in webhook.secret  # stored sealed
    sealer = WebhookSecrets.of(console_of(app).settings)
    assert sealer is not None
    assert sealer.open(webhook.id, webhook.secret) == secret.group(1)
    listing = client.get("/console/partners/webhooks").text
    assert PUBLIC_HOOK in listing
    detail = client.get(f"/console/partners/webhooks/{webhook.id}").text
    assert "Delivery log" in detail
    assert secret.group(1) not in listing + detail

    with TestClient(app) as other:
        signed_in_as(other, people, Role.PARTNER, "lee")  # another partner's person
        assert PUBLIC_HOOK not in other.get("/console/partners/webhooks").text
        assert other.get(f"/console/partners/webhooks/{webhook.id}").status_code == 404
    with TestClient(app) as admin:
        signed_in_as(admin, people, Role.ADMIN, "root")
        assert PUBLIC_HOOK in admin.get("/console/partners/webhooks").text


def test_deleting_a_webhook_asks_first_and_needs_the_forms_csrf_token(
    app: FastAPI, client: TestClient, people: People
) -> None:
    signed_in_as(client, people, Role.PARTNER)
    post_form(client, "/console/partners/webhooks", {"url": PUBLIC_HOOK})
    [webhook] = webhooks(app)
    confirm = client.get(f"/console/partners/webhooks/{webhook.id}/delete")
    assert "receives no more changes" in confirm.text
    for path in ("/console/partners/webhooks", f"/console/partners/webhooks/{webhook.id}/delete",
                 f"/console/partners/webhooks/{webhook.id}/enable"):  # fmt: skip
        refused = client.post(path, data={"url": PUBLIC_HOOK})
        assert refused.status_code == 403, path
        assert "This form has expired" in refused.text
    assert len(webhooks(app)) == 1
    deleted = client.post(
        f"/console/partners/webhooks/{webhook.id}/delete",
        data={"csrf_token": csrf_of(confirm.text)},
        follow_redirects=False,
    )
    assert deleted.status_code == 303
    assert webhooks(app) == []


def test_a_bad_search_or_paging_value_is_the_400_page(client: TestClient, people: People) -> None:
    signed_in_as(client, people, Role.PARTNER)
    assert client.get("/console/partners", params={"offset": "-1"}).status_code == 400
    assert client.get("/console/partners", params={"q": "x" * 300}).status_code == 400
    assert client.get("/console/partners/webhooks/0").status_code == 400


@pytest.mark.slow
def test_a_partner_sees_and_searches_the_certificates_its_mra_covers_and_their_changes(
    chain_app: ChainAppFactory,
) -> None:
    mn: ChainApp = chain_app("MN")
    console_of(mn.app).passwords = cheap_passwords()
    officer = mn.headers(Role.ISSUING_OFFICER)
    issue(mn, officer, "MN-S", tiers=S)
    issue(mn, officer, "MN-C", tiers=C)
    issue(mn, officer, "MN-SC", tiers=S | C, holder={
        "legal_name": "Khan Altai Logistics",
        "address": {"street": "Seoul Street 3", "city": "Ulaanbaatar", "country": "MN"},
        "identification": {"scheme": "TIN", "number": "7000001"},
    })  # fmt: skip
    propose_mra(mn.consortium, "MN", {"MN": S, "KR": S})
    mn.settle()

    people = People(mn.app)
    signed_in_as(mn.client, people, Role.PARTNER, "kim")
    page = mn.client.get("/console/partners").text
    shared = page.split('id="shared"', 1)[1].split("</table>", 1)[0]
    assert "MN-S<" in shared
    assert "MN-SC" in shared
    assert "MN-C<" not in shared  # its tier is not covered
    assert "our tiers S" in page
    changes = page.split("Recent changes KR was told of", 1)[1]
    assert "certificate.issued" in changes
    assert "MN-S" in changes
    assert "MN-C " not in changes
    assert re.search(r'<h3 class="heading-s">\d{4}-\d\d-\d\d</h3>', changes)

    found = mn.client.get("/console/partners", params={"q": "khan altai"}).text
    assert "1 certificates" in found
    assert "MN-SC" in found
    by_id = mn.client.get("/console/partners", params={"q": "7000001"}).text
    assert "1 certificates" in by_id
    nothing = mn.client.get("/console/partners", params={"q": "MN-C"}).text
    assert "0 certificates" in nothing  # exists, but not shared: like nothing at all

    with TestClient(mn.app) as admin:
        signed_in_as(admin, people, Role.ADMIN, "root")
        chosen = admin.get("/console/partners", params={"partner": "KR"}).text
        assert "What KR sees of our registry" in chosen
        assert "MN-SC" in chosen
