"""The request middleware: request id, access log, latency metric, last-resort errors; and
the cap on request bodies.

Pure ASGI middleware (not ``BaseHTTPMiddleware``, which buffers streaming responses such as
the partner feed's Server-Sent Events). :class:`RequestContextMiddleware` sits inside
Starlette's ServerErrorMiddleware, so an unexpected exception still gets the request id, a log
line and a problem+json 500 without a traceback; and a chain-layer error that reaches it is
mapped by its category. :class:`BodyLimitMiddleware` sits inside it (its refusals are logged
and carry the request id) and in front of everything that reads a body.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from fastapi.routing import iter_route_contexts
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.recursion import json_refusal

from .errors import (
    FieldError,
    InvalidError,
    PayloadTooLargeError,
    RegistryError,
    from_chain_error,
    problem_response,
    registry_error_response,
)
from .limits import body_limit, describe_bytes
from .metrics import Metrics

access_logger = logging.getLogger("registry_api.access")
error_logger = logging.getLogger("registry_api.errors")

REQUEST_ID_HEADER = "X-Request-ID"
# A caller-supplied id is echoed only if it is short and plain, so it cannot inject
# anything into logs or headers.
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
UNMATCHED_ROUTE = "<unmatched>"


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _REQUEST_ID_RE.fullmatch(text) else None
    return None


class RouteTemplates:
    """Finds the full path template (``/v1/admin/api-keys/{key_id}``) of the matched route,
    so metric labels stay few whatever ids callers put in paths.

    ``scope["route"]`` is the route object as its own router declared it, without the
    prefixes of the routers that include it; the app's route contexts know the full path.
    """

    def __init__(self) -> None:
        self._paths: dict[int, str] = {}

    def _rebuild(self, app: Any) -> None:
        self._paths = {
            id(context.original_route): str(context.path)
            for context in iter_route_contexts(getattr(app, "routes", []))
            if context.path is not None
        }

    def __call__(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            return UNMATCHED_ROUTE
        path = self._paths.get(id(route))
        if path is None:
            # A route added after the first request (tests do that): look again, once.
            self._rebuild(scope.get("app"))
            path = self._paths.setdefault(id(route), getattr(route, "path", UNMATCHED_ROUTE))
        return path


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.route_template = RouteTemplates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        status_code = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status_code, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status_code = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if response_started:
                # Too late for an error answer (a stream broke midway): log, and let the
                # server close the connection.
                error_logger.exception("response failed after it started")
                raise
            request = Request(scope)
            mapped = from_chain_error(exc)
            if mapped is not None:
                response = registry_error_response(request, mapped)
            else:
                error_logger.exception(
                    "unhandled %s", type(exc).__name__, extra={"request_id": request_id}
                )
                response = problem_response(
                    request,
                    status=500,
                    title="Internal error",
                    detail="the server failed to answer; the request id identifies the log entry",
                    slug="internal",
                )
            await response(scope, receive, send_with_id)
        finally:
            duration = time.perf_counter() - started
            route = self.route_template(scope)
            self.metrics.request_latency.labels(
                method=scope["method"], route=route, status=str(status_code)
            ).observe(duration)
            access_logger.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": route,
                    "status": status_code,
                    "duration_ms": round(duration * 1000, 2),
                    "request_id": request_id,
                    "key_prefix": state.get("key_prefix"),
                },
            )


# ---------------------------------------------------------------- request bodies


def payload_too_large(max_bytes: int, field: str = "body") -> PayloadTooLargeError:
    size = describe_bytes(max_bytes)
    return PayloadTooLargeError(
        f"{field}: is larger than {size}, the most this route accepts",
        errors=[FieldError(field, f"is larger than {size}")],
        extra={"max_bytes": max_bytes},
    )


def _not_parsed(reason: str) -> InvalidError:
    return InvalidError(f"body: {reason}", errors=[FieldError("body", reason)])


class _Disconnected(Exception):
    """The client left while its body was being read."""


async def _read_capped(receive: Receive, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise payload_too_large(max_bytes)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body read already, as one message; then the server's channel (a disconnect)."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _counting(receive: Receive, max_bytes: int) -> Receive:
    """The server's channel, raising PayloadTooLargeError once the body passes ``max_bytes``
    (a body sent without Content-Length is stopped there, not read to its end)."""
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > max_bytes:
                raise payload_too_large(max_bytes)
        return message

    return counted


class BodyLimitMiddleware:
    """Caps every request body at its route's limit (``registry_api.limits``) before anything
    reads it, and refuses JSON nested deeper than ``MAX_JSON_DEPTH`` or with more than
    ``MAX_JSON_ITEMS`` items (``contracts.recursion``) before a parser sees it.

    A declared ``Content-Length`` over the cap is refused unread. A JSON route's body is read
    here (counting; small by its cap) and handed on whole; the import upload is counted as
    its route reads it, after the caller's key was checked. Refusals are 413 ``too-large``
    and 422 ``invalid`` (field ``body``).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["path"])
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "").strip()
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if declared.isdigit() and int(declared) > limit.max_bytes:
            await self._refuse(scope, receive, send, payload_too_large(limit.max_bytes))
            return
        if not chunked and declared in {"", "0"}:
            await self.app(scope, receive, send)  # no body
            return
        if not limit.check_json:
            await self._streamed(scope, _counting(receive, limit.max_bytes), send)
            return
        try:
            body = await _read_capped(receive, limit.max_bytes)
        except _Disconnected:
            return  # nobody to answer
        except PayloadTooLargeError as exc:
            await self._refuse(scope, receive, send, exc)
            return
        refusal = json_refusal(body)
        if refusal is not None:
            await self._refuse(scope, receive, send, _not_parsed(refusal))
            return
        await self.app(scope, _replay(body, receive), send)

    async def _streamed(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except PayloadTooLargeError as exc:
            # A route that does not turn it into its answer (the handlers do, for routes).
            if started:
                raise
            await self._refuse(scope, receive, send, exc)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, error: RegistryError) -> None:
        response = registry_error_response(Request(scope), error)
        await response(scope, receive, send)
