"""Registering webhooks: the secret is shown once and stored only sealed, URLs are checked,
each user manages its own (admins all), and the roles that may. (Where deliveries may go,
at registration and at each connection: tests/security/test_ssrf.py.)"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from registry_api.app import create_app
from registry_api.db import Role, Webhook
from registry_api.errors import InvalidError
from registry_api.services.webhooks import (
    MAX_WEBHOOKS_PER_OWNER,
    SECRETS_KDF_LABEL,
    WebhookSecretError,
    WebhookSecrets,
    check_url,
)

from .conftest import ChainApp, ChainAppFactory
from .support import assert_problem

# Slow, so not in `make test-fast` (`make test` runs it): every role x every webhook route.
pytestmark = pytest.mark.slow

URL = "https://risk.customs.example.kr/aeo/mn"


@pytest.fixture
def mn(chain_app: ChainAppFactory) -> ChainApp:
    # Generated per test: no passphrase lives in the code. Secrets are sealed under it.
    return chain_app("MN", passphrase=secrets.token_urlsafe(18))


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


# ---------------------------------------------------------------- the secret at rest


def stored_secret(service: ChainApp, webhook_id: int) -> str:
    with service.session() as session:
        webhook = session.get(Webhook, webhook_id)
        assert webhook is not None
        return webhook.secret


def test_the_secret_is_stored_sealed_and_opens_only_with_the_services_passphrase(
    mn: ChainApp,
) -> None:
    created = mn.client.post("/v1/webhooks", json={"url": URL}, headers=partner_headers(mn))
    assert created.status_code == 201, created.text
    webhook_id, secret = created.json()["id"], created.json()["secret"]

    with mn.session() as session:
        cells = session.execute(sa.select(Webhook.__table__)).all()
    assert len(cells) == 1
    assert not any(secret in str(cell) for cell in cells[0])
    sealed = stored_secret(mn, webhook_id)
    assert sealed.startswith("v1:")
    settings = mn.app.state.settings
    database = make_url(settings.db_url)
    if database.get_backend_name() == "sqlite":
        # Not in the database file nor its write-ahead log either, not even for a moment.
        assert database.database is not None
        files = list(Path(database.database).parent.glob(Path(database.database).name + "*"))
        assert len(files) >= 2  # the file and its log
        assert not any(secret.encode() in path.read_bytes() for path in files)

    passphrase = settings.passphrase.get_secret_value()
    assert WebhookSecrets(passphrase, "MN").open(webhook_id, sealed) == secret
    for wrong, webhook in [
        (WebhookSecrets("another passphrase", "MN"), webhook_id),
        (WebhookSecrets(passphrase, "KZ"), webhook_id),  # the key is the administration's
        (WebhookSecrets(passphrase, "MN"), webhook_id + 1),  # copied onto another row
    ]:
        with pytest.raises(WebhookSecretError, match="does not open"):
            wrong.open(webhook, sealed)
    assert SECRETS_KDF_LABEL.startswith(b"aeo-registry/webhook-secrets/")


def test_a_registry_without_a_passphrase_registers_no_webhook(chain_app: ChainAppFactory) -> None:
    mn = chain_app("MN")  # development allows a service without a passphrase
    answer = mn.client.post("/v1/webhooks", json={"url": URL}, headers=partner_headers(mn))
    body = assert_problem(answer, 503, "unavailable")
    assert "AEO_PASSPHRASE" in body["detail"]
    with mn.session() as session:
        assert session.scalar(sa.select(sa.func.count(Webhook.id))) == 0


def test_a_service_started_with_another_passphrase_stops_with_a_clear_error(
    mn: ChainApp,
) -> None:
    created = mn.client.post("/v1/webhooks", json={"url": URL}, headers=partner_headers(mn))
    assert created.status_code == 201, created.text
    settings = mn.app.state.settings
    other = settings.model_copy(update={"passphrase": SecretStr("not the one")})
    refused = "do not open with this service's passphrase"
    with pytest.raises(WebhookSecretError, match=refused), TestClient(create_app(other)):
        pass
    without = settings.model_copy(update={"passphrase": None})
    with pytest.raises(WebhookSecretError, match="no passphrase"), TestClient(create_app(without)):
        pass


def test_secrets_stored_in_clear_by_an_earlier_version_are_sealed_at_start(
    mn: ChainApp,
) -> None:
    created = mn.client.post("/v1/webhooks", json={"url": URL}, headers=partner_headers(mn))
    webhook_id = created.json()["id"]
    legacy = "whsec_" + secrets.token_urlsafe(32)
    with mn.session() as session:  # as revision 0002 stored it
        session.execute(sa.update(Webhook).values(secret=legacy))
        session.commit()

    with TestClient(create_app(mn.app.state.settings)):
        pass
    sealed = stored_secret(mn, webhook_id)
    assert sealed.startswith("v1:")
    assert legacy not in sealed
    passphrase = mn.app.state.settings.passphrase.get_secret_value()
    assert WebhookSecrets(passphrase, "MN").open(webhook_id, sealed) == legacy
