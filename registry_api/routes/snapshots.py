"""The signed status snapshot border posts sync from: public, unauthenticated, cacheable.

- ``GET /v1/snapshot/index``: the latest snapshot's block, its files, sizes and SHA-256;
- ``GET /v1/snapshot``: the latest full snapshot (a signed COSE_Sign1 file);
- ``GET /v1/snapshot/deltas?from=BLOCK``: the delta from an earlier snapshot block to the
  latest, 404 when the registry holds none from that block, 410 when the delta rule says the
  full snapshot is cheaper.

Public because everything in them is public on the chain already, and because a border post
syncs before it has anything else. The files carry a strong ``ETag`` (their SHA-256), answer
``If-None-Match`` with 304, and serve one byte range (``Range``, guarded by ``If-Range``), so
a download cut by a poor link resumes where it stopped (RFC 9110, section 14).
The files come from the snapshot directory, which the worker writes (services.snapshots).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Annotated, Any, Final

from fastapi import APIRouter, Header, Query, Response
from starlette.concurrency import run_in_threadpool

from ..deps import SettingsDep
from ..errors import (
    PROBLEM_MEDIA_TYPE,
    PROBLEM_TYPE_PREFIX,
    NotFoundError,
    RegistryError,
    UnavailableError,
)
from ..schemas.problems import Problem, problem_responses
from ..services import snapshots as service
from ..services.snapshots import SNAPSHOT_MEDIA_TYPE, PublishedFile, PublishedIndex

router = APIRouter(prefix="/snapshot", tags=["snapshot"])

#: the versioned routes that take no API key (every other ``/v1`` route needs one)
PUBLIC_PATHS: Final = frozenset({"/v1/snapshot", "/v1/snapshot/index", "/v1/snapshot/deltas"})
#: OpenAPI's way of saying so on an operation
_NO_KEY: Final[dict[str, Any]] = {"security": []}

#: border posts and proxies may keep a file this long; its ETag tells them when it changed
_MAX_AGE: Final = 10
_RANGE: Final = re.compile(r"bytes=(\d*)-(\d*)")
_BLOCK_MAX: Final = 2**63 - 1


class GoneError(RegistryError):
    """The resource existed but is no longer offered (here: the delta rule prefers a full
    snapshot)."""

    status = HTTPStatus.GONE
    slug = "gone"
    title = "Gone"


class RangeNotSatisfiableError(RegistryError):
    status = HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE
    slug = "range-not-satisfiable"
    title = "Range not satisfiable"

    def __init__(self, size: int) -> None:
        super().__init__(
            f"the range starts past the end of the file ({size} bytes)",
            headers={"Content-Range": f"bytes */{size}"},
            extra={"reason": "range_not_satisfiable"},
        )


def _index(settings: Any) -> PublishedIndex:
    index = service.read_index(settings.snapshot_path)
    if index is None:
        raise UnavailableError(
            "this registry has not published a snapshot yet: its indexer or its signing key "
            "is not ready; try again in a minute",
            headers={"Retry-After": "30"},
            extra={"reason": "no_snapshot"},
        )
    return index


_INDEX_EXAMPLE: Final = {
    "format": 1,
    "issuer": "MN",
    "signing_kid": "3f9a0c1b2d4e5f60",
    "block": {"number": 1234, "hash": "9c0e...", "time": 1767225600},
    "made_at": 1767225612,
    "content_hash": "5be1...",
    "certificates": 1000000,
    "delta_max_fraction": 0.5,
    "full": {"file": "full-1234.cose", "bytes": 2906874, "sha256": "a1b2..."},
    "deltas": [
        {"file": "delta-1200-1234.cose", "bytes": 10488, "sha256": "c3d4...", "from_block": 1200}
    ],
    "full_cheaper_from": [],
}
_FILE_HEADERS: Final = {
    "ETag": {"description": "The file's SHA-256 (hex), quoted: a strong validator."},
    "Accept-Ranges": {"description": "Always `bytes`: a cut download resumes with `Range`."},
    "AEO-Snapshot-Block": {"description": "The block the (resulting) state reflects."},
}


def _problem(
    status: int, slug: str, title: str, description: str, detail: str, **extra: Any
) -> dict[int | str, dict[str, Any]]:
    """A ``responses=`` entry for a problem these routes answer, with its own example."""
    example = {
        "type": PROBLEM_TYPE_PREFIX + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": "/v1/snapshot/deltas",
        "request_id": "5f0c6b1e9a2d4c3b8e7f6a5b4c3d2e1f",
        **extra,
    }
    return {
        status: {
            "model": Problem,
            "description": description,
            "content": {PROBLEM_MEDIA_TYPE: {"example": example}},
        }
    }


_NO_SNAPSHOT: Final = _problem(
    503,
    "unavailable",
    "Service unavailable",
    "No snapshot published yet (the indexer or the signing key is not ready); see Retry-After",
    "this registry has not published a snapshot yet: its indexer or its signing key is not "
    "ready; try again in a minute",
    reason="no_snapshot",
)
_RANGE_PAST_END: Final = _problem(
    416,
    "range-not-satisfiable",
    "Range not satisfiable",
    "The range starts past the end of the file (Content-Range names its size)",
    "the range starts past the end of the file (2906874 bytes)",
    reason="range_not_satisfiable",
)
_NO_DELTA: Final = _problem(
    404,
    "not-found",
    "Not found",
    "No delta from this block: fetch the full snapshot",
    "no delta from block 1190: it is not a recent snapshot block of this lineage: fetch "
    "GET /v1/snapshot",
    reason="no_delta",
    block=1234,
)
_FULL_CHEAPER: Final = _problem(
    410,
    "gone",
    "Gone",
    "The delta rule prefers the full snapshot (the delta is more than half of it)",
    "the delta from block 1100 is more than half the full snapshot: fetch GET /v1/snapshot instead",
    reason="full_snapshot_cheaper",
    block=1234,
)


def _cose(what: str) -> dict[str, Any]:
    return {
        SNAPSHOT_MEDIA_TYPE: {
            "schema": {"type": "string", "format": "binary"},
            "example": f"({what}: COSE_Sign1, docs/snapshot.md)",
        }
    }


@router.get(
    "/index",
    summary="The latest snapshot's block and files",
    openapi_extra=_NO_KEY,
    responses={
        200: {"content": {"application/json": {"example": _INDEX_EXAMPLE}}},
        **_NO_SNAPSHOT,
    },
)
async def snapshot_index(settings: SettingsDep) -> Response:
    """The small JSON document a border post reads first: the block the latest snapshot
    reflects, the full snapshot's size and SHA-256, and the deltas that lead to it from
    earlier snapshot blocks. Unsigned: every file it names is signed."""
    index = await run_in_threadpool(_index, settings)
    return Response(
        content=_json(index.to_json()),
        media_type="application/json",
        headers={"Cache-Control": f"public, max-age={_MAX_AGE}"},
    )


@router.get(
    "",
    summary="The latest full snapshot",
    openapi_extra=_NO_KEY,
    response_class=Response,
    responses={
        200: {"content": _cose("the signed snapshot"), "headers": _FILE_HEADERS},
        206: {"description": "The byte range asked for (`Range`)."},
        304: {"description": "Not modified (`If-None-Match` named this file)."},
        **_RANGE_PAST_END,
        **problem_responses(422),
        **_NO_SNAPSHOT,
    },
)
async def snapshot_full(
    settings: SettingsDep,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
    if_range: Annotated[str | None, Header()] = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The whole consortium as this registry's index sees it at one block, signed with
    this administration's document-signing key (docs/snapshot.md)."""
    index, entry, data = await run_in_threadpool(_load, settings, lambda i: i.full)
    return _file_response(index, entry, data, range_header, if_range, if_none_match)


@router.get(
    "/deltas",
    summary="The delta from an earlier snapshot block to the latest",
    openapi_extra=_NO_KEY,
    response_class=Response,
    responses={
        200: {"content": _cose("the signed delta"), "headers": _FILE_HEADERS},
        206: {"description": "The byte range asked for (`Range`)."},
        304: {"description": "Not modified (`If-None-Match` named this file)."},
        **_NO_DELTA,
        **_FULL_CHEAPER,
        **_RANGE_PAST_END,
        **problem_responses(422),
        **_NO_SNAPSHOT,
    },
)
async def snapshot_delta(
    settings: SettingsDep,
    from_block: Annotated[
        int,
        Query(
            alias="from",
            ge=0,
            le=_BLOCK_MAX,
            description="The block of the snapshot the border post holds.",
            examples=[1200],
        ),
    ],
    range_header: Annotated[str | None, Header(alias="Range")] = None,
    if_range: Annotated[str | None, Header()] = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The change from the snapshot of block ``from`` to the latest one. 404 when this
    registry offers no delta from that block (not a recent snapshot block, another lineage,
    or the latest block itself); 410 when the delta would be more than half the full
    snapshot (the delta rule): fetch ``GET /v1/snapshot`` instead."""

    def pick(index: PublishedIndex) -> PublishedFile:
        entry = index.delta_from(from_block)
        if entry is not None:
            return entry
        if from_block in index.too_large:
            raise GoneError(
                f"the delta from block {from_block} is more than half the full snapshot: "
                "fetch GET /v1/snapshot instead",
                extra={"reason": "full_snapshot_cheaper", "block": index.block_number},
            )
        why = (
            "is the latest snapshot's: nothing to fetch"
            if from_block == index.block_number
            else "is not a recent snapshot block of this lineage: fetch GET /v1/snapshot"
        )
        raise NotFoundError(
            f"no delta from block {from_block}: it {why}",
            extra={"reason": "no_delta", "block": index.block_number},
        )

    index, entry, data = await run_in_threadpool(_load, settings, pick)
    return _file_response(index, entry, data, range_header, if_range, if_none_match)


def _load(
    settings: Any, pick: Callable[[PublishedIndex], PublishedFile]
) -> tuple[PublishedIndex, PublishedFile, bytes]:
    """The index and the picked file's bytes. A publication between reading the index and
    the file removes the file: read both again, once."""
    for _ in range(2):
        index = _index(settings)
        entry: PublishedFile = pick(index)
        data = service.read_file(settings.snapshot_path, entry)
        if data is not None:
            return index, entry, data
    raise UnavailableError(
        "the snapshot is being replaced: try again",
        headers={"Retry-After": "1"},
        extra={"reason": "snapshot_replaced"},
    )


def _file_response(
    index: PublishedIndex,
    entry: PublishedFile,
    data: bytes,
    range_header: str | None,
    if_range: str | None,
    if_none_match: str | None,
) -> Response:
    headers = {
        "ETag": entry.etag,
        "Accept-Ranges": "bytes",
        "Cache-Control": f"public, max-age={_MAX_AGE}",
        "AEO-Snapshot-Block": str(index.block_number),
    }
    if if_none_match is not None and entry.etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=HTTPStatus.NOT_MODIFIED, headers=headers)
    wanted = _byte_range(range_header, len(data)) if _range_applies(if_range, entry) else None
    if wanted is None:
        return Response(content=data, media_type=SNAPSHOT_MEDIA_TYPE, headers=headers)
    start, end = wanted
    headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
    return Response(
        content=data[start : end + 1],
        status_code=HTTPStatus.PARTIAL_CONTENT,
        media_type=SNAPSHOT_MEDIA_TYPE,
        headers=headers,
    )


def _range_applies(if_range: str | None, entry: PublishedFile) -> bool:
    """RFC 9110 13.1.5: a range is served only while the client's copy is this file."""
    return if_range is None or if_range.strip() == entry.etag


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one range asked for, inclusive; None to send the whole file (no header, several
    ranges, or a header this server does not read: RFC 9110 lets it ignore those)."""
    if header is None:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None or (not match[1] and not match[2]):
        return None
    if not match[1]:  # the last N bytes
        suffix = int(match[2])
        if suffix == 0:
            raise RangeNotSatisfiableError(size)
        return max(size - suffix, 0), size - 1
    start = int(match[1])
    end = min(int(match[2]), size - 1) if match[2] else size - 1
    if start >= size:
        raise RangeNotSatisfiableError(size)
    if end < start:
        return None
    return start, end


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8")
