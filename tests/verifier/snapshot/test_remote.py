"""A border post's sync over real HTTP (``verifier.snapshot.remote``), against a small server
in a thread that serves a snapshot the way a registry does, and can cut a download short,
tamper with a byte, or answer errors."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from contracts.domain.enums import CertificateStatus
from verifier.snapshot.cache import load
from verifier.snapshot.document import TrustAnchor, make_delta, make_snapshot
from verifier.snapshot.errors import SnapshotError
from verifier.snapshot.remote import base_url, sync_from_registry

from .world import BLOCK, LATER, NOW, SUSPENDED, certificate, consortium, other_key, signer

CERTIFICATES = [certificate(n) for n in range(1, 200)]


def full_snapshot() -> bytes:
    state = consortium().state(CERTIFICATES)
    return make_snapshot(state, private_key=signer(), issuer="MN", block=BLOCK, made_at=NOW)


def delta_after_suspension() -> tuple[bytes, str]:
    """The delta, and the content hash of the state it leads to."""
    old = consortium().state(CERTIFICATES)
    new = consortium().state([certificate(1, **SUSPENDED), *CERTIFICATES[1:]], params=old.params)
    data = make_delta(old, BLOCK, new, LATER, private_key=signer(), issuer="MN", made_at=NOW + 720)
    return data, new.content_hash().hex()


def entry(name: str, data: bytes, from_block: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "file": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
    }  # fmt: skip
    if from_block is not None:
        out["from_block"] = from_block
    return out


@dataclass
class Registry:
    """Serves ``/v1/snapshot/index``, ``/v1/snapshot`` and ``/v1/snapshot/deltas`` from
    ``files`` with Range support; ``cut_after`` sends that many bytes of the next file
    request and drops the connection."""

    full: bytes
    block: int = BLOCK.number
    content_hash: str = consortium().state(CERTIFICATES).content_hash().hex()
    delta: bytes | None = None
    cut_after: int | None = None
    requests: list[tuple[str, str | None]] = field(default_factory=list)

    def index(self) -> dict[str, Any]:
        return {
            "format": 1,
            "issuer": "MN",
            "block": {"number": self.block, "hash": "00", "time": NOW},
            "content_hash": self.content_hash,
            "full": entry("full", self.full),
            "deltas": [entry("delta", self.delta, BLOCK.number)] if self.delta else [],
        }

    def __post_init__(self) -> None:
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                registry.requests.append((self.path, self.headers.get("Range")))
                if self.path == "/v1/snapshot/index":
                    self._send(200, json.dumps(registry.index()).encode())
                elif self.path == "/v1/snapshot":
                    self._file(registry.full)
                elif self.path.startswith("/v1/snapshot/deltas?from=") and registry.delta:
                    self._file(registry.delta)
                else:
                    self._send(404, b'{"detail": "no such thing"}')

            def _file(self, data: bytes) -> None:
                etag = f'"{hashlib.sha256(data).hexdigest()}"'
                match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
                if match and self.headers.get("If-Range") == etag:
                    start = int(match[1])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                    body = data[start:]
                else:
                    self.send_response(200)
                    body = data
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.end_headers()
                if registry.cut_after is not None:
                    cut, registry.cut_after = registry.cut_after, None
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def registry() -> Iterator[Registry]:
    server = Registry(full=full_snapshot())
    try:
        yield server
    finally:
        server.close()


ANCHORS = [TrustAnchor.of("MN", signer())]


def test_a_first_sync_fetches_the_full_snapshot_and_a_second_finds_it_current(
    registry: Registry, tmp_path: Path
) -> None:
    cache = tmp_path / "snapshot.cache"
    first = sync_from_registry(registry.url, cache, ANCHORS, clock=lambda: NOW + 5)
    assert (first.fetched, first.from_block, first.resumed_at) == ("full", None, 0)
    assert first.bytes_downloaded == len(registry.full)
    assert first.cache.header.block == BLOCK
    assert first.cache.state.contains(CERTIFICATES[0].certificate_id)
    again = sync_from_registry(registry.url, cache, ANCHORS, clock=lambda: NOW + 6)
    assert (again.fetched, again.bytes_downloaded) == ("none", 0)


def test_a_download_the_link_cut_resumes_from_the_bytes_received(
    registry: Registry, tmp_path: Path
) -> None:
    cache = tmp_path / "snapshot.cache"
    half = len(registry.full) // 2
    registry.cut_after = half
    with pytest.raises(SnapshotError) as cut:
        sync_from_registry(registry.url, cache, ANCHORS)
    assert cut.value.code == "snapshot_interrupted"
    assert f"after {half} of {len(registry.full)} bytes" in cut.value.message
    assert load(cache) is None  # nothing unverified reaches the cache
    report = sync_from_registry(registry.url, cache, ANCHORS)
    assert (report.fetched, report.resumed_at) == ("full", half)
    assert report.bytes_downloaded == len(registry.full) - half
    assert registry.requests[-1] == ("/v1/snapshot", f"bytes={half}-")
    assert report.cache.state.contains(CERTIFICATES[5].certificate_id)
    assert not list(tmp_path.glob("*.part"))


def test_a_partial_download_of_an_older_file_starts_over(
    registry: Registry, tmp_path: Path
) -> None:
    cache = tmp_path / "snapshot.cache"
    registry.cut_after = 100
    with pytest.raises(SnapshotError):
        sync_from_registry(registry.url, cache, ANCHORS)
    registry.full = make_snapshot(
        consortium().state(CERTIFICATES[:50]),
        private_key=signer(), issuer="MN", block=BLOCK, made_at=NOW,
    )  # fmt: skip
    report = sync_from_registry(registry.url, cache, ANCHORS)
    assert (report.fetched, report.resumed_at) == ("full", 0)
    assert registry.requests[-1] == ("/v1/snapshot", None)
    assert len(list(tmp_path.glob("*.part"))) == 0


def test_a_delta_after_a_suspension_makes_the_cache_answer_suspended(
    registry: Registry, tmp_path: Path
) -> None:
    cache = tmp_path / "snapshot.cache"
    sync_from_registry(registry.url, cache, ANCHORS)
    registry.delta, registry.content_hash = delta_after_suspension()
    registry.block = LATER.number
    report = sync_from_registry(registry.url, cache, ANCHORS)
    assert (report.fetched, report.from_block) == ("delta", BLOCK.number)
    assert report.bytes_downloaded == len(registry.delta) < len(registry.full) // 2
    assert registry.requests[-1][0] == f"/v1/snapshot/deltas?from={BLOCK.number}"
    answer = report.cache.state.lookup(CERTIFICATES[0].certificate_id)
    assert answer.status is CertificateStatus.SUSPENDED
    stored = load(cache)
    assert stored is not None
    assert stored.header.block == LATER


def test_a_tampered_snapshot_is_refused_and_the_cache_is_left_alone(
    registry: Registry, tmp_path: Path
) -> None:
    cache = tmp_path / "snapshot.cache"
    tampered = bytearray(registry.full)
    tampered[-70] ^= 0x01  # inside the compressed document, under the signature
    registry.full = bytes(tampered)
    with pytest.raises(SnapshotError) as refused:
        sync_from_registry(registry.url, cache, ANCHORS)
    assert refused.value.code == "snapshot_bad_signature"
    assert not cache.exists()


def test_a_snapshot_signed_by_a_key_that_is_not_pinned_is_refused(
    registry: Registry, tmp_path: Path
) -> None:
    with pytest.raises(SnapshotError) as refused:
        sync_from_registry(registry.url, tmp_path / "c", [TrustAnchor.of("KR", other_key())])
    assert refused.value.code == "snapshot_untrusted_key"
    assert "not a pinned trust anchor" in refused.value.message


def test_a_registry_that_cannot_be_reached_or_answers_no_index_is_named(
    tmp_path: Path,
) -> None:
    server = Registry(full=b"x")
    url = server.url
    server.close()
    with pytest.raises(SnapshotError) as down:
        sync_from_registry(url, tmp_path / "c", ANCHORS, timeout=5)
    assert down.value.code == "snapshot_unavailable"
    assert f"cannot reach {url}/v1/snapshot/index" in down.value.message


def test_an_index_that_is_not_one_is_refused(registry: Registry, tmp_path: Path) -> None:
    registry.index = lambda: {"full": {"bytes": -1}}  # type: ignore[method-assign]
    with pytest.raises(SnapshotError) as refused:
        sync_from_registry(registry.url, tmp_path / "c", ANCHORS)
    assert refused.value.code == "snapshot_unavailable"
    assert "is not a snapshot index" in refused.value.message


@pytest.mark.parametrize(
    ("given", "root"),
    [
        ("http://127.0.0.1:8101", "http://127.0.0.1:8101"),
        ("https://registry.example/", "https://registry.example"),
        ("https://registry.example/v1/snapshot", "https://registry.example"),
        ("https://registry.example/v1/snapshot/index", "https://registry.example"),
    ],
)
def test_the_registry_url_may_be_its_root_or_a_snapshot_url(given: str, root: str) -> None:
    assert base_url(given) == root


@pytest.mark.parametrize("bad", ["ftp://registry.example", "registry.example", "http://"])
def test_a_url_that_is_not_http_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="must be an http"):
        base_url(bad)
