"""Administrators create, list and revoke users' API keys."""

from __future__ import annotations

from fastapi.testclient import TestClient

from registry_api.auth import token_prefix

from .support import bearer


def create(client: TestClient, admin_token: str, **body: object) -> dict[str, object]:
    response = client.post("/v1/admin/api-keys", headers=bearer(admin_token), json=body)
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    created: dict[str, object] = response.json()
    return created


def test_a_created_key_is_shown_once_and_works(client: TestClient, admin_token: str) -> None:
    created = create(client, admin_token, user="b.bat-erdene", role="issuing_officer")
    token = str(created["token"])
    assert token_prefix(token) == created["prefix"]
    assert created["active"] is True
    me = client.get("/v1/me", headers=bearer(token)).json()
    assert (me["user"], me["role"], me["key_id"]) == (
        "b.bat-erdene",
        "issuing_officer",
        created["id"],
    )
    # Reading the key again never shows the token.
    again = client.get(f"/v1/admin/api-keys/{created['id']}", headers=bearer(admin_token)).json()
    assert "token" not in again
    assert token not in str(client.get("/v1/admin/api-keys", headers=bearer(admin_token)).json())


def test_a_user_may_hold_several_keys(client: TestClient, admin_token: str) -> None:
    first = create(client, admin_token, user="KZ risk unit", role="partner", partner_authority="KZ")
    second = create(
        client, admin_token, user="KZ risk unit", role="partner", partner_authority="KZ"
    )
    assert first["id"] != second["id"]
    assert first["user"] == second["user"] == "KZ risk unit"
    assert first["partner_authority"] == "KZ"


def test_a_foreign_border_officer_key_names_its_administration(
    client: TestClient, admin_token: str
) -> None:
    own = create(client, admin_token, user="Zamyn-Uud post", role="border_officer")
    foreign = create(
        client, admin_token, user="Erenhot post", role="border_officer", partner_authority="CN"
    )
    assert own["partner_authority"] is None
    assert client.get("/v1/me", headers=bearer(str(foreign["token"]))).json()["acts_for"] == "CN"


def test_the_list_hides_revoked_keys_unless_asked(client: TestClient, admin_token: str) -> None:
    keep = create(client, admin_token, user="keeper", role="auditor")
    gone = create(client, admin_token, user="leaver", role="auditor")
    revoked = client.delete(f"/v1/admin/api-keys/{gone['id']}", headers=bearer(admin_token))
    assert revoked.status_code == 200
    assert revoked.json()["active"] is False
    assert revoked.json()["revoked_at"] is not None

    listed = client.get("/v1/admin/api-keys", headers=bearer(admin_token)).json()
    ids = [k["id"] for k in listed["data"]]
    assert keep["id"] in ids
    assert gone["id"] not in ids
    assert listed["count"] == len(ids) == 2  # the admin's own key and keeper's

    everything = client.get(
        "/v1/admin/api-keys?include_revoked=true", headers=bearer(admin_token)
    ).json()
    assert everything["count"] == 3
    assert [k["id"] for k in everything["data"]] == sorted(
        (k["id"] for k in everything["data"]), reverse=True
    )


def test_the_list_filters_by_role_and_pages(client: TestClient, admin_token: str) -> None:
    for n in range(5):
        create(client, admin_token, user=f"officer {n}", role="issuing_officer")
    page = client.get(
        "/v1/admin/api-keys?role=issuing_officer&limit=2&offset=1", headers=bearer(admin_token)
    ).json()
    assert page["count"] == 5
    assert [k["user"] for k in page["data"]] == ["officer 3", "officer 2"]


def test_revoking_twice_changes_nothing(client: TestClient, admin_token: str) -> None:
    key = create(client, admin_token, user="temp", role="auditor")
    first = client.delete(f"/v1/admin/api-keys/{key['id']}", headers=bearer(admin_token)).json()
    second = client.delete(f"/v1/admin/api-keys/{key['id']}", headers=bearer(admin_token)).json()
    assert first == second


def test_an_admin_may_revoke_another_admin_but_not_the_last(
    client: TestClient, admin_token: str
) -> None:
    other = create(client, admin_token, user="deputy", role="admin")
    assert (
        client.delete(f"/v1/admin/api-keys/{other['id']}", headers=bearer(admin_token)).status_code
        == 200
    )
    me = client.get("/v1/me", headers=bearer(admin_token)).json()
    assert (
        client.delete(f"/v1/admin/api-keys/{me['key_id']}", headers=bearer(admin_token)).status_code
        == 409
    )


def test_last_used_is_recorded(client: TestClient, admin_token: str) -> None:
    key = create(client, admin_token, user="reader", role="auditor")
    assert key["last_used_at"] is None
    client.get("/v1/me", headers=bearer(str(key["token"])))
    shown = client.get(f"/v1/admin/api-keys/{key['id']}", headers=bearer(admin_token)).json()
    assert shown["last_used_at"] is not None
