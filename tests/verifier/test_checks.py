"""Border checks counted where they happen: per day and verdict, nothing else; by
``aeo verify`` (run_verify) and by the border page; reports that never raise."""

from __future__ import annotations

import io
import socket
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.verifier.world import NOW, World, build_world
from verifier.checks import CHECKS_FILE_NAME, CheckCounter, DayCount, Reporter, checks_path_beside
from verifier.cli import run_verify
from verifier.offline import OfflineCache
from verifier.verdict import Outcome
from verifier.web.app import create_app

from .web.world import NOW as PAGE_NOW, VERIFIER, World as PageWorld, build_world as page_world

DAY = datetime(2026, 5, 20, 23, 59, tzinfo=UTC)


def test_each_verdict_is_counted_under_its_utc_day(tmp_path: Path) -> None:
    counter = CheckCounter(tmp_path / "sub" / CHECKS_FILE_NAME)
    counter.count(Outcome.RECOGNIZED, DAY)
    counter.count(Outcome.RECOGNIZED, DAY)
    counter.count(Outcome.SUSPENDED, DAY)
    # 00:30 in Ulaanbaatar (UTC+8) on the 21st is still the 20th in UTC.
    counter.count(Outcome.RECOGNIZED, datetime.fromisoformat("2026-05-21T00:30:00+08:00"))
    counter.count(Outcome.RECOGNIZED, DAY + timedelta(minutes=1))
    assert counter.counts() == [
        DayCount(date(2026, 5, 20), Outcome.RECOGNIZED, 3),
        DayCount(date(2026, 5, 20), Outcome.SUSPENDED, 1),
        DayCount(date(2026, 5, 21), Outcome.RECOGNIZED, 1),
    ]
    assert counter.counts(since=date(2026, 5, 21)) == [
        DayCount(date(2026, 5, 21), Outcome.RECOGNIZED, 1)
    ]


def test_the_file_holds_a_day_a_verdict_and_a_count_and_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / CHECKS_FILE_NAME
    CheckCounter(path).count(Outcome.NOT_RECOGNIZED, DAY)
    with sqlite3.connect(path) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master")]
        columns = [row[1] for row in connection.execute("PRAGMA table_info(checks)")]
        rows = connection.execute("SELECT * FROM checks").fetchall()
    connection.close()
    assert [t for t in tables if not t.startswith("sqlite_")] == ["checks"]
    assert columns == ["day", "verdict", "count"]
    assert rows == [("2026-05-20", "not_recognized", 1)]


def test_an_unknown_verdict_in_the_file_is_skipped_not_fatal(tmp_path: Path) -> None:
    counter = CheckCounter(tmp_path / CHECKS_FILE_NAME)
    counter.count(Outcome.RECOGNIZED, DAY)
    with sqlite3.connect(counter.path) as connection:
        connection.execute("INSERT INTO checks VALUES ('2026-05-20', 'from_the_future', 4)")
    connection.close()
    assert counter.counts() == [DayCount(date(2026, 5, 20), Outcome.RECOGNIZED, 1)]


def test_a_report_covers_the_last_thirty_days(tmp_path: Path) -> None:
    counter = CheckCounter(tmp_path / CHECKS_FILE_NAME)
    today = date(2026, 5, 31)
    for days_ago in (0, 29, 30):
        counter.count(Outcome.RECOGNIZED, datetime.combine(today, datetime.min.time(), UTC)
                      - timedelta(days=days_ago))  # fmt: skip
    body = counter.report_body("Zamyn-Uud road", today)
    assert body == {
        "post": "Zamyn-Uud road",
        "counts": [
            {"day": "2026-05-02", "verdict": "recognized", "count": 1},
            {"day": "2026-05-31", "verdict": "recognized", "count": 1},
        ],
    }


def test_the_counts_live_beside_the_offline_cache(tmp_path: Path) -> None:
    assert checks_path_beside(tmp_path / "verifier-cache.sqlite") == tmp_path / CHECKS_FILE_NAME


def test_a_registry_that_cannot_be_reached_is_reported_to_later_without_an_error(
    tmp_path: Path,
) -> None:
    counter = CheckCounter(tmp_path / CHECKS_FILE_NAME)
    counter.count(Outcome.RECOGNIZED, DAY)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    reporter = Reporter(counter, f"http://127.0.0.1:{port}", "aeo_test_token", "post", 2.0)
    assert reporter.report(DAY.date()) is False


def test_nothing_to_report_sends_nothing(tmp_path: Path) -> None:
    reporter = Reporter(CheckCounter(tmp_path / CHECKS_FILE_NAME), "http://0.0.0.0:1", "t", "p")
    assert reporter.report(DAY.date()) is True


# ---------------------------------------------------------------- aeo verify


@pytest.fixture
def world() -> World:
    return build_world()


def test_aeo_verify_counts_the_verdict_it_prints(world: World, tmp_path: Path) -> None:
    counter = CheckCounter(tmp_path / CHECKS_FILE_NAME)
    for as_authority in ("KR", "KZ", "KR"):
        run_verify(world.text(), as_authority, world.source, NOW, False, out=io.StringIO(),
                   checks=counter)  # fmt: skip
    run_verify("AEO1:garbage", "KR", world.source, NOW, True, out=io.StringIO(), checks=counter)
    assert counter.counts() == [
        DayCount(NOW.date(), Outcome.MALFORMED, 1),
        DayCount(NOW.date(), Outcome.NOT_RECOGNIZED, 1),
        DayCount(NOW.date(), Outcome.RECOGNIZED, 2),
    ]


def test_a_bad_argument_is_not_a_check(world: World, tmp_path: Path) -> None:
    counter = CheckCounter(tmp_path / CHECKS_FILE_NAME)
    code = run_verify(world.text(), "kr!", world.source, NOW, False, out=io.StringIO(),
                      checks=counter)  # fmt: skip
    assert code == 2
    assert counter.counts() == []


# ---------------------------------------------------------------- the border page


@pytest.fixture(scope="module")
def page_world_fixture(tmp_path_factory: pytest.TempPathFactory) -> PageWorld:
    return page_world(tmp_path_factory.mktemp("checks-page"))


def test_the_border_page_counts_each_verdict_it_answers(
    page_world_fixture: PageWorld, tmp_path: Path
) -> None:
    counter = CheckCounter(tmp_path / CHECKS_FILE_NAME)
    with OfflineCache(page_world_fixture.cache_path) as cache:
        page = create_app(lambda: cache, VERIFIER, clock=PAGE_NOW, checks=counter)
        with TestClient(page) as client:
            for name in ("recognized", "recognized", "not_recognized"):
                answer = client.post("/api/verify", json={"text": page_world_fixture.texts[name]})
                assert answer.status_code == 200
            # A refused request (no text) is no check.
            assert client.post("/api/verify", json={}).status_code == 422
    assert counter.counts() == [
        DayCount(PAGE_NOW.date(), Outcome.NOT_RECOGNIZED, 1),
        DayCount(PAGE_NOW.date(), Outcome.RECOGNIZED, 2),
    ]
