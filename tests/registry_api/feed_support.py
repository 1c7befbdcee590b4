"""Helpers for the MRA, feed and webhook tests: chain writes of the other administrations,
a real HTTP receiver for webhooks, and a real uvicorn server for the live stream."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import uvicorn
from fastapi import FastAPI

from contracts.bootstrap import Consortium
from contracts.chain import Chain, latest_timestamp
from contracts.domain import days
from contracts.domain.enums import MembershipAction
from contracts.domain.events import MraProposed
from contracts.domain.record import CertificateRecord
from contracts.logs import first_event, receipt_events
from contracts.reader import RegistryReader
from registry_api.db import Certificate

from .conftest import ChainApp

S = 2  # security and safety (AEOS)
C = 1  # customs simplifications (AEOC)


def chain_day(chain: Chain) -> int:
    """The day the contracts see (the latest block's)."""
    return days.day_of(latest_timestamp(chain))


def record(
    issuer: str, number: str, tiers: int, valid_from: date, valid_until: date | None = None
) -> CertificateRecord:
    return CertificateRecord.model_validate(
        {
            "issuer": issuer,
            "number": number,
            "holder": {
                "legal_name": f"Holder of {number}",
                "address": {"street": "Peace Avenue 17", "city": "Ulaanbaatar", "country": "MN"},
                "identification": {"scheme": "TIN", "number": number.replace("-", "")[-12:]},
            },
            "business_roles": ["IM"],
            "tiers": tiers,
            "issuing_office": "Ulaanbaatar Customs House",
            "officer": "B. Bat-Erdene",
            "valid_from": valid_from.isoformat(),
            **({"valid_until": valid_until.isoformat()} if valid_until else {}),
        }
    )


def issue(
    consortium: Consortium,
    number: str,
    tiers: int,
    *,
    issuer: str | None = None,
    valid_from: int | None = None,
    valid_until: int | None = None,
    service: ChainApp | None = None,
) -> bytes:
    """Issue a certificate on-chain with its issuer's operator; with ``service`` (the
    issuer's own registry), first store its full record there, as an issue request would."""
    code = issuer or number.split("-", 1)[0]
    start = valid_from if valid_from is not None else chain_day(consortium.chain) - 30
    end = valid_until if valid_until is not None else days.MAX_DAY
    full = record(
        code,
        number,
        tiers,
        days.from_day(start),
        days.from_day(end) if valid_until is not None else None,
    )
    hashes = full.hashes()
    if service is not None:
        with service.session() as session:
            session.add(Certificate.from_record(full))
            session.commit()
    consortium.operator(code).issue(number, tiers, start, end, hashes.holder_ref, hashes.commitment)
    return hashes.certificate_id


def propose_mra(
    consortium: Consortium,
    proposer: str,
    parties: dict[str, int],
    *,
    effective_from: int | None = None,
    ends_on: int = 0,
    signers: tuple[str, ...] | None = None,
) -> int:
    """An MRA proposed by ``proposer`` and signed by ``signers`` (default: every party, so
    it is signed; pass ``()`` to leave it proposed). Returns its id."""
    day = chain_day(consortium.chain)
    receipt = consortium.operator(proposer).propose_mra(
        list(parties),
        list(parties.values()),
        effective_from if effective_from is not None else day,
        ends_on,
        b"\x11" * 32,
    )
    event = first_event(
        receipt_events(consortium.chain, consortium.deployment, receipt), MraProposed
    )
    for party in parties if signers is None else signers:
        if party != proposer:
            consortium.operator(party).sign_mra(event.mra_id)
    return event.mra_id


def suspend_member(consortium: Consortium, code: str) -> None:
    """The other members vote ``code`` out of active membership."""
    voters = [c for c in consortium.members if c != code]
    reader = RegistryReader(consortium.chain, consortium.deployment)
    receipt = consortium.admin(voters[0]).propose_membership(MembershipAction.SUSPEND, code)
    proposal_id = next(
        e.proposal_id
        for e in receipt_events(consortium.chain, consortium.deployment, receipt)
        if hasattr(e, "proposal_id")
    )
    for voter in voters[1:]:
        if reader.get_authority(code).status.name == "SUSPENDED":
            break
        consortium.admin(voter).vote(proposal_id)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# ---------------------------------------------------------------- a webhook receiver


@dataclass
class Received:
    event_id: int
    headers: dict[str, str]
    body: bytes
    answered: int | None

    @property
    def entry(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value


@dataclass
class Receiver:
    """A partner's webhook endpoint: a real HTTP server on 127.0.0.1 in a thread.

    Its port is bound at once and listens only after ``up()``: until then a connection is
    refused, as for a partner whose service is down. ``plan`` holds the answers to give,
    one per request (default 200): an int status, or ``"hold"`` (wait without answering
    until the test ends, so the sender times out).
    """

    plan: list[int | str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._release = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    answer = receiver.plan.pop(0) if receiver.plan else 200
                    receiver.received.append(
                        Received(
                            event_id=int(self.headers["AEO-Event-Id"]),
                            headers=dict(self.headers.items()),
                            body=body,
                            answered=answer if isinstance(answer, int) else None,
                        )
                    )
                if answer == "hold":
                    receiver._release.wait(30)
                    return
                assert isinstance(answer, int)
                self.send_response(answer)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the test reads `received`, not stderr

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.server.daemon_threads = True
        self.server.server_bind()
        self.port = self.server.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/aeo"

    def up(self) -> None:
        self.server.server_activate()
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._release.set()
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join(10)
        self.server.server_close()

    def event_ids(self) -> list[int]:
        with self._lock:
            return [r.event_id for r in self.received]


# ---------------------------------------------------------------- a real API server


class ApiServer:
    """``app`` served by uvicorn on 127.0.0.1 in a thread (its lifespan already ran in the
    test's TestClient, so the server only serves)."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            lifespan="off",
            log_level="warning",
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ApiServer:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(20)


def sse_events(lines: Iterator[str]) -> Iterator[dict[str, str]]:
    """Parse a text/event-stream into events (dicts of field -> value; comments as
    ``{"comment": text}``)."""
    event: dict[str, str] = {}
    for line in lines:
        if line == "":
            if event:
                yield event
            event = {}
        elif line.startswith(":"):
            yield {"comment": line[1:].strip()}
        else:
            name, _, value = line.partition(":")
            event[name] = value[1:] if value.startswith(" ") else value
