"""Idempotency-Key: a retried or duplicated request is applied once."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa

from registry_api.db import Certificate, Operation, Role

from .certificate_data import issued_count, record_body
from .conftest import ChainApp, ChainAppFactory
from .support import assert_problem

# Slow, so not in `make test-fast` (`make test` runs it): concurrent requests.
pytestmark = pytest.mark.slow


def operations(mn: ChainApp) -> int:
    with mn.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(Operation)) or 0


def certificates(mn: ChainApp, number: str) -> int:
    with mn.session() as session:
        query = sa.select(sa.func.count()).where(Certificate.number == number)
        return session.scalar(query) or 0


def test_the_same_request_twice_answers_the_same_operation(chain_app: ChainAppFactory) -> None:
    mn = chain_app("MN")
    headers = mn.headers(Role.ISSUING_OFFICER, **{"Idempotency-Key": "issue-0001"})
    first = mn.client.post("/v1/certificates", json=record_body("MN-1"), headers=headers)
    second = mn.client.post("/v1/certificates", json=record_body("MN-1"), headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert operations(mn) == 1
    mn.settle()
    # A retry after the operation finished still answers it, now confirmed.
    third = mn.client.post("/v1/certificates", json=record_body("MN-1"), headers=headers)
    assert third.json() | {"state": "confirmed"} == third.json()
    assert third.json()["id"] == first.json()["id"]
    assert issued_count(mn, "MN-1") == 1


def test_the_same_key_with_another_body_is_refused_naming_the_header(
    chain_app: ChainAppFactory,
) -> None:
    mn = chain_app("MN")
    headers = mn.headers(Role.ISSUING_OFFICER, **{"Idempotency-Key": "issue-0001"})
    first = mn.client.post("/v1/certificates", json=record_body("MN-1"), headers=headers)
    other = mn.client.post("/v1/certificates", json=record_body("MN-1", tiers=1), headers=headers)
    body = assert_problem(other, 422, "invalid")
    assert body["errors"] == [
        {"field": "header.Idempotency-Key", "message": "already used for a different request"}
    ]
    assert body["operation_id"] == first.json()["id"]
    # The same key on another route is another request too.
    suspend = mn.client.post(
        "/v1/certificates/MN-1/suspend", json={"reason_code": 1}, headers=headers
    )
    assert_problem(suspend, 422, "invalid")
    assert operations(mn) == 1


def test_idempotency_keys_belong_to_the_api_key_that_sent_them(
    chain_app: ChainAppFactory,
) -> None:
    mn = chain_app("MN")
    one = mn.headers(Role.ISSUING_OFFICER, **{"Idempotency-Key": "k-1"})
    two = mn.headers(Role.ISSUING_OFFICER, **{"Idempotency-Key": "k-1"})
    assert (
        mn.client.post("/v1/certificates", json=record_body("MN-1"), headers=one).status_code == 202
    )
    assert (
        mn.client.post("/v1/certificates", json=record_body("MN-2"), headers=two).status_code == 202
    )
    assert operations(mn) == 2


def _race(mn: ChainApp, requests: list[tuple[dict[str, Any], dict[str, str]]]) -> list[Any]:
    barrier = threading.Barrier(len(requests))
    answers: list[Any] = [None] * len(requests)

    def send(index: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        barrier.wait()
        answers[index] = mn.client.post("/v1/certificates", json=body, headers=headers)

    threads = [
        threading.Thread(target=send, args=(i, body, headers))
        for i, (body, headers) in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers


def test_concurrent_identical_requests_make_one_certificate(chain_app: ChainAppFactory) -> None:
    mn = chain_app("MN")
    token = mn.token(Role.ISSUING_OFFICER)
    for round_number in range(5):
        number = f"MN-RACE-{round_number}"
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"race-{round_number}"}
        answers = _race(mn, [(record_body(number), headers)] * 4)
        assert [a.status_code for a in answers] == [202] * 4, [a.text for a in answers]
        assert len({a.json()["id"] for a in answers}) == 1
        assert certificates(mn, number) == 1
    assert operations(mn) == 5
    mn.settle()
    assert all(issued_count(mn, f"MN-RACE-{n}") == 1 for n in range(5))


def test_concurrent_issues_of_one_number_with_different_keys_make_one_certificate(
    chain_app: ChainAppFactory,
) -> None:
    mn = chain_app("MN")
    requests = [
        (record_body("MN-1"), mn.headers(Role.ISSUING_OFFICER, **{"Idempotency-Key": f"k{i}"}))
        for i in range(4)
    ]
    answers = _race(mn, requests)
    assert sorted(a.status_code for a in answers) == [202, 409, 409, 409], [a.text for a in answers]
    mn.settle()
    assert issued_count(mn, "MN-1") == 1
