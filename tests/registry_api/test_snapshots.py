"""The registry publishes the signed status snapshot of its index and its deltas
(services.snapshots), and serves them publicly with ETag and Range (routes.snapshots)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from functools import partial
from pathlib import Path

import pytest

from contracts.bootstrap import Consortium
from contracts.domain import ids
from contracts.domain.enums import CertificateStatus, ReasonCode
from registry_api.keystore import load_signing_key
from registry_api.services.snapshots import (
    SnapshotPublisher,
    consortium_state,
    index_position,
)
from verifier.snapshot.cache import store_delta, store_snapshot
from verifier.snapshot.document import TrustAnchor, read_snapshot
from verifier.snapshot.model import Membership

from .conftest import ChainApp
from .registry_support import issue, open_registry, record, register_key_on_chain
from .support import assert_problem

NUMBERS = ("MN-AEO-2025-0001", "MN-AEO-2025-0002", "MN-AEO-2025-0003")


@pytest.fixture
def registry(tmp_path: Path, consortium: Consortium) -> Iterator[Callable[..., ChainApp]]:
    with ExitStack() as stack:
        yield partial(open_registry, stack, tmp_path, consortium)


@pytest.fixture
def mn(registry: Callable[..., ChainApp]) -> ChainApp:
    """MN's registry with its key registered and three certificates issued and indexed."""
    app = registry("MN")
    register_key_on_chain(app)
    issue(app, *(record(number) for number in NUMBERS))
    return app


def publisher(app: ChainApp) -> SnapshotPublisher:
    snapshots = app.workers.snapshots
    assert snapshots is not None
    return snapshots


def anchor(app: ChainApp) -> TrustAnchor:
    settings = app.app.state.settings
    key = load_signing_key(settings.signing_key_path, settings.key_passphrase())
    return TrustAnchor("MN", key.algorithm, key.public.public_key)


def suspend(app: ChainApp, number: str) -> None:
    response = app.client.post(
        f"/v1/certificates/{number}/suspend",
        json={"reason_code": int(ReasonCode.NON_COMPLIANCE)},
        headers=app.headers(**{"Idempotency-Key": f"suspend-{number}"}),
    )
    assert response.status_code == 202, response.text
    app.settle()


def test_the_snapshot_is_the_index_at_its_block_signed_with_the_registrys_key(
    mn: ChainApp,
) -> None:
    published = publisher(mn).run_once()
    assert published is not None
    with mn.session() as session:
        position = index_position(session)
    assert position is not None
    index = mn.client.get("/v1/snapshot/index")  # no key: public
    assert index.status_code == 200
    assert index.headers["cache-control"].startswith("public")
    body = index.json()
    assert body["block"]["number"] == position[0]
    assert body["block"]["hash"] == position[1].hex()
    assert (body["issuer"], body["certificates"], body["deltas"]) == ("MN", 3, [])
    full = mn.client.get("/v1/snapshot")
    assert full.status_code == 200
    assert full.headers["content-type"] == 'application/cose; cose-type="cose-sign1"'
    assert full.headers["etag"] == f'"{hashlib.sha256(full.content).hexdigest()}"'
    assert full.headers["aeo-snapshot-block"] == str(position[0])
    assert body["full"] == {
        "file": f"full-{position[0]}.cose",
        "bytes": len(full.content),
        "sha256": hashlib.sha256(full.content).hexdigest(),
    }
    snapshot = read_snapshot(full.content, [anchor(mn)])
    assert (snapshot.header.block.number, snapshot.header.block.hash) == position
    for number in NUMBERS:
        answer = snapshot.state.lookup(ids.certificate_id("MN", number))
        assert answer.membership is Membership.FILTER
    assert snapshot.state.lookup(ids.certificate_id("MN", "MN-AEO-2025-0999")).membership is (
        Membership.UNKNOWN
    )
    assert {m.code for m in snapshot.state.members.values()} == {"MN", "KZ", "KR"}
    assert anchor(mn).kid in snapshot.state.keys


def test_nothing_is_published_while_the_index_stands_still(mn: ChainApp) -> None:
    first = publisher(mn).run_once()
    assert first is not None
    assert publisher(mn).run_once() is None
    issue(mn, record("MN-AEO-2025-0004"))
    second = publisher(mn).run_once()
    assert second is not None
    assert second.block_number > first.block_number
    assert second.certificates == 4


def test_after_a_suspension_the_delta_leads_the_cache_to_suspended(
    mn: ChainApp, tmp_path: Path
) -> None:
    # Enough certificates for a delta of one change to be less than half the snapshot.
    issue(mn, *(record(f"MN-AEO-2024-{n:04d}") for n in range(120)))
    first = publisher(mn).run_once()
    assert first is not None
    cache = tmp_path / "post.cache"
    store_snapshot(cache, mn.client.get("/v1/snapshot").content, [anchor(mn)], now=1)
    suspend(mn, NUMBERS[1])
    second = publisher(mn).run_once()
    assert second is not None
    assert [d.from_block for d in second.deltas] == [first.block_number]
    delta = mn.client.get(f"/v1/snapshot/deltas?from={first.block_number}")
    assert delta.status_code == 200
    assert delta.headers["etag"] == second.deltas[0].etag
    assert len(delta.content) == second.deltas[0].size < second.full.size // 2
    cached = store_delta(cache, delta.content, [anchor(mn)], now=2)
    assert cached.header.block.number == second.block_number
    answer = cached.state.lookup(ids.certificate_id("MN", NUMBERS[1]))
    assert (answer.membership, answer.status) == (Membership.LISTED, CertificateStatus.SUSPENDED)
    assert answer.reason == int(ReasonCode.NON_COMPLIANCE)
    assert cached.state.lookup(ids.certificate_id("MN", NUMBERS[0])).status is (
        CertificateStatus.ACTIVE
    )
    # The delta gives exactly the state a full snapshot of the same block carries.
    with mn.session() as session:
        assert consortium_state(session).content_hash() == cached.state.content_hash()


def test_the_file_answers_ranges_conditional_requests_and_refuses_a_range_past_its_end(
    mn: ChainApp,
) -> None:
    publisher(mn).run_once()
    full = mn.client.get("/v1/snapshot")
    etag, size = full.headers["etag"], len(full.content)
    assert full.headers["accept-ranges"] == "bytes"
    part = mn.client.get("/v1/snapshot", headers={"Range": "bytes=100-", "If-Range": etag})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-{size - 1}/{size}"
    assert part.content == full.content[100:]
    middle = mn.client.get("/v1/snapshot", headers={"Range": "bytes=10-19"})
    assert (middle.status_code, middle.content) == (206, full.content[10:20])
    suffix = mn.client.get("/v1/snapshot", headers={"Range": "bytes=-5"})
    assert (suffix.status_code, suffix.content) == (206, full.content[-5:])
    # Another file than the client's partial copy: the whole new file, not a range of it.
    changed = mn.client.get("/v1/snapshot", headers={"Range": "bytes=100-", "If-Range": '"0"'})
    assert (changed.status_code, changed.content) == (200, full.content)
    unchanged = mn.client.get("/v1/snapshot", headers={"If-None-Match": etag})
    assert (unchanged.status_code, unchanged.content) == (304, b"")
    past = mn.client.get("/v1/snapshot", headers={"Range": f"bytes={size}-"})
    assert_problem(past, 416, "range-not-satisfiable")
    assert past.headers["content-range"] == f"bytes */{size}"


def test_a_delta_from_a_block_without_one_is_404_and_a_bad_block_is_422(mn: ChainApp) -> None:
    published = publisher(mn).run_once()
    assert published is not None
    latest = mn.client.get(f"/v1/snapshot/deltas?from={published.block_number}")
    body = assert_problem(latest, 404, "not-found")
    assert body["reason"] == "no_delta"
    assert "nothing to fetch" in body["detail"]
    unknown = mn.client.get("/v1/snapshot/deltas?from=1")
    assert "GET /v1/snapshot" in assert_problem(unknown, 404, "not-found")["detail"]
    for bad in ("-1", "x", str(2**63)):
        response = mn.client.get(f"/v1/snapshot/deltas?from={bad}")
        body = assert_problem(response, 422, "invalid")
        assert "from" in json.dumps(body)
    missing = mn.client.get("/v1/snapshot/deltas")
    assert_problem(missing, 422, "invalid")


def test_a_delta_the_delta_rule_drops_is_410_gone(mn: ChainApp) -> None:
    first = publisher(mn).run_once()
    assert first is not None
    suspend(mn, NUMBERS[0])
    second = publisher(mn).run_once()
    assert second is not None
    # Three certificates: the members, keys and MRAs make most of the snapshot, and a delta
    # of one change is more than half of it, so the full snapshot is cheaper.
    assert (second.deltas, second.too_large) == ((), (first.block_number,))
    gone = mn.client.get(f"/v1/snapshot/deltas?from={first.block_number}")
    body = assert_problem(gone, 410, "gone")
    assert body["reason"] == "full_snapshot_cheaper"
    assert mn.client.get("/v1/snapshot/index").json()["full_cheaper_from"] == [first.block_number]


def test_before_the_first_publication_the_snapshot_is_503_with_retry_after(
    registry: Callable[..., ChainApp],
) -> None:
    app = registry("MN")
    for path in ("/v1/snapshot/index", "/v1/snapshot", "/v1/snapshot/deltas?from=3"):
        response = app.client.get(path)
        body = assert_problem(response, 503, "unavailable")
        assert body["reason"] == "no_snapshot"
        assert response.headers["retry-after"] == "30"


def test_without_a_registered_signing_key_nothing_is_published_and_the_worker_says_why(
    registry: Callable[..., ChainApp], caplog: pytest.LogCaptureFixture
) -> None:
    app = registry("MN")
    app.settle()
    assert publisher(app).poll() == 0
    assert publisher(app).last_error is not None
    assert "not registered on-chain" in publisher(app).last_error
    assert not (app.app.state.settings.snapshot_path / "index.json").exists()
    assert "no snapshot published" in caplog.text
