"""Document-signing keys over HTTP on the memory chain: register the key file, list the
keys, rotate (new key registered, old one revoked, new QR codes signed with the new key),
revoke, and the refusals."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from contracts.bootstrap import Consortium
from contracts.reader import RegistryReader
from registry_api.db import Role
from registry_api.keystore import load_signing_key
from registry_api.services.documents import key_file_paths, rotated_key_path
from verifier import Outcome, payload as aeo1, verify
from verifier.chain_source import ChainStatusSource

from .conftest import ChainApp
from .registry_support import issue, open_registry, record
from .support import assert_problem

# Slow, so not in `make test-fast` (`make test` runs it): key rotation on the chain, one service
# each.
pytestmark = pytest.mark.slow

NUMBER = "MN-AEO-2025-0001"


@pytest.fixture
def registry(tmp_path: Path, consortium: Consortium) -> Iterator[Callable[..., ChainApp]]:
    with ExitStack() as stack:
        yield partial(open_registry, stack, tmp_path, consortium)


def post(
    mn: ChainApp, path: str, key: str, body: Any = None, role: Role = Role.ADMIN
) -> httpx.Response:
    headers = {**mn.headers(role), "Idempotency-Key": key}
    if body is None:
        return mn.client.post(path, headers=headers)
    return mn.client.post(path, json=body, headers=headers)


def keys_of(mn: ChainApp, **params: str) -> dict[str, dict[str, Any]]:
    response = mn.client.get(
        "/v1/admin/signing-keys", params=params, headers=mn.headers(Role.AUDITOR)
    )
    assert response.status_code == 200, response.text
    return {key["kid"]: key for key in response.json()["data"]}


def operation(mn: ChainApp, operation_id: str) -> dict[str, Any]:
    body: dict[str, Any] = mn.client.get(
        f"/v1/operations/{operation_id}", headers=mn.headers(Role.ADMIN)
    ).json()
    return body


def configured_kid(mn: ChainApp) -> str:
    settings = mn.app.state.settings
    return load_signing_key(settings.signing_key_path, settings.key_passphrase()).kid.hex()


def reader(mn: ChainApp) -> RegistryReader:
    return RegistryReader(mn.consortium.chain, mn.consortium.deployment)


def payload(mn: ChainApp) -> str:
    response = mn.client.get(
        f"/v1/certificates/{NUMBER}/payload", headers=mn.headers(Role.ISSUING_OFFICER)
    )
    assert response.status_code == 200, response.text
    return response.text


def outcome(mn: ChainApp, text: str) -> Outcome:
    source = ChainStatusSource(reader(mn))
    return verify(text, as_authority="MN", clock=datetime.now(UTC), source=source).outcome


def register(mn: ChainApp) -> str:
    kid = configured_kid(mn)
    accepted = post(mn, "/v1/admin/signing-keys", key=f"register-{kid}")
    assert accepted.status_code == 202, accepted.text
    mn.settle()
    assert operation(mn, accepted.json()["id"])["state"] == "confirmed"
    return kid


def test_registering_the_key_file_publishes_it_and_lets_documents_be_signed(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    kid = configured_kid(mn)
    assert keys_of(mn)[kid]["status"] == "unregistered"
    issue(mn, record(NUMBER))
    assert_problem(mn.client.get(f"/v1/certificates/{NUMBER}/qr.png", headers=mn.headers()), 409)

    accepted = post(mn, "/v1/admin/signing-keys", key="register-1", body={})
    assert accepted.status_code == 202
    assert accepted.headers["location"] == f"/v1/operations/{accepted.json()['id']}"
    assert accepted.json()["kind"] == "register_signing_key"
    assert accepted.json()["state"] == "pending"
    mn.settle()

    on_chain = reader(mn).get_signing_key(bytes.fromhex(kid))
    assert on_chain.authority == "MN"
    assert on_chain.revoked_at == 0
    listed = keys_of(mn)[kid]
    assert listed["status"] == "active"
    assert listed["held_here"] is True
    assert listed["signs_documents"] is True
    assert listed["algorithm"] == "ES256"
    assert listed["public_key"] == on_chain.public_key.hex()
    assert aeo1.decode(payload(mn)).cose.kid.hex() == kid


def test_a_retried_registration_is_the_same_operation_and_a_new_one_a_conflict(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    token = mn.token(Role.ADMIN)
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "register-once"}
    first = mn.client.post("/v1/admin/signing-keys", headers=headers)
    again = mn.client.post("/v1/admin/signing-keys", headers=headers)
    assert first.json()["id"] == again.json()["id"]
    mn.settle()
    body = assert_problem(post(mn, "/v1/admin/signing-keys", key="register-twice"), 409)
    assert body["reason"] == "already_registered"


def test_rotation_registers_a_new_key_revokes_the_old_and_new_qr_codes_use_the_new(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    old_kid = register(mn)
    issue(mn, record(NUMBER))
    before = payload(mn)

    token = mn.token(Role.ADMIN)
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "rotate-2025"}
    rotated = mn.client.post("/v1/admin/signing-keys/rotate", headers=headers)
    assert rotated.status_code == 202, rotated.text
    rotation = rotated.json()
    new_kid = rotation["new_kid"]
    assert rotation["old_kid"] == old_kid
    assert new_kid != old_kid
    assert rotation["registration"]["kind"] == "register_signing_key"
    assert rotation["revocation"]["kind"] == "revoke_signing_key"
    settings = mn.app.state.settings
    assert rotated_key_path(settings, bytes.fromhex(new_kid)).is_file()

    # A retry returns the same rotation and makes no other key.
    retried = mn.client.post("/v1/admin/signing-keys/rotate", headers=headers).json()
    assert retried == rotation | {
        "registration": retried["registration"],
        "revocation": retried["revocation"],
    }
    assert retried["registration"]["id"] == rotation["registration"]["id"]
    assert len(key_file_paths(settings)) == 2

    mn.settle()
    for step in ("registration", "revocation"):
        assert operation(mn, rotation[step]["id"])["state"] == "confirmed"
    chain = reader(mn)
    assert chain.get_signing_key(bytes.fromhex(old_kid)).revoked_at > 0
    assert chain.get_signing_key(bytes.fromhex(new_kid)).revoked_at == 0
    listed = keys_of(mn)
    assert listed[old_kid]["status"] == "revoked"
    assert listed[old_kid]["signs_documents"] is False
    assert listed[new_kid]["status"] == "active"
    assert listed[new_kid]["signs_documents"] is True

    after = payload(mn)
    assert aeo1.decode(after).cose.kid.hex() == new_kid
    assert outcome(mn, after) is Outcome.RECOGNIZED
    # Paper printed before the rotation stays valid: signed while the old key was trusted.
    assert aeo1.decode(before).cose.kid.hex() == old_kid
    assert outcome(mn, before) is Outcome.RECOGNIZED


def test_rotation_to_another_algorithm(registry: Callable[..., ChainApp]) -> None:
    mn = registry("MN")
    register(mn)
    rotated = post(mn, "/v1/admin/signing-keys/rotate", key="to-eddsa", body={"algorithm": "EdDSA"})
    assert rotated.status_code == 202, rotated.text
    mn.settle()
    assert keys_of(mn)[rotated.json()["new_kid"]]["algorithm"] == "EdDSA"


def test_rotation_needs_a_registered_key_to_rotate_from(registry: Callable[..., ChainApp]) -> None:
    mn = registry("MN")
    body = assert_problem(post(mn, "/v1/admin/signing-keys/rotate", key="too-early"), 409)
    assert body["reason"] == "signing_key_not_registered"


def test_revoking_the_only_key_stops_documents_until_a_rotation(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    kid = register(mn)
    issue(mn, record(NUMBER))
    accepted = post(mn, f"/v1/admin/signing-keys/{kid}/revoke", key="revoke-1", body={})
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["kind"] == "revoke_signing_key"
    mn.settle()
    assert reader(mn).get_signing_key(bytes.fromhex(kid)).revoked_at > 0
    refused = assert_problem(
        mn.client.get(f"/v1/certificates/{NUMBER}/payload", headers=mn.headers()), 409
    )
    assert refused["reason"] == "signing_key_revoked"
    again = assert_problem(post(mn, f"/v1/admin/signing-keys/{kid}/revoke", key="revoke-2"), 409)
    assert again["reason"] == "already_revoked"


def test_revoking_an_unknown_or_malformed_key_id_is_refused(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    assert_problem(post(mn, "/v1/admin/signing-keys/00112233aabbccdd/revoke", key="a"), 404)
    body = assert_problem(post(mn, "/v1/admin/signing-keys/xyz/revoke", key="b"), 422)
    assert body["errors"] == [{"field": "path.kid", "message": "must be 16 lower-case hex digits"}]
    naive = post(
        mn,
        "/v1/admin/signing-keys",
        key="c",
        body={"valid_from": "2025-04-01T00:00:00"},
    )
    assert assert_problem(naive, 422)["errors"][0]["field"] == "body.valid_from"


def test_a_valid_from_more_than_an_hour_in_the_past_is_refused(
    registry: Callable[..., ChainApp],
) -> None:
    """A back-dated key would vouch for documents signed before it was published (the contract
    would raise the time to its block's anyway)."""
    mn = registry("MN")
    for key, valid_from in (("2001", "2001-06-01T00:00:00Z"), ("day", _iso(-86_400))):
        refused = post(mn, "/v1/admin/signing-keys", key=key, body={"valid_from": valid_from})
        assert assert_problem(refused, 422)["errors"] == [
            {"field": "body.valid_from", "message": "must not be more than an hour in the past"}
        ]
    ten_minutes_ago = _iso(-600)
    kept = post(mn, "/v1/admin/signing-keys", key="minutes", body={"valid_from": ten_minutes_ago})
    assert kept.status_code == 202, kept.text
    mn.settle()
    on_chain = reader(mn).get_signing_key(bytes.fromhex(configured_kid(mn)))
    assert on_chain.valid_from == int(datetime.fromisoformat(ten_minutes_ago).timestamp())


def _iso(seconds_from_now: int) -> str:
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds_from_now)
    return moment.isoformat().replace("+00:00", "Z")


def test_another_members_keys_are_listed_read_only(registry: Callable[..., ChainApp]) -> None:
    mn = registry("MN")
    kz = registry("KZ")
    kz_kid = register(kz)
    mn.settle()
    assert keys_of(mn, authority="KZ")[kz_kid]["held_here"] is False
    assert kz_kid in keys_of(mn, authority="*")
    assert kz_kid not in keys_of(mn)
    body = assert_problem(post(mn, f"/v1/admin/signing-keys/{kz_kid}/revoke", key="not-ours"), 404)
    assert "of MN" in body["detail"]


def test_an_account_without_the_admin_role_on_chain_gets_a_failed_operation(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN", as_admin=False)
    accepted = post(mn, "/v1/admin/signing-keys", key="plain-operator")
    mn.settle()
    failed = operation(mn, accepted.json()["id"])
    assert failed["state"] == "failed"
    assert failed["error"].startswith("AuthorityUnauthorizedAccount")


@pytest.mark.parametrize("role", [Role.ISSUING_OFFICER, Role.MRA_OFFICER, Role.AUDITOR])
def test_only_admins_change_signing_keys(registry: Callable[..., ChainApp], role: Role) -> None:
    mn = registry("MN")
    for path in ("/v1/admin/signing-keys", "/v1/admin/signing-keys/rotate"):
        assert_problem(post(mn, path, key=f"{role}-{path}", role=role), 403, "forbidden")
    listed = mn.client.get("/v1/admin/signing-keys", headers=mn.headers(role))
    assert listed.status_code == (200 if role is Role.AUDITOR else 403)
