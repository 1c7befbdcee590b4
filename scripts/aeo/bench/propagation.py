"""``aeo bench propagation``: how long after an issuer suspends (or reinstates) a certificate
through its API does a partner administration see it?

anvil mines a block every ``block_time`` seconds (default 1; 0: a block per transaction,
anvil's automine). MN and KR are founded, each runs its registry API with its
workers; MN and KR sign an MRA covering MN's tiers, MN issues a certificate and KR gets a
partner key on MN's API. Each sample then alternates: MN's API is asked to suspend (or
reinstate) the certificate, and from that moment the benchmark watches, in a loop, both

- KR's verifier on the live chain (``verify`` of the certificate's QR text against
  ``ChainStatusSource``): until its verdict turns ``suspended`` (or back to recognized);
- KR's event feed (MN's ``GET /v1/feed`` with KR's partner key): until the entry
  ``certificate.suspended`` (or ``.reinstated``) appears.

A sample's ``seen_s`` is the later of the two (the partner has seen it everywhere);
``p50_s``, ``p99_s``, ``max_s`` are over ``seen_s``; ``verifier_*`` and ``feed_*`` give each
path alone. The services' indexers look at the chain head every ``indexer_poll`` seconds
(``AEO_INDEXER_POLL_INTERVAL``; None: the service's default, 0.25).
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from aeo.bench.common import BenchError, Report, percentile, stepper
from aeo.bench.consortium import BenchConsortium, running_consortium
from aeo.bench.data import canonical_record
from contracts.domain.enums import ReasonCode
from contracts.reader import RegistryReader
from registry_api.settings import Settings
from verifier.chain_source import ChainStatusSource
from verifier.pipeline import verify
from verifier.verdict import Outcome

NUMBER_INDEX = 4242
_POLL = 0.02


def _client(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60.0)


def _write(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = client.post(path, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
    if answer.status_code != 202:
        raise BenchError(f"POST {path} answered {answer.status_code}: {answer.text}")
    operation: dict[str, Any] = answer.json()
    return operation


def _until(what: str, check: Any, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise BenchError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _confirmed(client: httpx.Client, operation: dict[str, Any]) -> None:
    def done() -> bool:
        state = client.get(f"/v1/operations/{operation['id']}").raise_for_status().json()
        if state["state"] == "failed":
            raise BenchError(f"{operation['kind']} failed: {state.get('error')}")
        return bool(state["state"] == "confirmed")

    _until(f"operation {operation['kind']}", done)


def _prepare(bench: BenchConsortium, mn: httpx.Client, kr: httpx.Client) -> tuple[str, str]:
    """The MRA in force, a certificate issued and indexed, KR's partner key: (number, text)."""
    today = datetime.now(UTC).date()
    proposed = _write(
        mn,
        "/v1/mras",
        {
            "parties": [
                {"authority": "MN", "recognized_tiers": 31},
                {"authority": "KR", "recognized_tiers": 31},
            ],
            "effective_from": (today - timedelta(days=1)).isoformat(),
            "text": "Mutual recognition of AEO programmes between MN and KR (benchmark)",
        },
    )
    _confirmed(mn, proposed)

    def proposed_at_kr() -> int | None:
        mras = kr.get("/v1/mras").raise_for_status().json()["data"]
        return next((int(m["id"]) for m in mras if m["proposer"] == "MN"), None)

    mra_id = _until("KR to index the proposed MRA", proposed_at_kr)
    _confirmed(kr, _write(kr, f"/v1/mras/{mra_id}/sign", {}))

    def in_force_at_mn() -> bool:
        mras = mn.get("/v1/mras", params={"status": "in_force"}).raise_for_status().json()
        return any(int(m["id"]) == mra_id for m in mras["data"])

    _until("MN to index the MRA in force", in_force_at_mn)
    record = canonical_record(
        NUMBER_INDEX, "MN", today - timedelta(days=30), today + timedelta(days=3 * 365)
    )
    del record["schema"], record["issuer"]
    number = record["number"]
    _confirmed(mn, _write(mn, "/v1/certificates", record))

    def indexed() -> bool:
        answer = mn.get(f"/v1/certificates/{number}").raise_for_status().json()
        return bool(answer["status"] == "active")

    _until("MN to index the certificate", indexed)
    text = mn.get(f"/v1/certificates/{number}/payload").raise_for_status().text
    return number, text


def _partner_token(mn: httpx.Client) -> str:
    answer = mn.post(
        "/v1/admin/api-keys",
        json={"user": "KR risk management unit", "role": "partner", "partner_authority": "KR"},
    )
    if answer.status_code not in (200, 201):
        raise BenchError(f"creating KR's partner key answered {answer.status_code}: {answer.text}")
    token: str = answer.json()["token"]
    return token


def _feed_head(feed: httpx.Client) -> int:
    cursor = 0
    while True:
        page = feed.get("/v1/feed", params={"after": cursor, "limit": 500}).raise_for_status()
        body = page.json()
        if not body["data"]:
            return cursor
        cursor = int(body["next_cursor"])


def run(
    *,
    samples: int = 50,
    block_time: float = 1.0,
    indexer_poll: float | None = None,
    console: Console | None = None,
) -> Report:
    if samples < 1 or block_time < 0 or (indexer_poll is not None and indexer_poll <= 0):
        raise BenchError(
            "samples must be at least 1, the block time 0 (a block per transaction) or "
            "positive, the poll interval positive"
        )
    env = {} if indexer_poll is None else {"AEO_INDEXER_POLL_INTERVAL": f"{indexer_poll:g}"}
    if indexer_poll is None:
        indexer_poll = Settings.model_fields["indexer_poll_interval"].default
    with (
        tempfile.TemporaryDirectory(prefix="aeo-bench-propagation-") as tmp,
        running_consortium(
            Path(tmp),
            ("MN", "KR"),
            block_time=block_time or None,
            service_env=env,
            console=console,
        ) as bench,
        _client(bench.url("MN"), bench.tokens["MN"]) as mn,
        _client(bench.url("KR"), bench.tokens["KR"]) as kr,
        bench.connect() as chain,
    ):
        with stepper(console, "MRA, certificate, partner key", None):
            number, text = _prepare(bench, mn, kr)
            partner = _partner_token(mn)
        source = ChainStatusSource(RegistryReader(chain, bench.deployment))
        verifier_s: list[float] = []
        feed_s: list[float] = []
        with _client(bench.url("MN"), partner) as feed:
            cursor = _feed_head(feed)
            with stepper(console, "propagation samples", samples) as step:
                for i in range(samples):
                    suspend = i % 2 == 0
                    seen_verifier, seen_feed, cursor = _sample(
                        mn, feed, source, number, text, suspend, cursor
                    )
                    verifier_s.append(seen_verifier)
                    feed_s.append(seen_feed)
                    step("propagation samples", i + 1)
        mined_every = bench.anvil.block_time or 0  # what anvil ran with (a test may set it)
    seen = [max(v, f) for v, f in zip(verifier_s, feed_s, strict=True)]
    return {
        "p50_s": round(percentile(seen, 50), 3),
        "p99_s": round(percentile(seen, 99), 3),
        "max_s": round(max(seen), 3),
        "samples": samples,
        "block_time_s": mined_every,
        "indexer_poll_s": indexer_poll,
        "verifier_p50_s": round(percentile(verifier_s, 50), 3),
        "verifier_p99_s": round(percentile(verifier_s, 99), 3),
        "feed_p50_s": round(percentile(feed_s, 50), 3),
        "feed_p99_s": round(percentile(feed_s, 99), 3),
        "mean_s": round(statistics.fmean(seen), 3),
    }


def _sample(
    mn: httpx.Client,
    feed: httpx.Client,
    source: ChainStatusSource,
    number: str,
    text: str,
    suspend: bool,
    cursor: int,
) -> tuple[float, float, int]:
    action = "suspend" if suspend else "reinstate"
    reason = ReasonCode.FAILED_AUDIT if suspend else ReasonCode.REMEDIED
    expected = Outcome.SUSPENDED if suspend else Outcome.RECOGNIZED
    kind = "certificate.suspended" if suspend else "certificate.reinstated"
    started = time.perf_counter()
    _write(mn, f"/v1/certificates/{number}/{action}", {"reason_code": int(reason)})
    seen_verifier: float | None = None
    seen_feed: float | None = None
    deadline = started + 120
    while seen_verifier is None or seen_feed is None:
        if time.perf_counter() > deadline:
            raise BenchError(f"the partner did not see the {action} within 120 s")
        if seen_verifier is None:
            verdict = verify(
                text.encode("utf-8"),
                as_authority="KR",
                clock=datetime.now(UTC) + timedelta(seconds=1),
                source=source,
            )
            if verdict.outcome is expected:
                seen_verifier = time.perf_counter() - started
        if seen_feed is None:
            page = feed.get("/v1/feed", params={"after": cursor, "limit": 100})
            for entry in page.raise_for_status().json()["data"]:
                cursor = max(cursor, int(entry["sequence"]))
                if entry["kind"] == kind and entry["number"] == number:
                    seen_feed = time.perf_counter() - started
        time.sleep(_POLL)
    return seen_verifier, seen_feed, cursor
