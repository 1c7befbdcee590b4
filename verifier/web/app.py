"""The border officer's web page: a small Starlette app around the verification pipeline.

``create_app(source_factory, as_authority, clock=None)`` returns an ASGI app that serves

- ``GET /``: the page (static/index.html, its bundle, styles and language catalogs, all
  local: no CDN, no external font);
- ``GET /api/config``: what the page needs to know (the verifying administration);
- ``POST /api/verify``: JSON ``{"text": "AEO1:..."}`` or a multipart upload with one
  ``image`` file (a photo of the QR code); answers the verdict as JSON;
- ``GET /healthz``.

Bad input gets a problem JSON (RFC 9457) with a ``code`` the page turns into a message and
the ``field`` at fault; no input produces a 500. Request bodies are capped before anything
reads them (:class:`BodyLimitMiddleware`: 64 KiB of JSON, or a 5 MB photo with its form), and
JSON nested deeper than ``MAX_JSON_DEPTH`` is refused before it is parsed. Starlette only: the
verifier library must not depend on FastAPI.
"""

from __future__ import annotations

import io
import json
import logging
import sqlite3
import time
import warnings
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.domain.ids import authority_code
from contracts.recursion import MAX_JSON_DEPTH, json_depth_exceeds, restore_recursion_limit
from verifier.checks import CheckCounter, Reporter
from verifier.errors import InputError, VerificationError
from verifier.image import open_image, payload_text_from_image
from verifier.pipeline import DEFAULT_MAX_AGE, Clock, verify
from verifier.source import StatusSource

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
# Room for the multipart framing around a full-size image.
_MAX_BODY_BYTES = MAX_UPLOAD_BYTES + 64 * 1024
# A version-40 QR code holds 4,296 alphanumeric characters; anything longer was not scanned.
MAX_TEXT_CHARS = 4296
# Any other body (the JSON {"text": ...}): room for the longest text with every character
# escaped (6 bytes each), and then some.
MAX_JSON_BODY_BYTES = 64 * 1024
# A 5 MB file can still declare an enormous canvas (a decompression bomb); 40 megapixels is
# more than any phone camera takes.
MAX_IMAGE_PIXELS = 40_000_000
#: the least time between two reports of the border-check counts to the registry
REPORT_INTERVAL_SECONDS = 60.0

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob: mediastream:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS: Mapping[str, str] = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "permissions-policy": "camera=(self), microphone=(), geolocation=(), payment=()",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


class RequestRejected(VerificationError):
    """A request the page or a client got wrong; answered as problem JSON, never a 500."""

    stage = "request"
    default_code = "bad_request"

    def __init__(self, status: int, code: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail, code=code)
        self.status = status
        self.field = field


class SecurityHeadersMiddleware:
    """Adds the security headers to every response, static files and errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Mounted under a prefix (the registry API may mount the page), the path still
        # carries it; the app's own routes start after root_path.
        path: str = scope["path"]
        root = scope.get("root_path", "")
        is_api = path.removeprefix(root).startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = dict(SECURITY_HEADERS)
                # Verdicts are about one moment's status: no cache may replay them later.
                extra["cache-control"] = "no-store" if is_api else "no-cache"
                for name, value in extra.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _problem(status: int, code: str, detail: str, field: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _TITLES.get(status, "Request refused"),
        "status": status,
        "code": code,
        "detail": detail,
    }
    if field is not None:
        body["field"] = field
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


_TITLES = {
    400: "Bad request",
    404: "Not found",
    405: "Method not allowed",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    503: "Verification unavailable",
}


def _too_large(limit: int = MAX_UPLOAD_BYTES) -> RequestRejected:
    mib, kib = divmod(limit, 1024 * 1024)
    size = f"{mib} MiB" if not kib else f"{limit // 1024:,} KiB"
    return RequestRejected(413, "too_large", f"the request body is larger than {size}")


def _body_limit(scope: Scope) -> int:
    """The most a request to this path, of this media type, may send."""
    path: str = scope["path"]
    media = Headers(scope=scope).get("content-type", "").split(";")[0].strip().lower()
    if path.removeprefix(scope.get("root_path", "")) == "/api/verify" and media == (
        "multipart/form-data"
    ):
        return _MAX_BODY_BYTES
    return MAX_JSON_BODY_BYTES


class BodyLimitMiddleware:
    """Caps every request body before anything reads it: a declared ``Content-Length`` over
    the cap is refused unread; a body sent without one (chunked) is counted as it arrives and
    refused the moment it passes the cap, instead of being read to its end."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = _body_limit(scope)
        declared = Headers(scope=scope).get("content-length", "").strip()
        if declared.isdigit() and int(declared) > limit:
            await _refuse(_too_large(limit), scope, receive, send)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _too_large(limit)
            return message

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watch)
        except RequestRejected as exc:
            # The verify route answers it itself; any other reader of a body lands here.
            if started:
                raise
            await _refuse(exc, scope, receive, send)


async def _refuse(exc: RequestRejected, scope: Scope, receive: Receive, send: Send) -> None:
    response = _problem(exc.status, exc.code, exc.message, exc.field)
    await response(scope, receive, send)


def _replay(body: bytes) -> Receive:
    """A receive channel that hands the already-read body to Starlette's form parser."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def parse_text(body: bytes) -> str:
    """The ``text`` of a JSON request body, or RequestRejected naming what is wrong."""
    if json_depth_exceeds(body):
        raise RequestRejected(
            400,
            "invalid_json",
            f"the request body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep",
        )
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise RequestRejected(400, "invalid_json", "the request body is not valid JSON") from None
    if not isinstance(document, dict) or "text" not in document:
        raise RequestRejected(
            422, "missing_text", 'the JSON body must be an object with a "text" field', "text"
        )
    text = document["text"]
    if not isinstance(text, str):
        raise RequestRejected(422, "invalid_text", '"text" must be a string', "text")
    text = text.strip()
    if not text:
        raise RequestRejected(422, "empty_text", '"text" is empty', "text")
    if len(text) > MAX_TEXT_CHARS:
        raise RequestRejected(
            422,
            "text_too_long",
            f'"text" is longer than any QR code holds ({MAX_TEXT_CHARS} characters)',
            "text",
        )
    return text


def _refuse_huge(data: bytes) -> None:
    """Refuse, from the header alone, an image with more pixels than a camera photo has."""
    too_many = RequestRejected(
        413, "too_large", "the image has more pixels than any camera photo", "image"
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise too_many from None
    except Exception:  # not an image at all: open_image says so next
        return
    if width * height > MAX_IMAGE_PIXELS:
        raise too_many


def qr_text_from_upload(data: bytes) -> str:
    """The text of the QR code in an uploaded photo, or RequestRejected saying why not.

    A photo without a readable QR code is a capture problem, not a forged certificate: it
    gets a request error ("try again") instead of a red verdict.
    """
    if not data:
        raise RequestRejected(422, "empty_image", 'the "image" file is empty', "image")
    if len(data) > MAX_UPLOAD_BYTES:
        raise _too_large()
    _refuse_huge(data)
    try:
        image = open_image(data)
    except InputError as exc:
        if exc.code == "too_large":
            raise RequestRejected(413, "too_large", exc.message, "image") from None
        raise RequestRejected(
            415, "not_an_image", 'the "image" file is not a PNG, JPEG or other image', "image"
        ) from None
    try:
        return payload_text_from_image(image)
    except InputError as exc:
        raise RequestRejected(422, "no_qr_code", exc.message, "image") from None


async def read_image(request: Request) -> bytes:
    body = await request.body()  # at most _MAX_BODY_BYTES: BodyLimitMiddleware stops it there
    replayed = Request(request.scope, _replay(body))
    try:
        form = await replayed.form(max_files=1, max_fields=4, max_part_size=_MAX_BODY_BYTES)
    except HTTPException as exc:
        raise RequestRejected(400, "invalid_multipart", str(exc.detail), "image") from None
    try:
        upload = form.get("image")
        if not isinstance(upload, UploadFile):
            raise RequestRejected(
                422, "missing_image", 'the form must carry one file named "image"', "image"
            )
        data = await upload.read()
    finally:
        await form.close()
    return data


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _time_of(clock: Clock) -> datetime:
    return clock() if callable(clock) else clock


def create_app(
    source_factory: Callable[[], StatusSource],
    as_authority: str,
    clock: Clock | None = None,
    *,
    max_age: timedelta = DEFAULT_MAX_AGE,
    checks: CheckCounter | None = None,
    reporter: Reporter | None = None,
    report_interval: float = REPORT_INTERVAL_SECONDS,
) -> Starlette:
    """The page and its API, verifying as administration ``as_authority`` (e.g. ``"KR"``).

    ``source_factory()`` is called once per verification, in a worker thread, and returns
    the status source to ask; it owns that source's lifetime. Returning one shared
    ``OfflineCache`` is fine (it is thread-safe); so is choosing per request between a live
    source and the cache. ``clock`` is what ``verify`` takes (a datetime or a callable);
    ``None`` means the real time. Status data older than ``max_age`` is flagged stale.

    ``checks`` counts each verdict per day (verifier.checks); ``reporter`` sends those counts
    to the registry, after a verification, at most every ``report_interval`` seconds.
    """
    try:
        authority_code(as_authority)
    except ValueError as exc:
        raise ValueError(f"as_authority: {exc}") from None
    # Whatever the caller imported (web3, for a live source) may have raised it: JSON and
    # images from the network must not be able to overflow the C stack (contracts.recursion).
    restore_recursion_limit()
    clock_or_now: Clock = clock if clock is not None else _utc_now

    def run(upload: UploadedPayload) -> str:
        text = upload.text if upload.text is not None else qr_text_from_upload(upload.image)
        # Bytes, not str: verify() reads a str that names an existing file as a path, and
        # text from the network must never make the server open its own files.
        verdict = verify(
            text.encode("utf-8"),
            as_authority=as_authority,
            clock=clock_or_now,
            source=source_factory(),
            max_age=max_age,
        )
        if checks is not None:
            try:
                checks.count(verdict.outcome, _time_of(clock_or_now))
            except sqlite3.Error:
                # The officer still gets the verdict; only the statistic is lost.
                logger.exception("the border-check count could not be stored")
        return verdict.to_json(indent=None)

    last_report = [float("-inf")]

    def report_due() -> bool:
        if reporter is None or time.monotonic() - last_report[0] < report_interval:
            return False
        last_report[0] = time.monotonic()
        return True

    def send_report() -> None:
        assert reporter is not None
        if not reporter.report(_time_of(clock_or_now).date()):
            last_report[0] = float("-inf")  # retry after the next verification

    async def index(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8")

    async def config(request: Request) -> Response:
        return JSONResponse({"as_authority": as_authority, "max_upload_bytes": MAX_UPLOAD_BYTES})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def verify_endpoint(request: Request) -> Response:
        try:
            upload = await _payload(request)
            verdict_json = await run_in_threadpool(run, upload)
        except RequestRejected as exc:
            return _problem(exc.status, exc.code, exc.message, exc.field)
        except Exception:
            # verify() turns every bad payload into a verdict; reaching this means the
            # source factory failed (a missing cache file, no configuration), or a bug.
            logger.exception("verification failed outside the pipeline")
            return _problem(
                503, "server", "the verifier could not check this payload; try again later"
            )
        background = BackgroundTask(send_report) if report_due() else None
        return Response(verdict_json, media_type="application/json", background=background)

    async def http_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return _problem(exc.status_code, "http_error", str(exc.detail))

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/api/config", config, methods=["GET"]),
        Route("/api/verify", verify_endpoint, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        HTTPException: http_problem
    }
    return Starlette(
        routes=routes,
        # Security headers on every answer, the body limit's refusals included.
        middleware=[Middleware(SecurityHeadersMiddleware), Middleware(BodyLimitMiddleware)],
        exception_handlers=handlers,
    )


class UploadedPayload:
    """What a verify request carried: pasted or scanned text, or a photo's bytes."""

    __slots__ = ("image", "text")

    def __init__(self, *, text: str | None = None, image: bytes = b"") -> None:
        self.text = text
        self.image = image


async def _payload(request: Request) -> UploadedPayload:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        # At most MAX_JSON_BODY_BYTES: BodyLimitMiddleware stops the body there.
        return UploadedPayload(text=parse_text(await request.body()))
    if content_type == "multipart/form-data":
        return UploadedPayload(image=await read_image(request))
    raise RequestRejected(
        415,
        "unsupported_media_type",
        'send JSON {"text": ...} or a multipart form with an "image" file',
    )
