"""A border post's sync from its administration's registry over HTTP(S) (``aeo verifier sync
--from URL``): the snapshot index, then one delta or the full snapshot, each verified against
the pinned trust anchors before it reaches the cache (docs/snapshot.md, "Serving and
syncing").

1. ``GET /v1/snapshot/index``: the latest block, the full snapshot's size and SHA-256, and
   the deltas to it from earlier snapshot blocks.
2. Nothing to fetch when the cache already holds that block; the delta from the cache's block
   when there is one and the delta rule prefers it (:func:`~verifier.snapshot.document.
   prefer_full`); otherwise the full snapshot. A delta the cache refuses (another base, a
   result that is not the state it names) falls back to the full snapshot.
3. The download goes to a partial file beside the cache, named after the file's SHA-256. A
   link that drops leaves the bytes received; the next sync asks for the rest (``Range``,
   guarded by ``If-Range`` with the file's ETag) and appends them. A different file on the
   server (a newer snapshot) starts a new partial file.
4. The whole file is verified (signature by a pinned anchor, format, content hash, order)
   and only then stored; the cache is replaced in one rename (:mod:`~verifier.snapshot.cache`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx

from verifier.snapshot.cache import CachedSnapshot, load, store_delta, store_snapshot
from verifier.snapshot.document import TrustAnchor, prefer_full
from verifier.snapshot.errors import SnapshotError

INDEX_PATH: Final = "/v1/snapshot/index"
FULL_PATH: Final = "/v1/snapshot"
DELTA_PATH: Final = "/v1/snapshot/deltas"
# The index is a few hundred bytes; anything much larger is not one.
_MAX_INDEX_BYTES: Final = 1024 * 1024
_MAX_FILE_BYTES: Final = 64 * 1024 * 1024  # document.MAX_SIGNED_BYTES

ProgressCallback = Callable[[int, int], None]
"""Called with (bytes received so far, bytes of the file) while a file downloads."""


class SnapshotFetchError(SnapshotError):
    """The registry could not be reached or did not answer as a snapshot registry does."""

    default_code = "snapshot_unavailable"


@dataclass(frozen=True)
class RemoteSyncReport:
    """What one :func:`sync_from_registry` did."""

    url: str
    fetched: str
    """``full``, ``delta`` or ``none`` (the cache already held the latest block)."""
    from_block: int | None
    """The cache's block before the sync (None: there was no cache)."""
    cache: CachedSnapshot
    bytes_downloaded: int
    resumed_at: int
    """Bytes of the file a previous, interrupted sync had already received (0: none)."""


def base_url(url: str) -> str:
    """The registry's root from what an operator may paste (its root, or a snapshot URL).
    Raises ValueError for anything that is not an http(s) URL."""
    text = url.strip()
    if not text.startswith(("http://", "https://")) or len(text) < 10:
        raise ValueError(f"must be an http(s) URL of a registry, got {url!r}")
    text = text.rstrip("/")
    for suffix in (INDEX_PATH, DELTA_PATH, FULL_PATH):
        text = text.removesuffix(suffix)
    return text


def sync_from_registry(
    url: str,
    cache_path: Path,
    anchors: Sequence[TrustAnchor],
    *,
    client: httpx.Client | None = None,
    progress: ProgressCallback | None = None,
    clock: Callable[[], float] = time.time,
    timeout: float = 30.0,
) -> RemoteSyncReport:
    """Bring the snapshot cache at ``cache_path`` to the registry's latest snapshot.

    Raises a :class:`~verifier.snapshot.errors.SnapshotError` whose ``code`` says why:
    ``snapshot_unavailable`` (the registry cannot be reached or answered an error),
    ``snapshot_interrupted`` (the link dropped mid-file: run again to resume), or a refusal
    of the file itself (``snapshot_untrusted_key``, ``snapshot_bad_signature``, ...).
    """
    if not anchors:
        raise SnapshotError("no trust anchor is pinned", code="snapshot_untrusted_key")
    root = base_url(url)
    owned = client is None
    http = client or httpx.Client(timeout=timeout, follow_redirects=False)
    try:
        return _sync(http, root, Path(cache_path), anchors, progress, clock)
    finally:
        if owned:
            http.close()


def _sync(
    http: httpx.Client,
    root: str,
    path: Path,
    anchors: Sequence[TrustAnchor],
    progress: ProgressCallback | None,
    clock: Callable[[], float],
) -> RemoteSyncReport:
    index = _index(http, root)
    current = load(path)
    block = int(index["block"]["number"])
    full = index["full"]
    from_block = current.header.block.number if current else None
    if (
        current is not None
        and current.header.block.number == block
        and current.header.content_hash.hex() == index["content_hash"]
    ):
        # Checked just now: the file's time says so to whoever picks the newest cache.
        os.utime(path)
        return RemoteSyncReport(root, "none", from_block, current, 0, 0)
    delta = _delta_from(index, from_block)
    if (
        current is not None
        and delta is not None
        and not prefer_full(full["bytes"], [delta["bytes"]])
    ):
        data, resumed = _download(
            http, f"{root}{DELTA_PATH}?from={from_block}", delta, path, progress
        )
        try:
            cached = store_delta(path, data, anchors, now=int(clock()))
        except SnapshotError as exc:
            if exc.code not in {"delta_base_mismatch", "delta_does_not_fit"}:
                raise
        else:
            _forget_partial(path, delta["sha256"])
            return RemoteSyncReport(root, "delta", from_block, cached, len(data) - resumed, resumed)
    data, resumed = _download(http, f"{root}{FULL_PATH}", full, path, progress)
    cached = store_snapshot(path, data, anchors, now=int(clock()))
    _forget_partial(path, full["sha256"])
    return RemoteSyncReport(root, "full", from_block, cached, len(data) - resumed, resumed)


def _index(http: httpx.Client, root: str) -> dict[str, Any]:
    url = root + INDEX_PATH
    try:
        response = http.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise SnapshotFetchError(f"cannot reach {url}: {_why(exc)}") from exc
    if response.status_code != 200:
        raise SnapshotFetchError(f"{url} answered {response.status_code}{_detail(response)}")
    if len(response.content) > _MAX_INDEX_BYTES:
        raise SnapshotFetchError(f"{url} answered {len(response.content)} bytes: not an index")
    try:
        index = response.json()
        block = index["block"]["number"]
        full = index["full"]
        deltas = index["deltas"]
        _check_entry(full)
        for delta in deltas:
            _check_entry(delta)
            if type(delta["from_block"]) is not int:
                raise TypeError("from_block")
        if type(block) is not int or not isinstance(index["content_hash"], str):
            raise TypeError("block")
    except (ValueError, KeyError, TypeError) as exc:
        raise SnapshotFetchError(f"{url} is not a snapshot index ({exc})") from exc
    return index  # type: ignore[no-any-return]


def _check_entry(entry: Any) -> None:
    size, digest = entry["bytes"], entry["sha256"]
    if type(size) is not int or not 0 < size <= _MAX_FILE_BYTES:
        raise ValueError(f"file size {size!r}")
    if not isinstance(digest, str) or len(digest) != 64:
        raise ValueError("sha256")
    bytes.fromhex(digest)


def _delta_from(index: dict[str, Any], block: int | None) -> dict[str, Any] | None:
    if block is None:
        return None
    return next((d for d in index["deltas"] if d["from_block"] == block), None)


def _partial(path: Path, sha256: str) -> Path:
    return path.with_name(f"{path.name}.{sha256[:16]}.part")


def _forget_partial(path: Path, sha256: str | None = None) -> None:
    """Remove the partial downloads beside the cache (all, or the one of ``sha256``)."""
    pattern = f"{path.name}.{sha256[:16]}.part" if sha256 else f"{path.name}.*.part"
    for stale in path.parent.glob(pattern):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()


def _download(
    http: httpx.Client,
    url: str,
    entry: dict[str, Any],
    path: Path,
    progress: ProgressCallback | None,
) -> tuple[bytes, int]:
    """The file ``entry`` describes, resuming a partial download of the same file; returns
    its bytes and how many of them an earlier sync had received."""
    size, sha256 = entry["bytes"], entry["sha256"]
    partial = _partial(path, sha256)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Partial files of other files (an older snapshot) will never be completed.
    for stale in path.parent.glob(f"{path.name}.*.part"):
        if stale != partial:
            stale.unlink(missing_ok=True)
    have = partial.stat().st_size if partial.exists() else 0
    if have > size:
        partial.unlink()
        have = 0
    resumed = have
    if have < size:
        headers = {"Range": f"bytes={have}-", "If-Range": f'"{sha256}"'} if have else {}
        resumed = _receive(http, url, headers, partial, have, size, progress)
    data = partial.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        # A different file than the index announced (tampered, or a resume joined two
        # files): start over next time; the checks below say what is wrong with this one.
        partial.unlink(missing_ok=True)
    return data, min(resumed, len(data))


def _receive(
    http: httpx.Client,
    url: str,
    headers: dict[str, str],
    partial: Path,
    have: int,
    size: int,
    progress: ProgressCallback | None,
) -> int:
    """Appends the rest of the file to ``partial`` (or writes it whole when the server sends
    all of it); returns the offset the received body started at."""
    try:
        with http.stream("GET", url, headers=headers) as response:
            if response.status_code == 206 and _range_start(response) == have:
                mode, start = "ab", have
            elif response.status_code == 200:
                mode, start = "wb", 0  # the whole file (the server's copy changed, or no ranges)
                have = 0
            else:
                response.read()
                if response.status_code == 416:
                    partial.unlink(missing_ok=True)
                raise SnapshotFetchError(
                    f"{url} answered {response.status_code}{_detail(response)}"
                )
            with partial.open(mode) as handle:
                if progress is not None:
                    progress(have, size)
                # Each chunk as it arrives (no chunk size: httpx would hold back a partial
                # chunk, and lose it when the link drops).
                for chunk in response.iter_bytes():
                    have += len(chunk)
                    if have > _MAX_FILE_BYTES:
                        raise SnapshotFetchError(f"{url} sends more than {_MAX_FILE_BYTES} bytes")
                    handle.write(chunk)
                    if progress is not None:
                        progress(have, size)
    except httpx.HTTPError as exc:
        received = partial.stat().st_size if partial.exists() else 0
        raise SnapshotFetchError(
            f"the download of {url} stopped after {received} of {size} bytes ({_why(exc)}): "
            "run the sync again to resume it",
            code="snapshot_interrupted",
        ) from exc
    if have < size:
        raise SnapshotFetchError(
            f"the download of {url} ended after {have} of {size} bytes: run the sync again "
            "to resume it",
            code="snapshot_interrupted",
        )
    return start


def _range_start(response: httpx.Response) -> int | None:
    value = response.headers.get("Content-Range", "")
    unit, _, rest = value.partition(" ")
    start, _, _ = rest.partition("-")
    return int(start) if unit == "bytes" and start.isdigit() else None


def _detail(response: httpx.Response) -> str:
    """The problem's detail of an error answer, when it has one."""
    with contextlib.suppress(ValueError, AttributeError):
        detail = response.json().get("detail")
        if isinstance(detail, str):
            return f": {detail}"
    return ""


def _why(exc: httpx.HTTPError) -> str:
    return str(exc) or type(exc).__name__
