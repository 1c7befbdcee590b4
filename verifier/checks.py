"""Border checks counted where they happen: verifications per day and verdict.

``aeo verify`` and the border page count every verdict they give in a small SQLite file
beside the offline cache (``verifier-checks.sqlite``): the UTC day, the outcome and a count,
nothing else (no holder data, no certificate number, no payload). The border page sends the
counts to its administration's registry when it can reach it (``POST /v1/kpis/border-checks``,
docs/api.md "KPIs"): it sends running totals, which the registry stores in place of what it
had, so a report repeated after a lost answer or a restart never counts a check twice.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx

from verifier.verdict import Outcome

logger = logging.getLogger(__name__)

#: the file's name, beside the offline cache in the verifier's data directory
CHECKS_FILE_NAME = "verifier-checks.sqlite"
#: how many days back a report covers (a post offline for longer sends its last 30 days)
REPORT_DAYS = 30
#: the registry's limit on the counts of one report (schemas.kpis.MAX_REPORTED_COUNTS)
MAX_REPORTED_COUNTS = 5000
REPORT_PATH = "/v1/kpis/border-checks"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS checks (
    day TEXT NOT NULL,
    verdict TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (day, verdict)
)
"""


def checks_path_beside(cache_path: Path) -> Path:
    """Where the counts live for a verifier whose offline cache is ``cache_path``."""
    return cache_path.with_name(CHECKS_FILE_NAME)


@dataclass(frozen=True, slots=True)
class DayCount:
    day: date
    verdict: Outcome
    count: int


class CheckCounter:
    """The counts in the file at ``path`` (created on first use). Thread-safe, and safe for
    several processes at once (SQLite serializes the writers)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=10)) as connection, connection:
            connection.execute(_SCHEMA)
            yield connection

    def count(self, verdict: Outcome, when: datetime) -> None:
        """Add one check with ``verdict`` on the UTC day of ``when``."""
        day = when.astimezone(UTC).date().isoformat()
        with self._lock, self._connect() as connection:
            connection.execute(
                "INSERT INTO checks (day, verdict, count) VALUES (?, ?, 1) "
                "ON CONFLICT (day, verdict) DO UPDATE SET count = count + 1",
                (day, verdict.value),
            )

    def counts(self, since: date | None = None) -> list[DayCount]:
        """The counts from ``since`` on (all without it), by day then verdict."""
        if not self.path.is_file():
            return []
        with self._lock, self._connect() as connection:
            rows = connection.execute(
                "SELECT day, verdict, count FROM checks WHERE day >= ? ORDER BY day, verdict",
                ((since or date.min).isoformat(),),
            ).fetchall()
        answer = []
        for day, verdict, count in rows:
            try:
                answer.append(DayCount(date.fromisoformat(day), Outcome(verdict), int(count)))
            except ValueError:
                # A row this version does not know (written by a newer verifier): skipped,
                # not a reason to stop counting or reporting the others.
                continue
        return answer

    def report_body(self, post: str, today: date) -> dict[str, Any]:
        """The report of the last :data:`REPORT_DAYS` days, as the registry takes it."""
        since = today - timedelta(days=REPORT_DAYS - 1)
        counts = self.counts(since)[-MAX_REPORTED_COUNTS:]
        return {
            "post": post,
            "counts": [
                {"day": c.day.isoformat(), "verdict": c.verdict.value, "count": c.count}
                for c in counts
            ],
        }


class _Answer(Protocol):
    @property
    def status_code(self) -> int: ...


class HttpClient(Protocol):
    """What :meth:`Reporter.report` needs of an HTTP client (``httpx.Client`` has it; so
    does a test client of the registry app); a given client brings its own timeouts."""

    def post(self, url: str, *, json: Any, headers: dict[str, str]) -> _Answer: ...


@dataclass(frozen=True, slots=True)
class Reporter:
    """Sends a counter's running totals to the registry of the page's administration with a
    ``border_officer`` API key."""

    counter: CheckCounter
    registry_url: str
    token: str
    post: str
    timeout: float = 10.0

    def report(self, today: date, client: HttpClient | None = None) -> bool:
        """Send the report; True when the registry stored it. Never raises for a registry
        that cannot be reached or refuses (the page works offline; the next report
        carries the same totals)."""
        body = self.counter.report_body(self.post, today)
        if not body["counts"]:
            return True
        url = self.registry_url.rstrip("/") + REPORT_PATH
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            if client is not None:
                answer = client.post(url, json=body, headers=headers)
            else:
                with httpx.Client(timeout=self.timeout) as own:
                    answer = own.post(url, json=body, headers=headers)
        except (httpx.HTTPError, OSError) as exc:
            logger.info("border-check counts not reported (will retry): %s", type(exc).__name__)
            return False
        if answer.status_code != 200:
            logger.warning(
                "the registry refused the border-check counts: HTTP %s", answer.status_code
            )
            return False
        return True
