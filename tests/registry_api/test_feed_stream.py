"""The live feed (Server-Sent Events) over real HTTP: it replays from a cursor or from
Last-Event-ID, then delivers what the indexer records next, with heartbeats between."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest

from contracts.domain import ids
from contracts.domain.enums import ReasonCode
from registry_api.db import Role
from registry_api.services.feed import FeedStreamSettings

from .conftest import ChainApp, ChainAppFactory
from .feed_support import ApiServer, S, issue, propose_mra, sse_events
from .support import assert_problem
from .test_feed_pagination import out_of_cover_and_back

# Slow, so not in `make test-fast` (`make test` runs it): live streams with their time limits.
pytestmark = pytest.mark.slow

WAIT = 30.0  # seconds: a bound for a broken stream, never reached when it works


@pytest.fixture
def mn(chain_app: ChainAppFactory) -> ChainApp:
    service = chain_app("MN")
    # Poll and beat often, so an idle stream shows a heartbeat within the test.
    service.app.state.feed_stream = FeedStreamSettings(
        stream_poll_interval=0.05, stream_heartbeat=0.2
    )
    propose_mra(service.consortium, "MN", {"MN": S, "KR": S})
    issue(service.consortium, "MN-1", S)
    service.settle()
    return service


class Stream:
    """Reads one SSE response in a thread; the test takes parsed events from ``events``."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        headers = {"Accept": "text/event-stream"} | headers
        self.ended = threading.Event()
        self.events: queue.Queue[dict[str, str]] = queue.Queue()
        self.status: queue.Queue[int] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url, headers), daemon=True)
        self._thread.start()

    def _read(self, url: str, headers: dict[str, str]) -> None:
        try:
            with (
                httpx.Client(timeout=WAIT) as client,
                client.stream("GET", url, headers=headers) as response,
            ):
                self.status.put(response.status_code)
                lines: Iterator[str] = response.iter_lines()
                for event in sse_events(lines):
                    self.events.put(event)
                    if self._stop.is_set():
                        return  # heartbeats keep arriving, so this is reached soon
        finally:
            self.ended.set()

    def next(self, *, skip_comments: bool = True) -> dict[str, str]:
        while True:
            event = self.events.get(timeout=WAIT)
            if not (skip_comments and "comment" in event):
                return event

    def close(self) -> None:
        self._stop.set()
        self._thread.join(WAIT)


def entries(service: ChainApp, headers: dict[str, str]) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = service.client.get(
        "/v1/feed", params={"limit": 500}, headers=headers
    ).json()["data"]
    return body


def test_the_stream_replays_then_delivers_a_new_event(mn: ChainApp) -> None:
    token = mn.token(Role.PARTNER, partner_authority="KR")
    headers = {"Authorization": f"Bearer {token}"}
    shared = entries(mn, headers)
    assert shared
    with ApiServer(mn.app) as server:
        stream = Stream(f"{server.url}/v1/feed/stream?after=0", headers)
        try:
            assert stream.status.get(timeout=WAIT) == 200
            assert stream.next() == {"retry": "3000"}
            for expected in shared:
                event = stream.next()
                assert event["id"] == str(expected["sequence"])
                assert event["event"] == expected["kind"]
                assert json.loads(event["data"]) == expected
            assert "comment" in stream.next(skip_comments=False)  # idle: a heartbeat

            mn.consortium.operator("MN").suspend(
                ids.certificate_id("MN", "MN-1"), ReasonCode.FAILED_AUDIT
            )
            mn.settle()
            event = stream.next()
            assert event["event"] == "certificate.suspended"
            assert int(event["id"]) > shared[-1]["sequence"]
        finally:
            stream.close()


def test_a_reconnection_resumes_after_last_event_id(mn: ChainApp) -> None:
    headers = mn.headers(Role.AUDITOR)
    everything = entries(mn, headers)
    resume_after = everything[-3]["sequence"]
    with ApiServer(mn.app) as server:
        stream = Stream(
            f"{server.url}/v1/feed/stream?after=0",
            headers | {"Last-Event-ID": str(resume_after)},
        )
        try:
            assert stream.status.get(timeout=WAIT) == 200
            stream.next()  # retry
            received = [int(stream.next()["id"]) for _ in range(2)]
            assert received == [e["sequence"] for e in everything[-2:]]
        finally:
            stream.close()


def test_without_a_cursor_the_stream_starts_at_the_head(mn: ChainApp) -> None:
    headers = mn.headers(Role.AUDITOR)
    head = entries(mn, headers)[-1]["sequence"]
    with ApiServer(mn.app) as server:
        stream = Stream(f"{server.url}/v1/feed/stream", headers)
        try:
            assert stream.status.get(timeout=WAIT) == 200
            stream.next()  # retry
            assert "comment" in stream.next(skip_comments=False)  # nothing replayed
            issue(mn.consortium, "MN-2", S)
            mn.settle()
            event = stream.next()
            assert int(event["id"]) > head
            assert event["event"] == "certificate.issued"
        finally:
            stream.close()


def test_the_stream_ends_when_the_key_is_revoked_or_its_time_is_up(mn: ChainApp) -> None:
    admin = mn.headers(Role.ADMIN)
    created = mn.client.post(
        "/v1/admin/api-keys",
        json={"user": "KR risk unit", "role": "partner", "partner_authority": "KR"},
        headers=admin,
    ).json()
    with ApiServer(mn.app) as server:
        stream = Stream(
            f"{server.url}/v1/feed/stream", {"Authorization": f"Bearer {created['token']}"}
        )
        try:
            assert stream.status.get(timeout=WAIT) == 200
            stream.next()  # retry
            assert mn.client.delete(f"/v1/admin/api-keys/{created['id']}", headers=admin)
            assert stream.ended.wait(WAIT)
        finally:
            stream.close()

        mn.app.state.feed_stream = FeedStreamSettings(
            stream_poll_interval=0.05, stream_heartbeat=0.2, stream_max_seconds=0.5
        )
        stream = Stream(f"{server.url}/v1/feed/stream", mn.headers(Role.AUDITOR))
        try:
            assert stream.ended.wait(WAIT)  # the client reconnects with Last-Event-ID
        finally:
            stream.close()


def test_a_client_that_does_not_ask_for_an_event_stream_gets_406(mn: ChainApp) -> None:
    answer = mn.client.get("/v1/feed/stream", headers=mn.headers(Role.AUDITOR))
    body = assert_problem(answer, 406, "not-acceptable")
    assert body["errors"] == [
        {"field": "header.Accept", "message": "must include text/event-stream"}
    ]


def test_a_bad_last_event_id_or_no_key_is_refused_before_streaming(mn: ChainApp) -> None:
    answer = mn.client.get(
        "/v1/feed/stream",
        headers=mn.headers(Role.AUDITOR, **{"Last-Event-ID": "abc", "Accept": "text/event-stream"}),
    )
    assert assert_problem(answer, 422)["errors"][0]["field"] == "header.Last-Event-ID"
    assert_problem(mn.client.get("/v1/feed/stream"), 401)
    assert_problem(mn.client.get("/v1/feed/stream", headers=mn.headers(Role.BORDER_OFFICER)), 403)


def test_the_stream_leaves_out_what_a_partner_stopped_being_covered_for(mn: ChainApp) -> None:
    token = mn.token(Role.PARTNER, partner_authority="KR")
    headers = {"Authorization": f"Bearer {token}"}
    with ApiServer(mn.app) as server:
        stream = Stream(f"{server.url}/v1/feed/stream", headers)
        try:
            assert stream.status.get(timeout=WAIT) == 200
            stream.next()  # retry
            expected = out_of_cover_and_back(mn)
            issue(mn.consortium, "MN-21", S)  # the end of this test's events
            mn.settle()
            seen: list[tuple[str, int]] = []
            while True:
                entry = json.loads(stream.next()["data"])
                if entry["number"] == "MN-21":
                    break
                seen.append((entry["kind"], entry["tiers"]))
            assert seen == expected
        finally:
            stream.close()
