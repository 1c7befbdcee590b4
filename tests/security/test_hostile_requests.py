"""Hostile requests against the servers as they run: each server is its own process, started
through its real entry point (``python -m registry_api serve``, ``aeo verifier serve``), which
imports the chain libraries that once raised Python's recursion limit to 100,000.

Every request here once crashed a server (a segmentation fault) or made it read, parse or
spool far more than it needed before refusing. Each test asserts the refusal and that the
server still answers ``/healthz``; the memory tests read the server's peak RSS from /proc.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from aeo.bench.hostile import (
    MIB,
    Answer,
    PeakSampler,
    Server,
    border_page_server,
    exchange,
    nested_arrays,
    pieces,
    registry_server,
    repeated,
)

# Slow, so not in `make test-fast` (`make test` runs it): real server processes.
pytestmark = pytest.mark.slow

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def registry_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = registry_server(tmp_path_factory.mktemp("registry"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def page_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = border_page_server(tmp_path_factory.mktemp("page"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _running(server: Server) -> Server:
    # One test's crash must not fail the next one: each starts with a live server.
    if not server.alive():
        server.stop()
        server.start()
    return server


@pytest.fixture
def registry(registry_process: Server) -> Server:
    return _running(registry_process)


@pytest.fixture
def page(page_process: Server) -> Server:
    return _running(page_process)


def post(
    server: Server,
    path: str,
    body: bytes,
    *,
    chunked: bool = False,
    key: bool = False,
    content_type: str = "application/json",
) -> Answer:
    headers = {"Content-Type": content_type}
    if key:
        assert server.token is not None
        headers |= {"Authorization": f"Bearer {server.token}", "Idempotency-Key": path + "-1"}
    return exchange(
        server.port,
        "POST",
        path,
        headers,
        pieces(body),
        chunked=chunked,
        length=None if chunked else len(body),
    )


def assert_still_serving(server: Server) -> None:
    assert server.alive(), f"{server.name} died:\n" + (
        server.child.log_tail() if server.child else ""
    )
    assert exchange(server.port, "GET", "/healthz").status == 200


def assert_refused(answer: Answer, status: int, problem: str) -> dict[str, object]:
    assert answer.status == status, (answer.status, answer.error, answer.body[:300])
    assert answer.headers["content-type"] == PROBLEM
    assert answer.problem() == problem
    body: dict[str, object] = answer.json()
    return body


def peak_mb_above_idle(sampler: PeakSampler, server: Server) -> float:
    return (sampler.peak_kib - server.idle_rss_kib) / 1024


# ---------------------------------------------------------------- nesting: no crash


def test_seventy_thousand_nested_arrays_without_a_key_leave_the_registry_api_serving(
    registry: Server,
) -> None:
    answer = post(registry, "/v1/certificates", nested_arrays(70_000))
    assert_refused(answer, 422, "invalid")
    assert_still_serving(registry)


def test_an_import_file_of_seventy_thousand_nested_arrays_leaves_the_registry_api_serving(
    registry: Server,
) -> None:
    body = assert_refused(
        post(registry, "/v1/imports", nested_arrays(70_000), key=True), 422, "invalid"
    )
    assert body["errors"] == [
        {"field": "body.file", "message": "nests arrays and objects more than 64 levels deep"}
    ]
    assert_still_serving(registry)


def test_json_nested_deeper_than_64_levels_is_refused_before_it_is_parsed(
    registry: Server,
) -> None:
    body = assert_refused(post(registry, "/v1/certificates", nested_arrays(30_000)), 422, "invalid")
    assert body["errors"] == [
        {"field": "body", "message": "nests arrays and objects more than 64 levels deep"}
    ]
    assert_still_serving(registry)


def test_ninety_thousand_nested_arrays_as_text_leave_the_border_page_serving(
    page: Server,
) -> None:
    answer = post(page, "/api/verify", b'{"text": ' + nested_arrays(90_000) + b"}")
    assert_refused(answer, 413, "too_large")
    assert_still_serving(page)


def test_deep_json_within_the_border_pages_size_limit_is_refused_before_it_is_parsed(
    page: Server,
) -> None:
    answer = post(page, "/api/verify", b'{"text": ' + nested_arrays(30_000) + b"}")
    body = assert_refused(answer, 400, "invalid_json")
    assert "more than 64 levels deep" in str(body["detail"])
    assert_still_serving(page)


# ---------------------------------------------------------------- size: refused early


def test_a_30_mb_json_body_without_a_key_is_refused_unread(registry: Server) -> None:
    document = b"[" + b'{"a":1},' * 3_750_000 + b"{}]"
    with PeakSampler(registry.pid) as sampler:
        answer = post(registry, "/v1/certificates", document)
    body = assert_refused(answer, 413, "too-large")
    assert body["max_bytes"] == MIB
    # It once read and parsed all of it before answering 401: 780 MB above idle.
    assert peak_mb_above_idle(sampler, registry) < 50
    assert_still_serving(registry)


def test_a_30_mb_json_body_sent_without_a_length_is_refused_at_the_limit(
    registry: Server,
) -> None:
    document = b"[" + b'{"a":1},' * 3_750_000 + b"{}]"
    with PeakSampler(registry.pid) as sampler:
        answer = post(registry, "/v1/certificates", document, chunked=True)
    assert_refused(answer, 413, "too-large")
    assert peak_mb_above_idle(sampler, registry) < 50
    assert_still_serving(registry)


def test_eight_mib_of_empty_objects_without_a_key_are_refused_before_parsing(
    registry: Server,
) -> None:
    document = b"[" + b"{}," * (8 * MIB // 3 - 1) + b"{}]"
    with PeakSampler(registry.pid) as sampler:
        answer = post(registry, "/v1/mras", document)
    body = assert_refused(answer, 422, "invalid")
    assert body["errors"] == [
        {
            "field": "body",
            "message": "has more than 100,000 items (array elements and object members)",
        }
    ]
    # Parsed, they took 224 MB before the 401.
    assert peak_mb_above_idle(sampler, registry) < 100
    assert_still_serving(registry)


# ---------------------------------------------------------------- imports


def test_an_import_of_ten_million_items_stops_reading_at_the_row_limit(registry: Server) -> None:
    document = b"[" + b"0," * 9_999_999 + b"0]"
    with PeakSampler(registry.pid) as sampler:
        answer = post(registry, "/v1/imports", document, key=True)
    body = assert_refused(answer, 422, "invalid")
    assert body["errors"] == [
        {"field": "body.file", "message": "has more than 50,000 rows; at most 50,000 per file"}
    ]
    # Parsed whole, the list and its 10 M rows took 3.5 GB.
    assert peak_mb_above_idle(sampler, registry) < 150
    assert_still_serving(registry)


def test_an_import_streamed_without_a_length_is_refused_once_past_the_limit(
    registry: Server, tmp_path: Path
) -> None:
    head = (
        b'--hostile\r\nContent-Disposition: form-data; name="file"; filename="list.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n"
    )
    endless = repeated(b"0" * 4096, 1024 * MIB, head, b"\r\n--hostile--\r\n")
    with PeakSampler(registry.pid) as sampler:
        answer = exchange(
            registry.port,
            "POST",
            "/v1/imports",
            {
                "Content-Type": "multipart/form-data; boundary=hostile",
                "Authorization": f"Bearer {registry.token}",
                "Idempotency-Key": "chunked-1",
            },
            endless,
            chunked=True,
        )
    body = assert_refused(answer, 413, "too-large")
    assert body["max_bytes"] == 20 * MIB + 64 * 1024
    # It answered while the body was still coming: the client stopped long before 1 GiB.
    assert answer.sent_bytes < 200 * MIB
    assert peak_mb_above_idle(sampler, registry) < 150
    assert_still_serving(registry)


def test_a_refused_body_is_answered_as_json_with_the_route_limit(registry: Server) -> None:
    answer = post(registry, "/v1/certificates", b" " * (MIB + 1))
    body = assert_refused(answer, 413, "too-large")
    assert body["detail"] == "body: is larger than 1 MiB, the most this route accepts"
    assert json.loads(answer.body)["instance"] == "/v1/certificates"
