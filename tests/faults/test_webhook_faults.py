"""Fault 4: a partner's webhook endpoint that is down, then too slow, then answering 500 (and
the registry process killed with a delivery in flight) gets every event of its feed, in
order, exactly once per event id once it deduplicates as docs/api.md says.

In-process counterpart: tests/registry_api/test_webhooks_delivery.py (the dispatcher driven
by hand with a fake clock: down, 500, a timeout, a failure streak that disables a webhook).
Here the real dispatcher thread of a real process delivers on the real clock.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from registry_api.db import Role

from .partner import Mode, PartnerEndpoint
from .world import Registry, World, eventually, record_body, report

pytestmark = pytest.mark.anvil

#: the dispatcher's timeout and back-off, shortened so that a test sees many attempts
WEBHOOKS = {
    "AEO_WEBHOOK_TIMEOUT": "1",
    "AEO_WEBHOOK_BACKOFF_BASE": "0.2",
    "AEO_WEBHOOK_BACKOFF_CAP": "1",
    "AEO_WEBHOOK_POLL_INTERVAL": "0.2",
    # The partner's endpoint listens on loopback, which webhooks reach only when allowed.
    "AEO_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",
}


@pytest.fixture
def endpoint() -> Iterator[PartnerEndpoint]:
    endpoint = PartnerEndpoint(slow_seconds=2.5)
    yield endpoint
    endpoint.close()


def feed_ids(registry: Registry, token: str, after: int) -> list[int]:
    with registry.client(token) as api:
        page = api.get("/v1/feed", params={"after": after, "limit": 500}).json()
    return [entry["sequence"] for entry in page["data"]]


def feed_head(registry: Registry, token: str) -> int:
    with registry.client(token) as api:
        cursor: int = api.get("/v1/feed", params={"after": 0, "limit": 500}).json()["next_cursor"]
    return cursor


def issue(registry: Registry, token: str, numbers: list[str]) -> None:
    with registry.client(token) as api:
        for number in numbers:
            answer = api.post(
                "/v1/certificates",
                json=record_body(number),
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            assert answer.status_code == 202, answer.text


def suspend(registry: Registry, token: str, number: str) -> None:
    with registry.client(token) as api:
        answer = api.post(
            f"/v1/certificates/{number}/suspend",
            json={"reason_code": 1},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
    assert answer.status_code == 202, answer.text


def head_attempts(registry: Registry, token: str, webhook_id: int) -> dict[str, Any]:
    with registry.client(token) as api:
        rows = api.get(f"/v1/webhooks/{webhook_id}/deliveries").json()["data"]
    pending = [row for row in rows if row["state"] == "pending"]
    return pending[0] if pending else {}


@pytest.mark.slow
def test_a_partner_that_is_down_slow_then_failing_gets_every_event_once_in_order(
    world: World, endpoint: PartnerEndpoint
) -> None:
    mn = world.registry("MN", **WEBHOOKS)
    mn.start()
    eventually(mn.caught_up, "MN indexed the founding")
    officer, auditor = mn.token(), mn.token(Role.AUDITOR)
    partner = mn.token(Role.PARTNER, partner_authority="KR")
    start = feed_head(mn, auditor)
    with mn.client(partner) as api:
        created = api.post("/v1/webhooks", json={"url": endpoint.url})
    assert created.status_code == 201, created.text
    webhook_id, endpoint.secret = created.json()["id"], created.json()["secret"]
    numbers = [f"MN-HOOK-{n}" for n in range(1, 11)]

    # Down: nothing listens.
    issue(mn, officer, numbers[:4])
    eventually(
        lambda: head_attempts(mn, partner, webhook_id).get("attempts", 0) >= 3,
        "attempts on a refused connection",
    )
    refused = head_attempts(mn, partner, webhook_id)
    assert refused["last_error"] == "connection_refused"

    # Slow: it answers after the sender gave up; the registry is killed while one waits.
    endpoint.switch(Mode.SLOW)
    issue(mn, officer, numbers[4:7])
    eventually(lambda: endpoint.count(Mode.SLOW) >= 2, "slow answers")
    assert head_attempts(mn, partner, webhook_id)["last_error"] == "timeout"
    eventually(lambda: mn.log_count('"outcome": "timeout"') > 0, "a timeout logged")
    eventually(lambda: endpoint.in_flight > 0, "a delivery in flight")
    mn.kill()
    mn.start()

    # Failing: 500.
    endpoint.switch(Mode.FAILING)
    issue(mn, officer, numbers[7:])
    suspend(mn, officer, numbers[0])
    eventually(lambda: endpoint.count(Mode.FAILING) >= 3, "answers 500")
    assert head_attempts(mn, partner, webhook_id)["last_error"] == "http_status"

    # Down once more, then up for good.
    endpoint.switch(Mode.DOWN)
    time.sleep(1.0)
    eventually(mn.caught_up, "every write indexed")
    expected = feed_ids(mn, partner, start)
    assert len(expected) == len(numbers) + 1
    endpoint.switch(Mode.UP)
    recovered_at = time.monotonic()
    eventually(lambda: endpoint.processed == expected, "every event processed")
    caught_up = time.monotonic() - recovered_at

    deliveries = list(endpoint.deliveries)
    assert all(d.signed for d in deliveries)
    assert {d.event_id for d in deliveries} == set(expected)
    acknowledged = 0
    for delivery in deliveries:  # never an event after a later one was acknowledged
        assert delivery.event_id >= acknowledged, delivery
        if delivery.mode is Mode.UP and delivery.answered == 200:
            acknowledged = max(acknowledged, delivery.event_id)
    with mn.client(partner) as api:
        log = api.get(f"/v1/webhooks/{webhook_id}/deliveries").json()["data"]
    assert sorted(row["event_id"] for row in log) == expected
    assert {row["state"] for row in log} == {"delivered"}
    assert mn.worker_failures() == []
    report(
        "webhooks",
        events=len(expected),
        requests_received=len(deliveries),
        repeats_deduplicated=sum(d.repeat for d in deliveries),
        refused_attempts_on_head=refused["attempts"],
        slow=endpoint.count(Mode.SLOW),
        answered_500=endpoint.count(Mode.FAILING),
        registry_killed_mid_delivery=1,
        up_to_all_processed_s=round(caught_up, 1),
        processed_twice=len(endpoint.processed) - len(set(endpoint.processed)),
    )
