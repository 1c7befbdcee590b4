"""The status lookup's fast path: cached keys, the one-query read and the cached proof.

The certificates come from the benchmark's filler (issued and indexed rows, no chain), so
these tests need neither anvil nor a deployed chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from aeo.bench.data import fill_registry, number_of
from registry_api import auth
from registry_api.app import create_app
from registry_api.auth import KeyCache, hash_token
from registry_api.db import ApiKey, Certificate, Role, make_engine, utc_now
from registry_api.deps import reads_on_event_loop
from registry_api.services.api_keys import create_api_key
from registry_api.services.certificates import (
    certificate_status,
    read_certificate,
)

from .certificate_data import idem
from .conftest import RegistryDatabases
from .support import assert_problem, bearer, make_settings

# Slow, so not in `make test-fast` (`make test` runs it): measured paths on a service with many
# records.
pytestmark = pytest.mark.slow

CERTIFICATES = 3


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The process's key cache, replaced by one on a clock the test moves."""
    fake = FakeClock()
    monkeypatch.setattr(auth, "key_cache", KeyCache(clock=fake))
    return fake


@pytest.fixture
def app(tmp_path: Path, database_url: str) -> FastAPI:
    fill_registry(database_url, CERTIFICATES)
    return create_app(make_settings(tmp_path, database_url, run_workers=False))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def _token(app: FastAPI, role: Role) -> str:
    with app.state.session_factory() as session:
        _key, token = create_api_key(session, user=f"a {role.value}", role=role, own_authority="MN")
    return token


def _read(client: TestClient, token: str, number: str = number_of(0)) -> Any:
    response = client.get(f"/v1/certificates/{number}", headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()


# ---------------------------------------------------------------------- the key cache


def test_a_key_revoked_by_another_process_is_refused_once_the_cache_expires(
    app: FastAPI, client: TestClient, clock: FakeClock
) -> None:
    token = _token(app, Role.AUDITOR)
    _read(client, token)
    # Another process (a second worker, the CLI) revokes it: this one only sees the row.
    with app.state.session_factory() as session:
        session.execute(
            sa.update(ApiKey)
            .where(ApiKey.secret_hash == hash_token(token))
            .values(revoked_at=utc_now())
        )
        session.commit()
    clock.now += auth.KEY_CACHE_SECONDS - 0.5
    _read(client, token)
    clock.now += 1.0
    response = client.get(f"/v1/certificates/{number_of(0)}", headers=bearer(token))
    body = assert_problem(response, 401, "unauthorized")
    assert body["detail"] == "the API key has been revoked"


def test_a_key_revoked_through_this_process_is_refused_at_once(
    app: FastAPI, client: TestClient, clock: FakeClock
) -> None:
    admin, token = _token(app, Role.ADMIN), _token(app, Role.AUDITOR)
    key_id = client.get("/v1/me", headers=bearer(token)).json()["key_id"]
    revoked = client.delete(f"/v1/admin/api-keys/{key_id}", headers=bearer(admin))
    assert revoked.status_code == 200
    response = client.get(f"/v1/certificates/{number_of(0)}", headers=bearer(token))
    assert assert_problem(response, 401, "unauthorized")["detail"] == (
        "the API key has been revoked"
    )


def test_a_cached_key_still_spends_its_rate(tmp_path: Path, database_url: str) -> None:
    fill_registry(database_url, 1)
    settings = make_settings(
        tmp_path, database_url, run_workers=False, rate_limit_per_minute=1, rate_limit_burst=2
    )
    app = create_app(settings)
    with TestClient(app) as client:
        token = _token(app, Role.AUDITOR)
        _read(client, token)
        _read(client, token)
        response = client.get(f"/v1/certificates/{number_of(0)}", headers=bearer(token))
        assert_problem(response, 429, "rate-limited")


def test_the_cache_keeps_the_newest_entries_per_database_and_forgets_a_revoked_key() -> None:
    clock = FakeClock()
    cache = KeyCache(ttl=5.0, max_entries=2, clock=clock)

    class Row:
        def __init__(self, key_id: int) -> None:
            self.id, self.prefix, self.role, self.partner_authority = (
                key_id,
                "p",
                Role.AUDITOR,
                None,
            )
            self.user = type("U", (), {"name": "u"})()

    for key_id in (1, 2, 3):
        cache.put("db", bytes([key_id]), Row(key_id))  # type: ignore[arg-type]
    assert [cache.get("db", bytes([k])) is not None for k in (1, 2, 3)] == [False, True, True]
    assert cache.get("another db", bytes([3])) is None
    cache.forget(2)
    assert cache.get("db", bytes([2])) is None
    clock.now += 5.0
    assert cache.get("db", bytes([3])) is None


def test_a_cache_of_negative_lifetime_is_refused() -> None:
    with pytest.raises(ValueError, match="ttl"):
        KeyCache(ttl=-1)


# ---------------------------------------------------------------------- the one-query read


def test_the_status_read_agrees_with_the_full_orm_view(app: FastAPI, client: TestClient) -> None:
    body = _read(client, _token(app, Role.AUDITOR), number_of(1))
    with app.state.session_factory() as session:
        view = read_certificate(session, number_of(1))
        record = view.record.canonical_dict()
        record.pop("schema")
        assert body["record"] == record
        assert body["valid_until"] == (view.valid_until.isoformat() if view.valid_until else None)
        assert body["effective_status"] == view.effective_status
        assert body["proof"]["matches"] is view.proof_matches is True
        assert view.latest is not None
        assert body["chain"]["block_number"] == view.latest.block_number
        assert body["chain"]["tx_hash"] == "0x" + view.latest.tx_hash.hex()
        assert body["proof"]["canonical"] == view.record.canonical_bytes().decode()
        assert body["created_at"].startswith(view.certificate.created_at.strftime("%Y-%m-%dT"))


def test_a_row_altered_after_a_cached_read_shows_its_new_record_and_a_broken_proof(
    app: FastAPI, client: TestClient
) -> None:
    token = _token(app, Role.AUDITOR)
    before = _read(client, token)
    assert before["proof"]["matches"] is True
    with app.state.session_factory() as session:
        session.execute(
            sa.update(Certificate)
            .where(Certificate.number == number_of(0))
            .values(holder_legal_name="Someone Else LLC")
        )
        session.commit()
    after = _read(client, token)
    assert after["record"]["holder"]["legal_name"] == "Someone Else LLC"
    assert after["proof"]["matches"] is False
    assert after["proof"]["commitment"] != after["proof"]["chain_commitment"]
    assert after["proof"]["chain_commitment"] == before["proof"]["commitment"]


def test_an_accepted_operation_not_yet_indexed_is_listed_as_pending(
    app: FastAPI, client: TestClient
) -> None:
    token = _token(app, Role.ISSUING_OFFICER)
    assert _read(client, token)["pending_operations"] == []
    accepted = client.post(
        f"/v1/certificates/{number_of(0)}/suspend",
        json={"reason_code": 1},
        headers={**bearer(token), **idem()},
    )
    assert accepted.status_code == 202, accepted.text
    assert _read(client, token)["pending_operations"] == [accepted.json()["id"]]
    assert _read(client, token, number_of(1))["pending_operations"] == []


def test_an_unknown_number_is_404_naming_it(app: FastAPI, client: TestClient) -> None:
    response = client.get("/v1/certificates/MN-AEO-404", headers=bearer(_token(app, Role.AUDITOR)))
    body = assert_problem(response, 404, "not-found")
    assert body["detail"] == "no certificate 'MN-AEO-404' issued by this administration"


def test_reads_run_on_the_event_loop_for_sqlite_only(tmp_path: Path) -> None:
    sqlite_engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    postgres_engine = make_engine("postgresql://nobody@127.0.0.1:1/none")  # never connects
    try:
        assert reads_on_event_loop(sqlite_engine) is True
        assert reads_on_event_loop(postgres_engine) is False
    finally:
        sqlite_engine.dispose()
        postgres_engine.dispose()


def test_the_status_read_takes_a_plain_connection(app: FastAPI, client: TestClient) -> None:
    client.get("/healthz")
    engine: sa.Engine = app.state.engine
    with engine.connect() as connection:
        view = certificate_status(connection, number_of(2))
    assert (view.number, view.status.value, view.matches) == (number_of(2), "active", True)


def test_a_key_cached_by_one_service_is_unknown_to_another_in_the_same_process(
    app: FastAPI, client: TestClient, tmp_path: Path, registry_databases: RegistryDatabases
) -> None:
    token = _token(app, Role.AUDITOR)
    _read(client, token)
    other_url = registry_databases.url(tmp_path / "other")
    fill_registry(other_url, 1)
    other = create_app(make_settings(tmp_path / "other", other_url, run_workers=False))
    with TestClient(other) as other_client:
        response = other_client.get(f"/v1/certificates/{number_of(0)}", headers=bearer(token))
    assert assert_problem(response, 401, "unauthorized")["detail"] == "the API key is not valid"
