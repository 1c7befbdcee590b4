from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from registry_api.app import create_app
from registry_api.auth import hash_token, new_token, token_prefix
from registry_api.db import ApiKey, Role
from registry_api.errors import ConflictError
from registry_api.first_run import create_admin_key
from registry_api.ratelimit import TokenBucketLimiter
from registry_api.settings import Settings

from .conftest import KeyFactory
from .support import assert_problem, bearer, make_settings
from .test_authorization_matrix import ROUTES, declared_roles


def test_a_request_without_a_token_is_401_with_a_bearer_challenge(client: TestClient) -> None:
    response = client.get("/v1/me")
    body = assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert body["instance"] == "/v1/me"


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer nonsense",
        "Bearer aeo_0123456789ab_short",
        "Basic YWRtaW46YWRtaW4=",
        "Bearer ",
        "bearer aeo_zzzzzzzzzzzz_" + "a" * 43,
    ],
)
def test_a_malformed_token_is_401(client: TestClient, authorization: str) -> None:
    assert_problem(
        client.get("/v1/me", headers={"Authorization": authorization}), 401, "unauthorized"
    )


def test_a_well_formed_token_with_a_wrong_secret_is_401(
    client: TestClient, admin_token: str
) -> None:
    prefix = token_prefix(admin_token)
    forged = f"aeo_{prefix}_{'A' * 43}"
    body = assert_problem(client.get("/v1/me", headers=bearer(forged)), 401, "unauthorized")
    assert body["detail"] == "the API key is not valid"


def test_an_unknown_prefix_is_401(client: TestClient) -> None:
    _prefix, token = new_token()
    assert_problem(client.get("/v1/me", headers=bearer(token)), 401, "unauthorized")


def test_a_valid_key_identifies_its_user_and_role(client: TestClient, make_key: KeyFactory) -> None:
    token = make_key(Role.ISSUING_OFFICER, user="b.bat-erdene")
    response = client.get("/v1/me", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {
        "key_id": response.json()["key_id"],
        "prefix": token_prefix(token),
        "user": "b.bat-erdene",
        "role": "issuing_officer",
        "partner_authority": None,
        "authority": "MN",
        "acts_for": "MN",
    }


def test_a_partner_key_acts_for_its_own_administration(
    client: TestClient, make_key: KeyFactory
) -> None:
    token = make_key(Role.PARTNER, user="KZ risk unit", partner_authority="KZ")
    me = client.get("/v1/me", headers=bearer(token)).json()
    assert (me["role"], me["partner_authority"], me["authority"], me["acts_for"]) == (
        "partner",
        "KZ",
        "MN",
        "KZ",
    )


def test_a_wrong_role_is_403_naming_the_roles_needed(
    client: TestClient, make_key: KeyFactory
) -> None:
    token = make_key(Role.AUDITOR)
    body = assert_problem(client.get("/v1/admin/api-keys", headers=bearer(token)), 403, "forbidden")
    assert body["detail"] == "role 'auditor' may not do this; it needs one of: admin"


def test_a_revoked_key_is_401(client: TestClient, admin_token: str, make_key: KeyFactory) -> None:
    token = make_key(Role.ISSUING_OFFICER)
    key_id = client.get("/v1/me", headers=bearer(token)).json()["key_id"]
    revoked = client.delete(f"/v1/admin/api-keys/{key_id}", headers=bearer(admin_token))
    assert revoked.status_code == 200
    body = assert_problem(client.get("/v1/me", headers=bearer(token)), 401, "unauthorized")
    assert body["detail"] == "the API key has been revoked"


def test_only_the_hash_of_a_token_is_stored(
    app: FastAPI, client: TestClient, make_key: KeyFactory, settings: Settings
) -> None:
    token = make_key(Role.AUDITOR)
    with app.state.session_factory() as session:
        key = session.scalars(sa.select(ApiKey).where(ApiKey.prefix == token_prefix(token))).one()
        assert key.secret_hash == hash_token(token)
        columns = [c.name for c in ApiKey.__table__.columns]
        row = session.execute(sa.select(ApiKey.__table__).where(ApiKey.id == key.id)).one()
        # The secret part is everything after the prefix: it may itself contain "_".
        secret = token.split("_", 2)[2]
        assert all(secret not in str(value) for value in row), columns
    if settings.db_url.startswith("sqlite:///"):
        database_file = Path(settings.db_url.removeprefix("sqlite:///"))
        for path in database_file.parent.glob(database_file.name + "*"):
            assert token.encode() not in path.read_bytes()
            assert secret.encode() not in path.read_bytes()


def test_the_rate_limit_answers_429_with_retry_after(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url, rate_limit_per_minute=1, rate_limit_burst=2)
    token = create_admin_key(settings)
    other = None
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/me", headers=bearer(token)).status_code == 200
        created = client.post(
            "/v1/admin/api-keys", headers=bearer(token), json={"user": "x", "role": "auditor"}
        )
        assert created.status_code == 201
        other = created.json()["token"]
        response = client.get("/v1/me", headers=bearer(token))
        body = assert_problem(response, 429, "rate-limited")
        retry_after = int(response.headers["retry-after"])
        assert 1 <= retry_after <= 60
        assert body["retry_after"] == retry_after
        # Limits are per key: another key still has its whole burst.
        assert client.get("/v1/me", headers=bearer(other)).status_code == 200


def test_the_token_bucket_refills_at_its_rate() -> None:
    now = [100.0]
    limiter = TokenBucketLimiter(rate_per_second=0.5, burst=2, clock=lambda: now[0])
    assert limiter.acquire("k") is None
    assert limiter.acquire("k") is None
    assert limiter.acquire("k") == 2
    now[0] += 2.0
    assert limiter.acquire("k") is None
    assert limiter.acquire("k") == 2
    now[0] += 1000.0  # refills up to the burst, not beyond
    assert [limiter.acquire("k") for _ in range(3)] == [None, None, 2]


def test_every_v1_route_declares_its_roles_and_has_an_entry_in_the_matrix(app: FastAPI) -> None:
    """The authorization matrix's catalog names every /v1 route with the roles its
    ``require_roles`` admits: a new route fails here until the catalog says who may call it."""
    declared = declared_roles(app)
    unlisted = sorted(set(declared) - set(ROUTES))
    stale = sorted(set(ROUTES) - set(declared))
    assert not unlisted, f"routes missing from CATALOG in test_authorization_matrix.py: {unlisted}"
    assert not stale, f"CATALOG entries without a route: {stale}"
    for key, roles in declared.items():
        assert roles == ROUTES[key].roles, key


def test_bootstrap_refuses_a_second_admin_key_unless_forced(settings: Settings) -> None:
    first = create_admin_key(settings)
    with pytest.raises(ConflictError, match="an active admin key exists"):
        create_admin_key(settings)
    second = create_admin_key(settings, "recovery", force=True)
    assert first != second
    assert token_prefix(first)
    assert token_prefix(second)


def test_roles_of_another_administration_are_only_partner_and_border_officer() -> None:
    from registry_api.services.api_keys import PARTNER_ROLES

    assert {Role.PARTNER, Role.BORDER_OFFICER} == PARTNER_ROLES
