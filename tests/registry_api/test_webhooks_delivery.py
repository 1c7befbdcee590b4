"""Webhook deliveries to a real HTTP receiver on 127.0.0.1: a receiver that is down, answers
500, or is too slow still gets every event, in order, exactly once per event id once it
deduplicates; deliveries are signed as docs/api.md says; the log records every attempt, with
its outcome and latency."""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from contracts.domain import ids
from contracts.domain.enums import ReasonCode
from registry_api.db import Role, WebhookDeliveryAttempt, utc_now
from registry_api.schemas.webhooks import RECENT_ATTEMPTS
from registry_api.settings import Settings
from registry_api.workers.webhooks import WebhookDispatcher

from .conftest import ChainApp, ChainAppFactory
from .feed_support import C, Receiver, S, issue, propose_mra
from .support import assert_problem
from .test_feed_pagination import out_of_cover_and_back

# Slow, so not in `make test-fast` (`make test` runs it): real receivers and retries.
pytestmark = pytest.mark.slow

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"
WAIT = 30.0


class Clock:
    """The dispatcher's clock: retries become due when the test moves it, not by waiting."""

    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 7200) -> None:
        self.now += timedelta(seconds=seconds)


#: the receivers listen on loopback, which webhooks reach only when the operator allows it
LOOPBACK = ("127.0.0.1/32",)


@pytest.fixture
def mn(chain_app: ChainAppFactory) -> ChainApp:
    # Generated per test: no passphrase lives in the code. Secrets are sealed under it.
    service = chain_app(
        "MN", passphrase=secrets.token_urlsafe(18), webhook_allowed_networks=LOOPBACK
    )
    propose_mra(service.consortium, "MN", {"MN": S, "KR": S})
    service.settle()
    return service


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


DispatcherFactory = Callable[..., WebhookDispatcher]


@pytest.fixture
def dispatcher(mn: ChainApp, clock: Clock) -> Iterator[DispatcherFactory]:
    made: list[WebhookDispatcher] = []

    def factory(**tuning: Any) -> WebhookDispatcher:
        """A dispatcher of MN with ``webhook_<name>`` settings from ``tuning``."""
        values = {"timeout": 5.0, "backoff_base": 60.0, "backoff_cap": 3600.0} | tuning
        settings: Settings = mn.app.state.settings
        dispatcher = WebhookDispatcher(
            mn.app.state.session_factory,
            settings.model_copy(update={f"webhook_{k}": v for k, v in values.items()}),
            clock=clock,
            draw=lambda: 1.0,
        )
        made.append(dispatcher)
        return dispatcher

    yield factory
    for dispatcher in made:
        dispatcher.stop()


@pytest.fixture
def partner(mn: ChainApp) -> dict[str, str]:
    token = mn.token(Role.PARTNER, user="KR risk unit", partner_authority="KR")
    return {"Authorization": f"Bearer {token}"}


def register(mn: ChainApp, headers: dict[str, str], url: str) -> dict[str, Any]:
    answer = mn.client.post("/v1/webhooks", json={"url": url}, headers=headers)
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def shared_events(mn: ChainApp, count: int, first: int = 1) -> None:
    """``count`` new certificates KR may see (tier S), indexed."""
    for n in range(first, first + count):
        issue(mn.consortium, f"MN-{n}", S)
    mn.settle()


def partner_feed(mn: ChainApp, headers: dict[str, str], after: int) -> list[int]:
    page = mn.client.get("/v1/feed", params={"after": after, "limit": 500}, headers=headers)
    return [entry["sequence"] for entry in page.json()["data"]]


def head(mn: ChainApp) -> int:
    page = mn.client.get(
        "/v1/feed", params={"after": 0, "limit": 500}, headers=mn.headers(Role.AUDITOR)
    )
    cursor: int = page.json()["next_cursor"]
    return cursor


def subscribe(
    mn: ChainApp, partner: dict[str, str], receiver: Receiver, events: int
) -> tuple[dict[str, Any], list[int]]:
    """KR's webhook to ``receiver``, then ``events`` entries KR may see: the webhook and the
    event ids it must receive."""
    start = head(mn)
    webhook = register(mn, partner, receiver.url)
    shared_events(mn, events)
    return webhook, partner_feed(mn, partner, start)


def deliveries(mn: ChainApp, headers: dict[str, str], webhook_id: int) -> list[dict[str, Any]]:
    answer = mn.client.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=headers)
    assert answer.status_code == 200, answer.text
    rows: list[dict[str, Any]] = answer.json()["data"]
    return sorted(rows, key=lambda row: row["event_id"])


def deduplicated(event_ids: list[int]) -> list[int]:
    seen: list[int] = []
    for event_id in event_ids:
        if event_id not in seen:
            seen.append(event_id)
    return seen


def test_a_receiver_that_was_down_gets_every_event_in_order_once_it_is_up(
    mn: ChainApp,
    partner: dict[str, str],
    receiver: Receiver,
    clock: Clock,
    dispatcher: DispatcherFactory,
) -> None:
    start = head(mn)
    webhook = register(mn, partner, receiver.url)
    shared_events(mn, 4)
    mn.consortium.operator("MN").suspend(ids.certificate_id("MN", "MN-2"), ReasonCode.FAILED_AUDIT)
    mn.settle()
    expected = partner_feed(mn, partner, start)
    assert len(expected) == 5

    worker = dispatcher()
    report = worker.run_once()
    assert (report.delivered, report.failed_attempts) == (0, 1)
    assert receiver.received == []
    [first] = deliveries(mn, partner, webhook["id"])
    assert first["event_id"] == expected[0]
    assert first["state"] == "pending"
    assert first["attempts"] == 1
    assert first["last_status_code"] is None
    assert first["last_error"] == "connection_refused"

    worker.run_once()  # the retry is not due yet
    assert deliveries(mn, partner, webhook["id"])[0]["attempts"] == 1

    receiver.up()
    clock.advance()
    report = worker.run_once()
    assert report.delivered == 5
    assert receiver.event_ids() == expected
    assert [r.entry["sequence"] for r in receiver.received] == expected
    assert receiver.received[-1].entry["kind"] == "certificate.suspended"
    log = deliveries(mn, partner, webhook["id"])
    assert [row["event_id"] for row in log] == expected
    assert [(row["state"], row["attempts"]) for row in log] == [("delivered", 2)] + [
        ("delivered", 1)
    ] * 4
    assert worker.run_once().delivered == 0  # nothing twice


def test_a_receiver_answering_500_gets_the_event_again_and_nothing_after_it_until_200(
    mn: ChainApp,
    partner: dict[str, str],
    receiver: Receiver,
    clock: Clock,
    dispatcher: DispatcherFactory,
) -> None:
    webhook, expected = subscribe(mn, partner, receiver, events=3)
    receiver.plan = [500, 503]
    receiver.up()
    worker = dispatcher()

    worker.run_once()
    assert receiver.event_ids() == expected[:1]  # entry 2 waits for entry 1
    worker.run_once()
    assert receiver.event_ids() == expected[:1]
    clock.advance()
    worker.run_once()
    assert receiver.event_ids() == [expected[0]] * 2
    [pending] = deliveries(mn, partner, webhook["id"])
    assert (pending["attempts"], pending["last_status_code"]) == (2, 503)
    assert pending["last_error"] == "http_status"
    assert pending["next_attempt_at"] is not None

    clock.advance()
    worker.run_once()
    received = receiver.event_ids()
    assert received == [expected[0]] * 3 + expected[1:]
    assert received == sorted(received)  # never N+1 before N
    assert deduplicated(received) == expected  # exactly once per id, as a receiver sees it
    log = deliveries(mn, partner, webhook["id"])
    assert [(row["attempts"], row["last_status_code"], row["last_error"]) for row in log] == [
        (3, 200, None),
        (1, 200, None),
        (1, 200, None),
    ]
    assert all(row["delivered_at"] for row in log)


def test_a_slow_receiver_times_out_and_gets_the_event_again(
    mn: ChainApp,
    partner: dict[str, str],
    receiver: Receiver,
    clock: Clock,
    dispatcher: DispatcherFactory,
) -> None:
    webhook, expected = subscribe(mn, partner, receiver, events=2)
    receiver.plan = ["hold"]
    receiver.up()
    worker = dispatcher(timeout=0.5)

    worker.run_once()
    [held] = deliveries(mn, partner, webhook["id"])
    assert held["state"] == "pending"
    assert held["last_error"] == "timeout"
    clock.advance()
    worker.run_once()
    assert deduplicated(receiver.event_ids()) == expected
    assert receiver.event_ids()[:2] == [expected[0]] * 2
    assert [row["state"] for row in deliveries(mn, partner, webhook["id"])] == ["delivered"] * 2


def verifier() -> Callable[..., bool]:
    """The receiver-side check from docs/api.md, run as documented."""
    text = DOCS.read_text(encoding="utf-8")
    marker = text.index("executed by tests/registry_api/test_webhooks_delivery.py")
    block = re.search(r"```python\n(.*?)```", text[marker:], re.DOTALL)
    assert block is not None
    namespace: dict[str, Any] = {}
    exec(compile(block.group(1), str(DOCS), "exec"), namespace)  # noqa: S102 -- our own docs
    verify: Callable[..., bool] = namespace["verify"]
    return verify


def test_every_delivery_is_signed_as_the_documentation_says(
    mn: ChainApp, partner: dict[str, str], receiver: Receiver, dispatcher: DispatcherFactory
) -> None:
    webhook = register(mn, partner, receiver.url)
    secret = webhook["secret"]
    shared_events(mn, 2)
    receiver.up()
    dispatcher().run_once()
    assert len(receiver.received) == 2
    verify = verifier()
    for delivery in receiver.received:
        signature = delivery.headers["AEO-Signature"]
        assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", signature)
        assert delivery.headers["AEO-Webhook-Id"] == str(webhook["id"])
        assert delivery.headers["AEO-Event-Kind"] == delivery.entry["kind"]
        assert delivery.headers["Content-Type"] == "application/json"
        assert verify(secret, signature, delivery.body)
        assert not verify(secret, signature, delivery.body.replace(b"MN-", b"MX-"))
        assert not verify("whsec_another", signature, delivery.body)
        sent_at = int(signature.split(",")[0][2:])
        assert not verify(secret, signature, delivery.body, now=sent_at + 301)
        assert not verify(secret, "v1=abc", delivery.body)


def test_a_failure_streak_disables_the_webhook_until_it_is_enabled(
    mn: ChainApp,
    partner: dict[str, str],
    receiver: Receiver,
    clock: Clock,
    dispatcher: DispatcherFactory,
) -> None:
    webhook, expected = subscribe(mn, partner, receiver, events=2)
    receiver.plan = [500, 500, 500]
    receiver.up()
    worker = dispatcher(disable_after_failures=3)
    for _ in range(3):
        worker.run_once()
        clock.advance()
    assert worker.run_once().delivered == 0
    assert receiver.event_ids() == [expected[0]] * 3
    state = mn.client.get(f"/v1/webhooks/{webhook['id']}", headers=partner).json()
    assert state["active"] is False
    assert state["disabled_at"] is not None
    [failed] = deliveries(mn, partner, webhook["id"])
    assert (failed["state"], failed["attempts"]) == ("failed", 3)

    enabled = mn.client.post(f"/v1/webhooks/{webhook['id']}/enable", headers=partner)
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["active"] is True
    assert worker.run_once().delivered == 2
    assert deduplicated(receiver.event_ids()) == expected
    # The count starts again; the attempts before the re-enable stay in the log.
    first = deliveries(mn, partner, webhook["id"])[0]
    assert first["attempts"] == 1
    assert [a["outcome"] for a in first["recent_attempts"]] == ["delivered"] + ["http_error"] * 3


def test_a_partner_webhook_receives_only_what_the_partner_may_see(
    mn: ChainApp, partner: dict[str, str], receiver: Receiver, dispatcher: DispatcherFactory
) -> None:
    register(mn, partner, receiver.url)
    issue(mn.consortium, "MN-1", C)  # not covered for KR
    propose_mra(mn.consortium, "MN", {"MN": C, "KZ": C})  # KR is no party to it
    issue(mn.consortium, "MN-2", S)
    mn.settle()
    receiver.up()
    dispatcher().run_once()
    assert [r.entry["number"] for r in receiver.received] == ["MN-2"]


def test_revoking_the_key_disables_its_webhooks(
    mn: ChainApp, receiver: Receiver, dispatcher: DispatcherFactory
) -> None:
    admin = mn.headers(Role.ADMIN)
    created = mn.client.post(
        "/v1/admin/api-keys",
        json={"user": "KR risk unit", "role": "partner", "partner_authority": "KR"},
        headers=admin,
    ).json()
    webhook = register(mn, {"Authorization": f"Bearer {created['token']}"}, receiver.url)
    assert mn.client.delete(f"/v1/admin/api-keys/{created['id']}", headers=admin).status_code == 200
    shared_events(mn, 1)
    receiver.up()
    report = dispatcher().run_once()
    assert report.disabled == 1
    assert receiver.received == []
    assert mn.client.get(f"/v1/webhooks/{webhook['id']}", headers=admin).json()["active"] is False


def test_a_receiver_that_does_not_answer_does_not_hold_up_the_api(
    mn: ChainApp, partner: dict[str, str], receiver: Receiver, dispatcher: DispatcherFactory
) -> None:
    webhook = register(mn, partner, receiver.url)
    shared_events(mn, 1)
    receiver.plan = ["hold"]
    receiver.up()
    worker = dispatcher(timeout=60.0)
    arrived = threading.Event()
    worker.start()
    try:
        for _ in range(int(WAIT / 0.05)):
            if receiver.received:
                arrived.set()
                break
            threading.Event().wait(0.05)
        assert arrived.is_set()
        # The delivery is in flight, held by the receiver: the API still answers.
        log = deliveries(mn, partner, webhook["id"])
        assert [(row["state"], row["attempts"]) for row in log] == [("pending", 0)]
        assert (log[0]["recent_attempts"], log[0]["last_latency_ms"]) == ([], None)
        assert mn.client.get("/v1/feed", headers=partner).status_code == 200
    finally:
        receiver.close()
        worker.stop()


def test_the_delivery_log_is_the_owners_only(
    mn: ChainApp, partner: dict[str, str], receiver: Receiver
) -> None:
    webhook = register(mn, partner, receiver.url)
    kz = {"Authorization": f"Bearer {mn.token(Role.PARTNER, partner_authority='KZ')}"}
    assert_problem(mn.client.get(f"/v1/webhooks/{webhook['id']}/deliveries", headers=kz), 404)
    answer = mn.client.get(
        f"/v1/webhooks/{webhook['id']}/deliveries",
        params={"state": "sent"},
        headers=partner,
    )
    assert assert_problem(answer, 422)["errors"][0]["field"] == "query.state"


def test_the_delivery_log_shows_each_attempt_newest_first_with_its_outcome_and_latency(
    mn: ChainApp,
    partner: dict[str, str],
    receiver: Receiver,
    clock: Clock,
    dispatcher: DispatcherFactory,
) -> None:
    webhook, expected = subscribe(mn, partner, receiver, events=1)
    worker = dispatcher(timeout=0.5)
    started = [clock.now]
    worker.run_once()  # refused: the receiver is down
    receiver.plan = [503, "hold"]
    receiver.up()
    for _ in range(3):  # 503, then no answer within 0.5 s, then 200
        clock.advance()
        started.append(clock.now)
        worker.run_once()

    [delivery] = deliveries(mn, partner, webhook["id"])
    assert (delivery["event_id"], delivery["state"], delivery["attempts"]) == (
        expected[0],
        "delivered",
        4,
    )
    log = delivery["recent_attempts"]
    assert [(a["outcome"], a["status_code"]) for a in log] == [
        ("delivered", 200),
        ("timeout", None),
        ("http_error", 503),
        ("network_error", None),
    ]
    assert [a["error"] for a in log] == [None, "timeout", "http_status", "connection_refused"]
    assert [datetime.fromisoformat(a["attempted_at"]) for a in log] == started[::-1]
    assert all(a["latency_ms"] > 0 for a in log)
    assert log[1]["latency_ms"] >= 500  # it waited the whole timeout
    assert delivery["last_latency_ms"] == log[0]["latency_ms"]


def test_the_delivery_log_keeps_the_latest_attempts_and_counts_them_all(
    mn: ChainApp,
    partner: dict[str, str],
    receiver: Receiver,
    clock: Clock,
    dispatcher: DispatcherFactory,
) -> None:
    webhook, _expected = subscribe(mn, partner, receiver, events=1)
    failures = RECENT_ATTEMPTS + 2
    receiver.plan = list(range(500, 500 + failures))  # a different status per attempt
    receiver.up()
    worker = dispatcher()
    for _ in range(failures):
        worker.run_once()
        clock.advance()

    [delivery] = deliveries(mn, partner, webhook["id"])
    assert (delivery["state"], delivery["attempts"]) == ("pending", failures)
    shown = [a["status_code"] for a in delivery["recent_attempts"]]
    assert shown == list(range(500 + failures - 1, 501, -1))
    assert len(shown) == RECENT_ATTEMPTS
    assert delivery["last_status_code"] == shown[0]


def test_deleting_a_webhook_deletes_its_attempts_and_no_other(
    mn: ChainApp, partner: dict[str, str], receiver: Receiver, dispatcher: DispatcherFactory
) -> None:
    first, _ = subscribe(mn, partner, receiver, events=2)
    second = register(mn, partner, receiver.url)
    shared_events(mn, 1, first=10)  # the only entry recorded since the second registered
    receiver.up()
    assert dispatcher().run_once().delivered == 4
    with mn.session() as session:
        assert session.scalar(sa.select(sa.func.count(WebhookDeliveryAttempt.id))) == 4

    assert mn.client.delete(f"/v1/webhooks/{first['id']}", headers=partner).status_code == 204
    with mn.session() as session:
        assert session.scalar(sa.select(sa.func.count(WebhookDeliveryAttempt.id))) == 1
    [kept] = deliveries(mn, partner, second["id"])
    assert [a["outcome"] for a in kept["recent_attempts"]] == ["delivered"]


def test_webhook_and_stream_settings_come_from_their_aeo_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defaults = Settings(authority="MN")
    assert (
        defaults.webhook_timeout,
        defaults.webhook_backoff_base,
        defaults.webhook_backoff_cap,
        defaults.webhook_disable_after_failures,
        defaults.webhook_poll_interval,
        defaults.webhook_batch,
        defaults.webhook_workers,
    ) == (10.0, 5.0, 3600.0, 80, 1.0, 100, 4)
    assert (
        defaults.feed_stream_poll_interval,
        defaults.feed_stream_heartbeat,
        defaults.feed_stream_max_seconds,
    ) == (1.0, 15.0, 900.0)

    monkeypatch.setenv("AEO_AUTHORITY", "KZ")
    monkeypatch.setenv("AEO_WEBHOOK_TIMEOUT", "2.5")
    monkeypatch.setenv("AEO_WEBHOOK_DISABLE_AFTER_FAILURES", "7")
    monkeypatch.setenv("AEO_FEED_STREAM_HEARTBEAT", "30")
    settings = Settings()  # type: ignore[call-arg]  # from the environment
    assert (settings.webhook_timeout, settings.webhook_disable_after_failures) == (2.5, 7)
    assert settings.feed_stream_heartbeat == 30.0

    assert defaults.webhook_allowed_networks == ()
    monkeypatch.setenv("AEO_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.1/32, 10.20.0.0/16 ::1/128")
    allowed = Settings().webhook_allowed_networks  # type: ignore[call-arg]
    assert [str(network) for network in allowed] == ["127.0.0.1/32", "10.20.0.0/16", "::1/128"]
    monkeypatch.setenv("AEO_WEBHOOK_ALLOWED_NETWORKS", '["192.168.4.0/24"]')
    allowed = Settings().webhook_allowed_networks  # type: ignore[call-arg]
    assert [str(network) for network in allowed] == ["192.168.4.0/24"]
    for wrong in ("10.0.0.1/8", "loopback", "[1"):
        monkeypatch.setenv("AEO_WEBHOOK_ALLOWED_NETWORKS", wrong)
        with pytest.raises(ValueError, match="webhook_allowed_networks"):
            Settings()  # type: ignore[call-arg]
    monkeypatch.delenv("AEO_WEBHOOK_ALLOWED_NETWORKS")

    monkeypatch.setenv("AEO_WEBHOOK_WORKERS", "0")
    with pytest.raises(ValueError, match="webhook_workers"):
        Settings()  # type: ignore[call-arg]


def test_a_webhook_stops_receiving_a_certificate_once_it_leaves_the_partners_cover(
    mn: ChainApp, partner: dict[str, str], receiver: Receiver, dispatcher: DispatcherFactory
) -> None:
    register(mn, partner, receiver.url)
    expected = out_of_cover_and_back(mn)
    receiver.up()
    report = dispatcher().run_once()
    assert report.delivered == len(expected)
    assert [(r.entry["kind"], r.entry["tiers"]) for r in receiver.received] == expected
