"""The event feed: cursor pages (``GET /v1/feed``) and a live Server-Sent Events stream
(``GET /v1/feed/stream``), each filtered to what the caller may see (services.feed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from contracts.domain import days

from ..auth import AuthenticatedKey, Role, require_roles
from ..db import ApiKey
from ..deps import SessionDep, SettingsDep
from ..errors import (
    PROBLEM_MEDIA_TYPE,
    PROBLEM_TYPE_PREFIX,
    FieldError,
    InvalidError,
    RegistryError,
)
from ..schemas.feed import FeedPage
from ..schemas.problems import AUTH_PROBLEMS, problem_responses
from ..services import feed as service

router = APIRouter(prefix="/feed", tags=["feed"])

FeedReader = Annotated[
    AuthenticatedKey,
    Depends(
        require_roles(
            Role.PARTNER, Role.ADMIN, Role.AUDITOR, Role.MRA_OFFICER, Role.ISSUING_OFFICER
        )
    ),
]
MAX_CURSOR = 2**63 - 1
#: entries sent per look at the index while a stream catches up
STREAM_BATCH = 200
#: how long a disconnected EventSource waits before reconnecting (milliseconds)
RETRY_MS = 3000
Cursor = Annotated[
    int,
    Query(
        ge=0,
        le=MAX_CURSOR,
        description="Entries after this sequence (0: from the beginning). Pass the previous "
        "page's next_cursor.",
        examples=[0],
    ),
]


def _audience(session: Session, caller: AuthenticatedKey) -> service.Audience:
    return service.audience_of(
        session,
        role=caller.role,
        partner_authority=caller.partner_authority,
        own=caller.authority,
        day=days.today(),
    )


@router.get(
    "",
    summary="A page of feed entries after a cursor, oldest first",
    response_model=FeedPage,
    responses=problem_responses(*AUTH_PROBLEMS, 422),
)
def read_feed(
    caller: FeedReader,
    session: SessionDep,
    after: Cursor = 0,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 100,
) -> FeedPage:
    return service.read_page(session, _audience(session, caller), after=after, limit=limit)


def stream_start(
    after: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_CURSOR,
            description="Replay entries after this sequence first (default: only new ones). "
            "A Last-Event-ID header (an EventSource reconnecting) takes precedence.",
        ),
    ] = None,
    last_event_id: Annotated[
        str | None,
        Header(alias="Last-Event-ID", description="The last event id received (reconnection)."),
    ] = None,
) -> int | None:
    """Where the stream starts: after Last-Event-ID, else after ``after``, else at the head
    (None)."""
    if last_event_id is not None:
        text = last_event_id.strip()
        if not text.isdigit() or int(text) > MAX_CURSOR:
            raise InvalidError(
                "Last-Event-ID must be a feed sequence (a whole number)",
                errors=[FieldError("header.Last-Event-ID", "must be a whole number")],
            )
        return int(text)
    return after


class NotAcceptableError(RegistryError):
    status = 406
    slug = "not-acceptable"
    title = "Not acceptable"


EVENT_STREAM = "text/event-stream"


def event_stream_accepted(
    accept: Annotated[
        str | None,
        Header(
            description="Must name text/event-stream (EventSource sends it).",
            examples=[EVENT_STREAM],
        ),
    ] = None,
) -> None:
    """Only a client that asks for an event stream gets one: a plain HTTP client (a
    crawler, a fuzzer, curl without the header) would otherwise hold a request that never
    ends."""
    if accept is None or EVENT_STREAM not in accept.lower():
        raise NotAcceptableError(
            f"this is a Server-Sent Events stream; send 'Accept: {EVENT_STREAM}' "
            "(or read pages from GET /v1/feed)",
            errors=[FieldError("header.Accept", f"must include {EVENT_STREAM}")],
        )


_NOT_ACCEPTABLE = {
    "description": "The client did not ask for text/event-stream.",
    "content": {
        PROBLEM_MEDIA_TYPE: {
            "example": {
                "type": PROBLEM_TYPE_PREFIX + "not-acceptable",
                "title": "Not acceptable",
                "status": 406,
                "detail": "this is a Server-Sent Events stream; send 'Accept: "
                "text/event-stream' (or read pages from GET /v1/feed)",
                "instance": "/v1/feed/stream",
                "request_id": "5f0c6b1e9a2d4c3b8e7f6a5b4c3d2e1f",
                "errors": [{"field": "header.Accept", "message": "must include text/event-stream"}],
            }
        }
    },
}


def _stream_problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Problem answers of the stream route, declared without ``model``: FastAPI would file a
    model under the route's own media type (text/event-stream), which errors never use."""
    documented: dict[int | str, dict[str, Any]] = {}
    for status, response in problem_responses(*statuses).items():
        media = response["content"][PROBLEM_MEDIA_TYPE]
        documented[status] = {
            "description": response["description"],
            "content": {
                PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}, **media}
            },
        }
    return documented


_STREAM_EXAMPLE = (
    "retry: 3000\n\n"
    'event: certificate.suspended\ndata: {"sequence":42,"kind":"certificate.suspended",...}\n'
    "id: 42\n\n"
    ": heartbeat\n\n"
)


@router.get(
    "/stream",
    summary="A live stream of feed entries (Server-Sent Events; event id = sequence)",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "`text/event-stream`: each event's `id` is the entry's sequence, "
            "its `event` the kind, its `data` the entry's JSON (as in GET /v1/feed); comment "
            "lines are heartbeats.",
            "content": {"text/event-stream": {"example": _STREAM_EXAMPLE}},
        },
        406: _NOT_ACCEPTABLE,
        **_stream_problems(*AUTH_PROBLEMS, 422),
    },
)
async def stream_feed(
    request: Request,
    caller: FeedReader,
    _accepted: Annotated[None, Depends(event_stream_accepted)],
    session: SessionDep,
    settings: SettingsDep,
    start: Annotated[int | None, Depends(stream_start)],
) -> AsyncIterator[ServerSentEvent]:
    # The request's session authenticated the caller; a stream lives for hours, so it
    # gives its connection back now and each look at the index uses a fresh session.
    session.close()
    factory: sessionmaker[Session] = request.app.state.session_factory
    # app.state.feed_stream: a quicker stream a test sets on an app that is already running.
    override: service.FeedStreamSettings | None = getattr(request.app.state, "feed_stream", None)
    tuning = override or service.FeedStreamSettings.of(settings)

    def first_cursor() -> int:
        with factory() as look:
            return service.head(look) if start is None else start

    def next_page(cursor: int) -> FeedPage | None:
        """The next page, or None once the caller's key was revoked (the stream ends)."""
        with factory() as look:
            key = look.get(ApiKey, caller.id)
            if key is None or key.revoked_at is not None:
                return None
            return service.read_page(
                look, _audience(look, caller), after=cursor, limit=STREAM_BATCH
            )

    cursor = await run_in_threadpool(first_cursor)
    yield ServerSentEvent(retry=RETRY_MS)
    quiet = 0.0
    # A stream ends after a while and the client reconnects with Last-Event-ID: that
    # rebalances connections across replicas and re-checks what the caller may see.
    deadline = anyio.current_time() + tuning.stream_max_seconds
    while anyio.current_time() < deadline:
        page = await run_in_threadpool(next_page, cursor)
        if page is None:
            return
        for entry in page.data:
            yield ServerSentEvent(
                id=str(entry.sequence), event=entry.kind, raw_data=entry.model_dump_json()
            )
        cursor = page.next_cursor
        if page.data:
            quiet = 0.0
        if page.has_more:
            continue
        if quiet >= tuning.stream_heartbeat:
            yield ServerSentEvent(comment="heartbeat")
            quiet = 0.0
        await anyio.sleep(tuning.stream_poll_interval)
        quiet += tuning.stream_poll_interval
