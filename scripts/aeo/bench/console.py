"""``aeo bench console``: how long the console's certificate search and a certificate's page
take on a registry of a million certificates.

The registry is the shared bench registry (:func:`aeo.bench.data.bench_registry`:
``certificates`` certificates with three events each and three years of history, filled once
into a cache directory and copied for each run; ``seed_seconds`` is 0 when it was reused).
The registry app runs in this process (no workers, no network), an auditor signs in through
the console's own sign-in page, and each request goes through the whole app (middleware,
session, role check, query, template) by an in-process ASGI client (Starlette's TestClient):
the time measured is the server's, plus well under a millisecond of client.

The searches are a mix an AEO unit makes: the first page, by status, by tier, by number, by
the holder's identifier, a common part of a holder's name, and a page deep in the list
(keyset: after a random number). ``search_holder_name_rare_p95_ms`` is the worst case, a
part of a name that few holders have, which reads the whole name column (a substring
search has no index). ``dashboard_figures_median_ms``: the home page's figures, which the
page loads after itself.
"""

from __future__ import annotations

import random
import re
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr
from rich.console import Console

from aeo.bench.common import BenchError, Report, ms, percentile, stepper
from aeo.bench.data import ISSUER, bench_registry, number_of
from registry_api.app import create_app
from registry_api.console.accounts import add_local_person
from registry_api.console.passwords import Passwords
from registry_api.console.roles import RoleTarget
from registry_api.db import Role
from registry_api.settings import ChainKind, Settings

_WARM_UP = 5
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_COMMON_NAME_PART = "logistics"


def _search_paths(size: int, picker: random.Random) -> list[Callable[[], str]]:
    def pick() -> int:
        return picker.randrange(size)

    base = "/console/certificates"
    return [
        lambda: base,
        lambda: f"{base}?status=active",
        lambda: f"{base}?tier=2",
        lambda: f"{base}?number={number_of(pick())}",
        lambda: f"{base}?holder_id=TIN:{5000000 + pick()}",
        lambda: f"{base}?holder_name={_COMMON_NAME_PART}",
        lambda: f"{base}?after={number_of(pick())}",
        lambda: f"{base}?status=active&tier=1&after={number_of(pick())}",
    ]


def _signed_in(client: TestClient, app_state: object, name: str) -> None:
    """An auditor (reads certificates) added to the database, signed in through the page."""
    password = secrets.token_urlsafe(18)
    passwords = Passwords()
    factory = app_state.session_factory  # type: ignore[attr-defined]
    with factory() as session:
        person = add_local_person(
            session,
            name=name,
            target=RoleTarget(Role.AUDITOR),
            password_hash=passwords.hash(password),
            now=datetime.now(UTC),
            display_name="Bench Auditor",
        )
        person.password_change_required = False
        session.commit()
    page = client.get("/console/sign-in")
    token = _CSRF.search(page.text)
    if token is None:
        raise BenchError("the sign-in page has no CSRF field")
    answer = client.post(
        "/console/sign-in",
        data={"name": name, "password": password, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    if answer.status_code != 303:
        raise BenchError(f"signing in failed: {answer.status_code}")


def _timed(client: TestClient, paths: list[Callable[[], str]], count: int) -> list[float]:
    latencies = []
    for i in range(count + _WARM_UP):
        path = paths[i % len(paths)]()
        started = time.perf_counter()
        answer = client.get(path)
        elapsed = time.perf_counter() - started
        if answer.status_code != 200:
            raise BenchError(f"GET {path} answered {answer.status_code}")
        if i >= _WARM_UP:
            latencies.append(elapsed)
    return latencies


def run(
    *,
    certificates: int = 1_000_000,
    requests: int = 400,
    console: Console | None = None,
    fresh: bool = False,
    cache_dir: Path | None = None,
) -> Report:
    if certificates < 1 or requests < 1:
        raise BenchError("certificates and requests must be at least 1")
    picker = random.Random(certificates)  # noqa: S311 - spreading reads, not security
    with tempfile.TemporaryDirectory(prefix="aeo-bench-console-") as tmp:
        folder = Path(tmp)
        label = f"filling {certificates:,} certificates"
        with stepper(console, label, certificates) as step:
            registry = bench_registry(
                folder,
                certificates,
                3 * certificates,
                cache_dir=cache_dir,
                fresh=fresh,
                on_progress=lambda done: step(label, done),
            )
        db_url = registry.url
        seed_seconds = registry.seed_seconds
        settings = Settings(
            authority=ISSUER,
            data_dir=folder / "data",
            database_url=db_url,
            chain=ChainKind.MEMORY,
            run_workers=False,
            log_level="WARNING",
            rate_limit_per_minute=1_000_000_000,
            rate_limit_burst=1_000_000_000,
            # generated for this run: the console derives its cookie keys from it
            passphrase=SecretStr(secrets.token_urlsafe(24)),
        )
        app = create_app(settings)
        with TestClient(app) as client, stepper(console, "measuring the pages", None):
            _signed_in(client, app.state, "bench-auditor")
            searches = _timed(client, _search_paths(certificates, picker), requests)
            rare = _timed(
                client,
                [
                    lambda: (
                        f"/console/certificates?holder_name=trade+llc+{picker.randrange(certificates)}"
                    )
                ],
                max(10, requests // 20),
            )
            pages = _timed(
                client,
                [lambda: f"/console/certificates/{number_of(picker.randrange(certificates))}"],
                requests,
            )
            home = _timed(client, [lambda: "/console/"], max(10, requests // 20))
            figures = _timed(client, [lambda: "/console/dashboard"], 5)
    return {
        "search_p95_ms": ms(percentile(searches, 95)),
        "certificate_page_p95_ms": ms(percentile(pages, 95)),
        "search_p50_ms": ms(percentile(searches, 50)),
        "certificate_page_p50_ms": ms(percentile(pages, 50)),
        "search_holder_name_rare_p95_ms": ms(percentile(rare, 95)),
        "home_p50_ms": ms(statistics.median(home)),
        "dashboard_figures_median_ms": ms(statistics.median(figures)),
        "rows": certificates,
        "requests": requests,
        "events": registry.events,
        "seed_seconds": round(seed_seconds, 1),
        "seed_reused": registry.reused,
    }
