"""Health, readiness, metrics and the request id."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from registry_api.app import create_app
from registry_api.db import Operation, OperationState, Role
from registry_api.readiness import CheckResult, register_readiness_check
from registry_api.settings import Settings

from .conftest import KeyFactory
from .support import bearer

# Slow, so not in `make test-fast` (`make test` runs it): health, readiness and metrics of started
# services.
pytestmark = pytest.mark.slow


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_healthz_answers_while_the_process_runs(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_the_database_ready(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": {"ok": True, "detail": "ok"}},
    }


def test_readyz_runs_pluggable_checks_and_answers_503_when_one_fails(settings: Settings) -> None:
    def chain() -> CheckResult:
        return CheckResult(True, "block 42")

    def indexer() -> CheckResult:
        return CheckResult(False, "lag 120 blocks > 20")

    app = create_app(settings, readiness_checks={"chain": chain})
    register_readiness_check(app, "indexer", indexer)
    with TestClient(app) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["detail"] == "not ready: indexer"
    assert body["checks"] == {
        "database": {"ok": True, "detail": "ok"},
        "chain": {"ok": True, "detail": "block 42"},
        "indexer": {"ok": False, "detail": "lag 120 blocks > 20"},
    }


def test_a_check_that_raises_counts_as_not_ready_never_as_500(settings: Settings) -> None:
    def chain() -> CheckResult:
        raise ConnectionError("node at 127.0.0.1:8545 refused the connection")

    with TestClient(create_app(settings, readiness_checks={"chain": chain})) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["chain"] == {
        "ok": False,
        "detail": "ConnectionError: node at 127.0.0.1:8545 refused the connection",
    }


def test_registering_a_check_name_twice_is_refused(app: FastAPI) -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_readiness_check(app, "database", lambda: CheckResult(True))


def test_metrics_label_latency_by_route_template(client: TestClient, admin_token: str) -> None:
    for key_id in (999, 1000):
        assert (
            client.get(f"/v1/admin/api-keys/{key_id}", headers=bearer(admin_token)).status_code
            == 404
        )
    client.get("/no/such/path")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    counts = samples(response.text, "aeo_http_request_duration_seconds_count")
    by_route = {dict(labels)["route"]: value for labels, value in counts.items()}
    assert by_route["/v1/admin/api-keys/{key_id}"] == 2
    assert by_route["<unmatched>"] == 1
    assert not any("999" in route for route in by_route)


def test_metrics_count_the_outbox_from_the_database(
    app: FastAPI, client: TestClient, make_key: KeyFactory
) -> None:
    make_key(Role.ISSUING_OFFICER)
    with app.state.session_factory() as session:
        for state, key in [
            (OperationState.PENDING, "a"),
            (OperationState.PENDING, "b"),
            (OperationState.SUBMITTED, "c"),
            (OperationState.CONFIRMED, "d"),
        ]:
            session.add(
                Operation(
                    api_key_id=1,
                    idempotency_key=key,
                    request_hash=b"\x00" * 32,
                    kind="issue",
                    payload={},
                    state=state,
                )
            )
        session.commit()
    depth = samples(client.get("/metrics").text, "aeo_outbox_depth")
    assert depth == {
        (("state", "pending"),): 2,
        (("state", "signed"),): 0,
        (("state", "submitted"),): 1,
    }


def test_metrics_export_the_indexer_and_confirmation_gauges(
    app: FastAPI, client: TestClient
) -> None:
    app.state.metrics.indexer_lag_blocks.set(3)
    app.state.metrics.operations_finished.labels(kind="issue", outcome="confirmed").inc()
    text = client.get("/metrics").text
    assert samples(text, "aeo_indexer_lag_blocks") == {(): 3}
    assert samples(text, "aeo_operations_finished_total") == {
        (("kind", "issue"), ("outcome", "confirmed")): 1
    }
    assert "aeo_operation_confirmation_seconds" in text


def test_two_apps_in_one_process_keep_separate_metrics(settings: Settings) -> None:
    first, second = create_app(settings), create_app(settings)
    first.state.metrics.indexer_lag_blocks.set(7)
    assert second.state.metrics.indexer_lag_blocks._value.get() == 0


def test_a_caller_request_id_is_echoed(client: TestClient) -> None:
    request_id = "border-post-7:scan-0042"
    response = client.get("/healthz", headers={"X-Request-ID": request_id})
    assert response.headers["x-request-id"] == request_id


def test_a_request_id_is_made_when_none_is_sent(client: TestClient) -> None:
    first = client.get("/healthz").headers["x-request-id"]
    second = client.get("/healthz").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


@pytest.mark.parametrize("hostile", [b"a b", b"x" * 129, "id\u00e9".encode(), b'{"json": 1}'])
def test_an_unsafe_request_id_is_replaced(client: TestClient, hostile: bytes) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": hostile})
    assert response.headers["x-request-id"].encode() != hostile
    assert uuid.UUID(hex=response.headers["x-request-id"])


def test_problems_carry_the_request_id(client: TestClient) -> None:
    response = client.get("/v1/me", headers={"X-Request-ID": "trace-1"})
    assert response.status_code == 401
    assert response.headers["x-request-id"] == "trace-1"
    assert response.json()["request_id"] == "trace-1"
