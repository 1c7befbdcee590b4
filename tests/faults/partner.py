"""A partner's webhook endpoint for the fault tests: a real HTTP server on 127.0.0.1 that the
test switches between down, slow, failing and up while a registry process delivers to it.

It receives as docs/api.md ("Webhooks") tells a partner to: it checks each signature, keeps
the event ids it processed and answers a repeat with 200 without processing it again. Unlike
tests/registry_api/feed_support.Receiver (answers planned per request, a hold until the
test ends), it changes behaviour over time and goes down and up again on the same port.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from contracts.anvil import free_port
from registry_api.workers.webhooks import EVENT_ID_HEADER, SIGNATURE_HEADER, signature


class Mode(StrEnum):
    DOWN = "down"  # nothing listens: connections are refused
    SLOW = "slow"  # processes, then answers 200 only after ``slow_seconds``
    FAILING = "failing"  # answers 500 without processing
    UP = "up"  # processes and answers 200 at once


@dataclass(frozen=True)
class Delivery:
    """One request as the endpoint saw it."""

    event_id: int
    mode: Mode
    answered: int | None  # what it answered (None: the sender was gone when it tried)
    signed: bool
    repeat: bool  # the id was already processed


@dataclass
class PartnerEndpoint:
    secret: str = ""
    slow_seconds: float = 3.0
    port: int = field(default_factory=free_port)
    deliveries: list[Delivery] = field(default_factory=list)
    #: each event id once, in the order processed (the receiver's deduplication table)
    processed: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.mode = Mode.DOWN
        #: requests being handled right now (a slow answer under way)
        self.in_flight = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/aeo/events"

    def switch(self, mode: Mode) -> None:
        if mode is Mode.DOWN:
            self._close()
        elif self._server is None:
            self._open()
        self.mode = mode

    def count(self, mode: Mode) -> int:
        with self._lock:
            return sum(1 for d in self.deliveries if d.mode is mode)

    def close(self) -> None:
        self._close()

    # -------------------------------------------------------------- the server

    def _open(self) -> None:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                endpoint._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the test reads `deliveries`

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def _close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.in_flight += 1
        try:
            self._answer(request, self.mode)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, request: BaseHTTPRequestHandler, mode: Mode) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length", "0")))
        event_id = int(request.headers[EVENT_ID_HEADER])
        header = request.headers.get(SIGNATURE_HEADER, "")
        timestamp = int(header.split(",")[0].removeprefix("t=")) if header.startswith("t=") else 0
        signed = header == signature(self.secret, body, timestamp)
        answer = 500
        repeat = False
        if mode is not Mode.FAILING and signed:
            if mode is Mode.SLOW:
                time.sleep(self.slow_seconds)
            with self._lock:
                repeat = event_id in self.processed
                if not repeat:
                    self.processed.append(event_id)
            answer = 200
        answered: int | None = answer
        try:
            request.send_response(answer)
            request.send_header("Content-Length", "0")
            request.end_headers()
        except OSError:
            answered = None  # the sender timed out and closed the connection
        with self._lock:
            self.deliveries.append(Delivery(event_id, mode, answered, signed, repeat))
        with contextlib.suppress(OSError):
            request.wfile.flush()
