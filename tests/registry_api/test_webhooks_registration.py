"""Registering webhooks: the secret is shown once, URLs are checked, each user manages its
own (admins all), and the roles that may."""

from __future__ import annotations

from typing import Any

import pytest

from registry_api.db import Role
from registry_api.errors import InvalidError
from registry_api.services.webhooks import MAX_WEBHOOKS_PER_OWNER, check_url

from .conftest import ChainApp, ChainAppFactory
from .support import assert_problem

# Slow, so not in `make test-fast` (`make test` runs it): every role x every webhook route.
pytestmark = pytest.mark.slow

URL = "https://risk.customs.example.kr/aeo/mn"


@pytest.fixture
def mn(chain_app: ChainAppFactory) -> ChainApp:
    return chain_app("MN")


def partner_headers(service: ChainApp, authority: str = "KR", user: str = "KR risk") -> Any:
    token = service.token(Role.PARTNER, user=user, partner_authority=authority)
    return {"Authorization": f"Bearer {token}"}


def test_the_secret_is_in_the_creation_answer_only(mn: ChainApp) -> None:
    headers = partner_headers(mn)
    created = mn.client.post("/v1/webhooks", json={"url": URL}, headers=headers)
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert len(body["secret"]) > 40
    assert (body["url"], body["active"], body["partner_authority"]) == (URL, True, "KR")

    listed = mn.client.get("/v1/webhooks", headers=headers).json()
    assert listed["count"] == 1
    one = mn.client.get(f"/v1/webhooks/{body['id']}", headers=headers).json()
    assert "secret" not in listed["data"][0]
    assert "secret" not in one
    assert body["secret"] not in str(listed) + str(one)
    other = mn.client.post("/v1/webhooks", json={"url": URL}, headers=headers).json()
    assert other["secret"] != body["secret"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.kr/hook", "url must use https or http"),
        ("https:///hook", "url must name a host"),
        ("https://user:pw@example.kr/hook", "url must not carry a user name or password"),
        ("https://example.kr/hook#part", "url must not have a #fragment"),
        ("https://example.kr:99999/hook", "url is not a valid URL"),
        ("not a url", "url must use https or http"),
    ],
)
def test_an_unusable_url_is_refused_naming_the_field(mn: ChainApp, url: str, message: str) -> None:
    answer = mn.client.post("/v1/webhooks", json={"url": url}, headers=partner_headers(mn))
    body = assert_problem(answer, 422, "invalid")
    assert body["detail"].startswith(message)
    assert [e["field"] for e in body["errors"]] == ["body.url"]


@pytest.mark.parametrize(
    "url",
    [
        "http://risk.example.kr/hook",
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://[::1]/hook",
        "https://169.254.169.254/latest",
        "https://localhost/hook",
    ],
)
def test_production_takes_only_https_to_public_hosts(url: str) -> None:
    with pytest.raises(InvalidError):
        check_url(url, production=True)
    assert check_url("https://risk.example.kr/hook", production=True)
    assert check_url("https://8.8.8.8/hook", production=True)


def test_each_user_sees_and_deletes_only_its_own_webhooks(mn: ChainApp) -> None:
    kr = partner_headers(mn)
    kz = partner_headers(mn, "KZ", user="KZ risk")
    mine = mn.client.post("/v1/webhooks", json={"url": URL}, headers=kr).json()
    theirs = mn.client.post("/v1/webhooks", json={"url": URL + "/kz"}, headers=kz).json()

    assert [w["id"] for w in mn.client.get("/v1/webhooks", headers=kz).json()["data"]] == [
        theirs["id"]
    ]
    for path in (f"/v1/webhooks/{mine['id']}", f"/v1/webhooks/{mine['id']}/deliveries"):
        assert_problem(mn.client.get(path, headers=kz), 404)
    assert_problem(mn.client.delete(f"/v1/webhooks/{mine['id']}", headers=kz), 404)
    assert_problem(mn.client.post(f"/v1/webhooks/{mine['id']}/enable", headers=kz), 404)

    # A new key of the same user (a rotation) still manages the webhook.
    rotated = partner_headers(mn)
    assert mn.client.get(f"/v1/webhooks/{mine['id']}", headers=rotated).status_code == 200

    admin = mn.headers(Role.ADMIN)
    assert mn.client.get("/v1/webhooks", headers=admin).json()["count"] == 2
    assert mn.client.delete(f"/v1/webhooks/{mine['id']}", headers=rotated).status_code == 204
    assert_problem(mn.client.get(f"/v1/webhooks/{mine['id']}", headers=kr), 404)
    assert mn.client.delete(f"/v1/webhooks/{theirs['id']}", headers=admin).status_code == 204
    assert mn.client.get("/v1/webhooks", headers=admin).json() == {"data": [], "count": 0}


def test_a_user_holds_a_bounded_number_of_active_webhooks(mn: ChainApp) -> None:
    headers = partner_headers(mn)
    for n in range(MAX_WEBHOOKS_PER_OWNER):
        created = mn.client.post("/v1/webhooks", json={"url": f"{URL}/{n}"}, headers=headers)
        assert created.status_code == 201, created.text
    refused = mn.client.post("/v1/webhooks", json={"url": URL}, headers=headers)
    assert_problem(refused, 409, "conflict")


@pytest.mark.parametrize(
    "role", [Role.ISSUING_OFFICER, Role.MRA_OFFICER, Role.AUDITOR, Role.BORDER_OFFICER]
)
def test_only_partners_and_admins_manage_webhooks(mn: ChainApp, role: Role) -> None:
    headers = mn.headers(role)
    assert_problem(mn.client.post("/v1/webhooks", json={"url": URL}, headers=headers), 403)
    assert_problem(mn.client.get("/v1/webhooks", headers=headers), 403)


def test_an_unknown_body_member_or_id_is_refused(mn: ChainApp) -> None:
    headers = partner_headers(mn)
    answer = mn.client.post("/v1/webhooks", json={"url": URL, "secret": "x"}, headers=headers)
    assert [e["field"] for e in assert_problem(answer, 422)["errors"]] == ["body.secret"]
    assert_problem(mn.client.get("/v1/webhooks/0", headers=headers), 422)
    assert_problem(mn.client.get("/v1/webhooks/99", headers=headers), 404)
