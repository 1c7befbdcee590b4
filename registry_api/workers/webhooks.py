"""The webhook dispatcher: delivers the partner feed to the URLs partners registered.

Per webhook, feed entries go out one at a time, in feed order: entry N+1 is not sent before
N was answered with a 2xx. Each attempt POSTs one entry's JSON (``FeedEntryPublic``) with

- ``AEO-Event-Id``: the entry's sequence. Delivery is at least once (a crash between the
  receiver's 2xx and our record of it sends the entry again), so receivers keep the ids
  they processed and ignore repeats: exactly once per event id from their side.
- ``AEO-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>``.

Each connection goes only where ``services.webhooks.AddressPolicy`` allows: the network
backend resolves the host, checks every address it resolves to, and connects to a checked
address itself, while the Host header and TLS (server name, certificate check) keep the
host name. A DNS answer that changes between registration and delivery (rebinding) is
checked again at each connection, and an HTTP redirect is never followed.

An attempt fails on anything but a 2xx: another status (redirects are not followed), a
timeout, a refused connection, a blocked address. The entry is tried again after an
exponential delay with jitter (``webhook_backoff_base * 2**(n-1)`` capped at
``webhook_backoff_cap``, times a random factor in [0.5, 1]); after
``webhook_disable_after_failures`` failures in a row the webhook is disabled and its head
delivery marked ``failed`` (``POST /v1/webhooks/{id}/enable`` resumes it from that entry).
A webhook whose API key is revoked is disabled too.

The delivery log is a delivery row per entry (state, attempts, last status code, last error,
when it was delivered) and an attempt row per POST (when, outcome, status code, error,
latency). Errors are classes (``DeliveryError``: timeout, connection_refused, tls_error,
dns_error, blocked_address, http_status, other); the exception's own text, which would tell
a partner what its URL reached, goes to the service's log only. Each attempt's latency is
also logged (``registry_api.workers.webhooks``) and measured (``aeo_webhook_delivery_seconds``).

The dispatcher works in its own threads with its own database sessions and holds no lock
the API needs, so a slow receiver never slows a request. Run one dispatcher per database
(the app starts one in its lifespan).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpcore
import httpx
import sqlalchemy as sa
from fastapi import FastAPI
from prometheus_client import Counter, Histogram
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from contracts.domain import days

from .. import __version__
from ..db import (
    ApiKey,
    AttemptOutcome,
    DeliveryState,
    FeedEntry,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    utc_now,
)
from ..db.webhooks import DeliveryError
from ..metrics import Metrics
from ..services import feed
from ..services.webhooks import (
    AddressPolicy,
    BlockedAddressError,
    WebhookSecretError,
    WebhookSecrets,
    reveal_secret,
    seal_stored_secrets,
)
from ..settings import Settings

logger = logging.getLogger("registry_api.webhooks")

EVENT_ID_HEADER = "AEO-Event-Id"
SIGNATURE_HEADER = "AEO-Signature"
WEBHOOK_ID_HEADER = "AEO-Webhook-Id"
EVENT_KIND_HEADER = "AEO-Event-Kind"
#: how much of a failure's text the service's log keeps
MAX_DETAIL_LENGTH = 500
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The ``AEO-Signature`` header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def backoff(attempts: int, settings: Settings, draw: Callable[[], float]) -> float:
    """Seconds to wait after the ``attempts``-th failure in a row of one delivery."""
    exponent = min(attempts - 1, 62)  # 2**62 s is past any cap; avoids float overflow
    delay = min(settings.webhook_backoff_cap, settings.webhook_backoff_base * 2.0**exponent)
    # Jitter spreads retries of many webhooks that failed together (a partner outage).
    return delay * (0.5 + 0.5 * draw())


# ---------------------------------------------------------------- the connections


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's network backend, connecting only where ``policy`` allows.

    httpcore asks it for a TCP connection to the URL's host name; it resolves the name,
    refuses the connection if any address is refused (BlockedAddressError), and otherwise
    connects to the checked addresses in turn. httpcore then starts TLS with the host name
    (server name indication and certificate check) and sends the name as the Host header:
    only the socket's destination is pinned.
    """

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        failure: httpcore.ConnectError | None = None
        for address in self.policy.addresses(host, port):
            try:
                return self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:  # this address refused: try the next one
                failure = exc
        assert failure is not None  # addresses() returns at least one
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise BlockedAddressError("webhooks never connect to a Unix socket")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it was raised from, outermost first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def classify(exc: BaseException) -> DeliveryError:
    """The class of a failed attempt, from the exception and its causes."""
    for cause in _causes(exc):
        if isinstance(cause, BlockedAddressError):
            return DeliveryError.BLOCKED_ADDRESS
        if isinstance(cause, socket.gaierror):
            return DeliveryError.DNS_ERROR
        if isinstance(cause, httpcore.TimeoutException | TimeoutError):
            return DeliveryError.TIMEOUT
        if isinstance(cause, ssl.SSLError | ssl.CertificateError):
            return DeliveryError.TLS_ERROR
        if isinstance(cause, ConnectionRefusedError):
            return DeliveryError.CONNECTION_REFUSED
    return DeliveryError.OTHER


def _describe(exc: BaseException) -> str:
    """The failure's own text, for the service's log (never the partner's)."""
    parts = [f"{type(cause).__name__}: {cause}" for cause in _causes(exc)]
    return " <- ".join(parts)[:MAX_DETAIL_LENGTH]


def _request_url(url: str) -> httpcore.URL:
    """``url`` as httpcore takes it, read the way httpx reads URLs (IDNA host, encoded
    path and query), so the host checked at registration is the host connected to."""
    parsed = httpx.URL(url)
    return httpcore.URL(
        scheme=parsed.raw_scheme, host=parsed.raw_host, port=parsed.port, target=parsed.raw_path
    )


# ---------------------------------------------------------------- the dispatcher


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one POST gave."""

    outcome: AttemptOutcome
    status_code: int | None
    error: DeliveryError | None
    #: the dispatcher's clock when the attempt started
    started_at: datetime
    #: seconds
    latency: float
    #: the failure's own text, for the service's log only
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is AttemptOutcome.DELIVERED


@dataclass(slots=True)
class DispatchReport:
    """What a round did (for tests and logs)."""

    delivered: int = 0
    failed_attempts: int = 0
    disabled: int = 0
    #: some webhook has more due entries than one round sends
    more: bool = False

    def add(self, other: DispatchReport) -> None:
        self.delivered += other.delivered
        self.failed_attempts += other.failed_attempts
        self.disabled += other.disabled
        self.more = self.more or other.more


@dataclass(frozen=True, slots=True)
class _Job:
    webhook_id: int
    delivery_id: int
    sequence: int
    kind: str
    url: str
    secret: str
    body: bytes


class WebhookDispatcher:
    """Delivers feed entries to every active webhook; ``run_once`` does one round,
    ``start``/``stop`` run rounds in a background thread.

    ``settings`` gives the authority, the ``webhook_*`` tuning, the networks deliveries may
    reach besides public ones, and the passphrase the secrets are sealed under. ``clock``
    decides when retries are due (tests move it forward instead of waiting); signatures
    always carry the real time, which receivers compare with their own clock. ``draw`` is
    the jitter's random source. ``policy`` replaces the address policy (tests give one with
    their own resolver), ``ssl_context`` the TLS trust (tests trust their own CA).
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        settings: Settings,
        *,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = utc_now,
        draw: Callable[[], float] = random.random,
        policy: AddressPolicy | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.authority = settings.authority
        self.settings = settings
        self.clock = clock
        self._draw = draw
        self.policy = policy or AddressPolicy.of(settings)
        self._ssl_context = ssl_context
        self._sealer = WebhookSecrets.of(settings)
        #: webhooks whose secret did not open, already reported in the log
        self._unreadable: set[int] = set()
        self._client: httpcore.ConnectionPool | None = None
        self._client_guard = threading.Lock()
        self._locks: dict[int, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_guard = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._metrics = _webhook_metrics(metrics) if metrics is not None else None

    # ------------------------------------------------------------ running

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._loop, name=f"webhooks-{self.authority}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop the background thread (an attempt in flight finishes or times out) and
        release the HTTP connections."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout if timeout is not None else self.settings.webhook_timeout + 5)
            self._thread = None
        with self._pool_guard:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
        with self._client_guard:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                report = self.run_once()
            except Exception:  # a round must never end the worker; the next one retries
                logger.exception("webhook round failed")
                report = DispatchReport()
            if not report.more:
                self._stopping.wait(self.settings.webhook_poll_interval)

    def run_once(self) -> DispatchReport:
        """One round: every active webhook gets its due entries, in order, up to ``batch``
        each, webhooks in parallel. Safe to call while the background thread runs: a
        webhook is served by one thread at a time."""
        with self.session_factory() as session:
            webhook_ids = list(
                session.scalars(
                    sa.select(Webhook.id).where(Webhook.active.is_(True)).order_by(Webhook.id)
                ).all()
            )
        report = DispatchReport()
        if not webhook_ids:
            return report
        if len(webhook_ids) == 1:
            report.add(self.serve(webhook_ids[0]))
            return report
        for partial in self._executor().map(self.serve, webhook_ids):
            report.add(partial)
        return report

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_guard:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.settings.webhook_workers,
                    thread_name_prefix=f"webhooks-{self.authority}",
                )
            return self._pool

    def _http(self) -> httpcore.ConnectionPool:
        """The connection pool: httpcore's, whose network backend is the guard (httpx takes
        no network backend; httpcore never follows redirects)."""
        with self._client_guard:
            if self._client is None:
                self._client = httpcore.ConnectionPool(
                    ssl_context=self._ssl_context or httpx.create_ssl_context(),
                    max_connections=100,
                    max_keepalive_connections=20,
                    keepalive_expiry=5.0,
                    network_backend=GuardedBackend(self.policy),
                )
            return self._client

    def _lock(self, webhook_id: int) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(webhook_id, threading.Lock())

    # ------------------------------------------------------------ one webhook

    def serve(self, webhook_id: int) -> DispatchReport:
        """Deliver ``webhook_id``'s due entries in order until one fails, none is due, or
        ``batch`` went out."""
        report = DispatchReport()
        with self._lock(webhook_id):
            for _ in range(self.settings.webhook_batch):
                job = self._next_job(webhook_id, report)
                if job is None:
                    return report
                attempt = self._post(job)
                self._record(job, attempt, report)
                if not attempt.ok:
                    return report
            report.more = True
        return report

    def _next_job(self, webhook_id: int, report: DispatchReport) -> _Job | None:
        now = self.clock()
        with self.session_factory() as session:
            webhook = session.get(Webhook, webhook_id)
            if webhook is None or not webhook.active:
                return None
            key = session.get(ApiKey, webhook.api_key_id)
            if key is None or key.revoked_at is not None:
                webhook.active = False
                webhook.disabled_at = now
                session.commit()
                report.disabled += 1
                logger.warning(
                    "webhook disabled: its API key was revoked", extra={"webhook_id": webhook_id}
                )
                return None
            delivery = session.scalars(
                sa.select(WebhookDelivery)
                .where(
                    WebhookDelivery.webhook_id == webhook_id,
                    WebhookDelivery.state == DeliveryState.PENDING,
                )
                .order_by(WebhookDelivery.feed_sequence)
                .limit(1)
            ).first()
            if delivery is None:
                delivery = self._queue_next(session, webhook, key, now)
                if delivery is None:
                    return None
            elif delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
                return None
            try:
                secret = reveal_secret(self._sealer, webhook)
            except WebhookSecretError as exc:
                # Nothing is sent rather than something signed with a wrong key; no attempt
                # is counted, so the webhook resumes once the service has its passphrase.
                if webhook_id not in self._unreadable:
                    self._unreadable.add(webhook_id)
                    logger.error("webhook not served: %s", exc, extra={"webhook_id": webhook_id})
                return None
            entry = session.get(FeedEntry, delivery.feed_sequence)
            assert entry is not None  # feed entries are never deleted
            return _Job(
                webhook_id=webhook_id,
                delivery_id=delivery.id,
                sequence=entry.sequence,
                kind=entry.kind,
                url=webhook.url,
                secret=secret,
                body=feed.entry_json(entry).encode("utf-8"),
            )

    def _queue_next(
        self, session: Session, webhook: Webhook, key: ApiKey, now: datetime
    ) -> WebhookDelivery | None:
        """Create the delivery of the next entry the webhook's key may see, if any.

        Only called when the webhook has no pending delivery, and always for an entry after
        every delivery it has: this is what keeps deliveries in feed order.
        """
        last = session.scalar(
            sa.select(sa.func.max(WebhookDelivery.feed_sequence)).where(
                WebhookDelivery.webhook_id == webhook.id
            )
        )
        audience = feed.audience_of(
            session,
            role=key.role,
            partner_authority=key.partner_authority,
            own=self.authority,
            day=days.day_of(int(now.timestamp())),
        )
        # A new webhook receives what is recorded from its registration on (older entries
        # are in /v1/feed).
        entry = feed.next_entry(session, audience, after=last or 0, not_before=webhook.created_at)
        if entry is None:
            return None
        delivery = WebhookDelivery(
            webhook_id=webhook.id,
            feed_sequence=entry.sequence,
            state=DeliveryState.PENDING,
            attempts=0,
            next_attempt_at=now,
        )
        session.add(delivery)
        try:
            session.commit()
        except IntegrityError:
            # Another dispatcher (a second process on the same database) queued it first.
            session.rollback()
            return None
        return delivery

    def _post(self, job: _Job) -> Attempt:
        timestamp = int(time.time())
        headers: dict[bytes | str, bytes | str] = {
            "User-Agent": f"aeo-registry/{__version__} ({self.authority} webhooks)",
            "Content-Type": "application/json",
            EVENT_ID_HEADER: str(job.sequence),
            EVENT_KIND_HEADER: job.kind,
            WEBHOOK_ID_HEADER: str(job.webhook_id),
            SIGNATURE_HEADER: signature(job.secret, job.body, timestamp),
        }
        limit = self.settings.webhook_timeout
        timeouts = {"connect": limit, "read": limit, "write": limit, "pool": limit}
        started_at = self.clock()
        started = time.perf_counter()
        status_code: int | None = None
        error: DeliveryError | None = None
        detail: str | None = None
        try:
            # Streamed so that only the status line and headers are read: a receiver's
            # answer body is not ours to download.
            with self._http().stream(
                "POST",
                _request_url(job.url),
                headers=headers,
                content=job.body,
                extensions={"timeout": timeouts},
            ) as answer:
                status_code = answer.status
        except Exception as exc:  # any failure of one attempt is that attempt's failure
            error = classify(exc)
            detail = _describe(exc)
        latency = time.perf_counter() - started
        if status_code is None:
            timed_out = error is DeliveryError.TIMEOUT
            outcome = AttemptOutcome.TIMEOUT if timed_out else AttemptOutcome.NETWORK_ERROR
        elif 200 <= status_code < 300:
            outcome = AttemptOutcome.DELIVERED
        else:
            outcome = AttemptOutcome.HTTP_ERROR
            error = DeliveryError.HTTP_STATUS
        attempt = Attempt(
            outcome=outcome,
            status_code=status_code,
            error=error,
            started_at=started_at,
            latency=latency,
            detail=detail,
        )
        if self._metrics is not None:
            self._metrics.latency.labels(outcome=outcome.value).observe(latency)
            self._metrics.attempts.labels(outcome=outcome.value).inc()
        return attempt

    def _record(self, job: _Job, attempt: Attempt, report: DispatchReport) -> None:
        now = self.clock()
        with self.session_factory() as session:
            delivery = session.get(WebhookDelivery, job.delivery_id)
            webhook = session.get(Webhook, job.webhook_id)
            if delivery is None or webhook is None:
                return  # the webhook was deleted during the attempt
            error = attempt.error.value if attempt.error is not None else None
            delivery.attempts += 1
            delivery.last_status_code = attempt.status_code
            delivery.last_error = error
            session.add(
                WebhookDeliveryAttempt(
                    delivery_id=delivery.id,
                    attempted_at=attempt.started_at,
                    outcome=attempt.outcome,
                    status_code=attempt.status_code,
                    error=error,
                    latency_ms=round(attempt.latency * 1000, 3),
                )
            )
            if attempt.ok:
                delivery.state = DeliveryState.DELIVERED
                delivery.delivered_at = now
                delivery.next_attempt_at = None
                report.delivered += 1
            elif delivery.attempts >= self.settings.webhook_disable_after_failures:
                delivery.state = DeliveryState.FAILED
                delivery.next_attempt_at = None
                webhook.active = False
                webhook.disabled_at = now
                report.failed_attempts += 1
                report.disabled += 1
            else:
                delay = backoff(delivery.attempts, self.settings, self._draw)
                delivery.next_attempt_at = now + timedelta(seconds=delay)
                report.failed_attempts += 1
            session.commit()
            logger.info(
                "webhook attempt",
                extra={
                    "webhook_id": job.webhook_id,
                    "event_id": job.sequence,
                    "outcome": attempt.outcome.value,
                    "error": error,
                    # The failure's own text stays in this log (the operator's), never in
                    # the delivery log a partner reads.
                    "detail": attempt.detail,
                    "status_code": attempt.status_code,
                    "latency_ms": round(attempt.latency * 1000, 2),
                    "attempts": delivery.attempts,
                    "disabled": not webhook.active,
                },
            )


@dataclass(frozen=True, slots=True)
class _DispatchMetrics:
    latency: Histogram
    attempts: Counter


#: one set per Metrics registry: an app started twice (tests) must not register them twice
_METRICS: weakref.WeakKeyDictionary[Metrics, _DispatchMetrics] = weakref.WeakKeyDictionary()
_METRICS_GUARD = threading.Lock()


def _webhook_metrics(metrics: Metrics) -> _DispatchMetrics:
    with _METRICS_GUARD:
        found = _METRICS.get(metrics)
        if found is None:
            found = _METRICS[metrics] = _DispatchMetrics(
                latency=Histogram(
                    "aeo_webhook_delivery_seconds",
                    "Latency of webhook delivery attempts, by outcome.",
                    ["outcome"],
                    buckets=LATENCY_BUCKETS,
                    registry=metrics.registry,
                ),
                attempts=Counter(
                    "aeo_webhook_attempts",
                    "Webhook delivery attempts, by outcome (delivered, http_error, timeout, "
                    "network_error).",
                    ["outcome"],
                    registry=metrics.registry,
                ),
            )
        return found


def start_webhook_dispatcher(app: FastAPI) -> WebhookDispatcher:
    """Build the app's dispatcher (``app.state.webhooks``, tuned by the app's
    ``webhook_*`` settings). Its rounds run as the app's ``webhooks`` job
    (registry_api.workers, under leadership), or by hand in tests
    (``app.state.webhooks.run_once()``). The lifespan stops it on shutdown.

    First the stored secrets are checked: those stored in clear by earlier versions are
    sealed, and a secret that does not open with this service's passphrase stops the start
    with a ConfigurationError (WebhookSecretError) that says so."""
    settings: Settings = app.state.settings
    seal_stored_secrets(app.state.session_factory, WebhookSecrets.of(settings))
    dispatcher = WebhookDispatcher(app.state.session_factory, settings, metrics=app.state.metrics)
    app.state.webhooks = dispatcher
    return dispatcher
