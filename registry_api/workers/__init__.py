"""The service's background work: jobs (the outbox sender, the indexer, the import runner,
the webhook deliverer), one thread each.

``create_app`` builds them in its lifespan and starts them unless ``AEO_RUN_WORKERS=false``
(HTTP-only processes: ``aeo serve --workers N``), and stops them on shutdown;
``app.state.workers`` holds them, so tests and scripts can drive a pass by hand with
``app.state.workers.sender.run_once()`` / ``.indexer.run_once()`` or ``.settle()``. The
sender and the indexer also add their readiness checks (``chain``, ``indexer``, ``sender``).
:func:`run_background` is ``aeo worker``: the same jobs without an HTTP server.

Each job runs only while this process leads it (:mod:`registry_api.leadership`): on
PostgreSQL several processes may offer to run the jobs and exactly one runs each; on SQLite
one process holds the database's background work and a second is refused.

The chain is reached through a :class:`ChainAccess`: built from the settings (deployment
file, chain kind, operator key file or HSM token), or handed to
``create_app(chain_access=...)`` by tests and by the demo, which already hold a connected
chain.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlalchemy as sa
from eth_account.signers.base import BaseAccount
from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3
from web3.exceptions import BlockNotFound

from contracts.chain import Chain, ChainSettings, connect
from contracts.deploy import Deployment
from contracts.errors import ChainError, ChainUnavailableError, translate_errors
from contracts.recursion import restore_recursion_limit
from contracts.transactions import TxClient

from ..errors import ConfigurationError
from ..faults import CrashAt, crash_hook_from_environment
from ..hsm import transaction_signer
from ..leadership import (
    RETRY_SECONDS,
    BackgroundHold,
    Lease,
    LocalLease,
    hold_sqlite_background,
    lease_for,
)
from ..metrics import Metrics
from ..readiness import CheckResult, ReadinessCheck
from ..services.imports import start_import_worker
from ..services.snapshots import SnapshotPublisher
from ..settings import ChainKind, Environment, Settings
from .indexer import Indexer
from .sender import OutboxSender
from .webhooks import start_webhook_dispatcher

if TYPE_CHECKING:
    from fastapi import FastAPI

logger = logging.getLogger("registry_api.workers")


@dataclass(frozen=True)
class ChainAccess:
    """How this service reaches the consortium chain.

    ``operator`` None makes a service that indexes and reads but sends nothing (its writes
    are accepted and wait; readiness says so). ``owns_chain``: close the chain at shutdown.
    """

    chain: Chain
    deployment: Deployment
    operator: BaseAccount | None = field(default=None, repr=False)
    owns_chain: bool = False

    @classmethod
    def selected(
        cls, chain: Chain, deployment: Deployment, settings: Settings, *, owns_chain: bool = False
    ) -> ChainAccess:
        """``chain`` with the operator account the settings select: the key file's, or the
        HSM token's (``AEO_KEY_BACKEND``; the passphrase is read only for the file backend)."""
        operator = transaction_signer(settings)
        if operator is None:
            logger.warning(
                "no operator key file at %s: writes are accepted but not sent",
                settings.operator_key_path,
            )
        return cls(chain=chain, deployment=deployment, operator=operator, owns_chain=owns_chain)


def chain_access_from_settings(settings: Settings) -> ChainAccess | None:
    """Connect as the settings say. Without a recorded deployment the service still serves
    (development: it answers, accepts writes, and says in its log why nothing is sent);
    in production that is a configuration error."""
    path = settings.deployment_path
    problem: str | None = None
    if settings.chain is ChainKind.MEMORY:
        problem = (
            "the memory chain lives in one process: pass create_app(chain_access=...) to "
            "run the sender and the indexer on it"
        )
    elif not path.exists():
        problem = f"no deployment recorded at {path} (deploy the contracts first)"
    if problem is not None:
        if settings.environment is Environment.PRODUCTION:
            raise ConfigurationError(problem)
        logger.warning("the sender and the indexer are not running: %s", problem)
        return None
    deployment = Deployment.load(path)
    chain_settings = ChainSettings(
        kind=settings.chain.value,
        rpc_url=settings.rpc_url,
        data_dir=settings.data_path,
        chain_id=deployment.chain_id,
    )
    try:
        chain = connect(chain_settings)
    except ChainUnavailableError as exc:
        if settings.chain is not ChainKind.RPC or settings.rpc_url is None:
            raise
        # The service must start (and accept writes) while its node is down; the workers
        # wait for it, and the sender checks the chain id once it answers.
        logger.warning("the chain node does not answer yet; the workers will wait: %s", exc)
        provider = Web3.HTTPProvider(settings.rpc_url, request_kwargs={"timeout": 10})
        chain = Chain("rpc", Web3(provider), chain_settings)
    return ChainAccess.selected(chain, deployment, settings, owns_chain=True)


@dataclass(frozen=True)
class _Job:
    name: str
    step: Callable[[], int]
    interval: float
    on_lead: Callable[[], None] | None = None


class _Loop:
    """Runs a job's step every ``interval`` seconds in a daemon thread until stopped, while
    this process leads the job (``lease``; a follower asks again every ``RETRY_SECONDS``); a
    step that made progress is followed by another one at once."""

    def __init__(self, job: _Job, lease: Lease | None = None) -> None:
        self.job = job
        self.name = job.name
        self.lease: Lease = lease or LocalLease()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name=job.name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.error("worker %s did not stop within %s s", self.name, timeout)

    def _leads(self, leading: bool) -> bool:
        """Whether this pass may run: still the leader, or just became it."""
        if leading and self.lease.still_held():
            return True
        if not self.lease.acquire():
            return False
        if self.job.on_lead is not None:
            self.job.on_lead()
        return True

    def _run(self) -> None:
        leading = False
        try:
            while not self._stop.is_set():
                leading = self._leads(leading)
                if not leading:
                    self._stop.wait(RETRY_SECONDS)
                    continue
                progressed = 0
                try:
                    progressed = self.job.step()
                except Exception:
                    # A bug in one pass must not end the worker: log it and try again later.
                    logger.exception("worker %s failed a pass", self.name)
                if progressed:
                    continue
                self._wake.wait(self.job.interval)
                self._wake.clear()
        finally:
            self.lease.release()


class Workers:
    """The background jobs of one service: the sender and the indexer (either may be None:
    no chain access, or no operator key), and whatever else :meth:`add_job` adds (the app
    adds the import runner and the webhook deliverer). Each job is one loop, run while this
    process leads it (registry_api.leadership)."""

    def __init__(
        self,
        *,
        access: ChainAccess | None,
        sender: OutboxSender | None,
        indexer: Indexer | None,
        settings: Settings,
        engine: sa.Engine | None = None,
    ) -> None:
        self.access = access
        self.sender = sender
        self.indexer = indexer
        self.settings = settings
        self.snapshots: SnapshotPublisher | None = None
        self.engine = engine
        self._jobs: list[_Job] = []
        self._loops: list[_Loop] = []
        self._hold: BackgroundHold | None = None
        if sender is not None:
            # Taking the outbox over, the sender first reconciles with what was sent meanwhile.
            self.add_job(
                "outbox-sender",
                sender.run_once,
                settings.sender_poll_interval,
                on_lead=sender.reconcile_next_pass,
            )
        if indexer is not None:
            self.add_job("indexer", indexer.poll, settings.indexer_poll_interval)

    @classmethod
    def build(
        cls,
        settings: Settings,
        session_factory: sessionmaker[Session],
        metrics: Metrics | None,
        access: ChainAccess | None,
        *,
        crash_at: CrashAt | None = None,
    ) -> Workers:
        engine = session_factory.kw.get("bind")
        engine = engine if isinstance(engine, sa.Engine) else None
        if access is None:
            return cls(access=None, sender=None, indexer=None, settings=settings, engine=engine)
        indexer = Indexer(
            session_factory,
            access.chain,
            access.deployment,
            settings.authority,
            metrics=metrics,
            crash_at=crash_at,
        )
        sender = None
        if access.operator is not None:
            sender = OutboxSender(
                session_factory,
                TxClient(access.chain, access.deployment),
                access.operator,
                metrics=metrics,
                crash_at=crash_at,
            )
        workers = cls(
            access=access, sender=sender, indexer=indexer, settings=settings, engine=engine
        )
        publisher = workers.snapshots = _snapshot_publisher(session_factory, settings, access.chain)
        workers.add_job("snapshots", publisher.poll, settings.snapshot_interval)
        return workers

    def add_job(
        self,
        name: str,
        step: Callable[[], int],
        interval: float,
        *,
        on_lead: Callable[[], None] | None = None,
    ) -> None:
        """One more background job: ``step`` runs a pass and returns how much it did (more
        than 0: the next pass follows at once), every ``interval`` seconds when idle.
        ``on_lead`` runs each time this process becomes the job's leader. Add jobs before
        :meth:`start`."""
        if self._loops:
            raise RuntimeError(f"job {name} added after the workers started")
        self._jobs.append(_Job(name, step, interval, on_lead))

    @property
    def jobs(self) -> list[str]:
        return [job.name for job in self._jobs]

    @property
    def running(self) -> bool:
        return bool(self._loops)

    def start(self) -> None:
        """Start every job's loop; on SQLite, first claim the database's background work
        (ConfigurationError when another process has it)."""
        if self._loops:
            return
        self._hold = hold_sqlite_background(self.settings.db_url)
        for job in self._jobs:
            lease = (
                lease_for(self.engine, self.settings.authority, job.name)
                if self.engine is not None
                else None
            )
            self._loops.append(_Loop(job, lease))
        for loop in self._loops:
            loop.start()

    def stop(self, timeout: float = 30.0) -> None:
        for loop in self._loops:
            loop.stop(timeout)
        self._loops = []
        if self._hold is not None:
            self._hold.release()
            self._hold = None
        if self.access is not None and self.access.owns_chain:
            self.access.chain.close()

    def wake(self, job: str) -> None:
        """Start a pass of ``job`` now (a no-op when it does not run in this process)."""
        for loop in self._loops:
            if loop.name == job:
                loop.wake()

    def wake_sender(self) -> None:
        """Start a sender pass now (a write was just accepted)."""
        self.wake("outbox-sender")

    def settle(self, max_rounds: int = 50) -> None:
        """Send every open operation and index the chain up to its head (tests, scripts;
        on a chain that mines each transaction at once)."""
        for _ in range(max_rounds):
            changed = self.sender.run_until_idle() if self.sender is not None else 0
            indexed = self.indexer.run_once() if self.indexer is not None else 0
            if not changed and not indexed:
                return

    # ------------------------------------------------------------------ readiness

    def readiness_checks(self) -> dict[str, ReadinessCheck]:
        if self.access is None:
            return {}
        checks: dict[str, ReadinessCheck] = {"chain": self._chain_check}
        if self.indexer is not None:
            checks["indexer"] = self._indexer_check
        checks["sender"] = self._sender_check
        return checks

    def _chain_check(self) -> CheckResult:
        assert self.access is not None
        try:
            head = self.access.chain.block_number()
        except ChainError as exc:
            return CheckResult(False, f"the chain node does not answer: {exc}"[:300])
        return CheckResult(True, f"block {head}")

    def _indexer_check(self) -> CheckResult:
        assert self.access is not None
        assert self.indexer is not None
        head = self.access.chain.block_number()
        block = self.indexer.cursor()
        lag = max(head - block, 0)
        limit = self.settings.indexer_max_lag_blocks
        status = self.indexer.status
        if status.last_error:
            return CheckResult(False, f"block {block}, {lag} behind: {status.last_error}"[:300])
        if lag > limit:
            return CheckResult(False, f"block {block}, {lag} blocks behind the head (> {limit})")
        return CheckResult(True, f"block {block}, {lag} behind the head")

    def _sender_check(self) -> CheckResult:
        if self.sender is None:
            return CheckResult(False, "no operator key: writes are accepted but not sent")
        status = self.sender.status
        if status.last_error:
            return CheckResult(False, f"operations wait: {status.last_error}"[:300])
        return CheckResult(True, f"next nonce {status.next_nonce}")


def _snapshot_publisher(
    session_factory: sessionmaker[Session], settings: Settings, chain: Chain
) -> SnapshotPublisher:
    """The signed status snapshot's publisher (services.snapshots), reading block times
    from the chain the indexer follows."""

    def block(number: int) -> tuple[bytes, int] | None:
        try:
            with translate_errors("reading a snapshot's block"):
                header = chain.w3.eth.get_block(number)
        except (BlockNotFound, ChainError):
            return None
        return bytes(header["hash"]), int(header["timestamp"])

    return SnapshotPublisher(session_factory, settings, block)


def start_workers(app: FastAPI, access: ChainAccess | None) -> Workers:
    """Build the workers for ``app`` (lifespan start-up) and register their readiness
    checks; the app adds its other jobs and starts them (unless the settings turn background
    work off)."""
    settings: Settings = app.state.settings
    crash_at = crash_hook_from_environment(settings)
    if access is None:
        access = chain_access_from_settings(settings)
    workers = Workers.build(
        settings, app.state.session_factory, app.state.metrics, access, crash_at=crash_at
    )
    checks: dict[str, ReadinessCheck] = app.state.readiness_checks
    for name, check in workers.readiness_checks().items():
        checks.setdefault(name, check)
    app.state.workers = workers
    return workers


def start_background(app: FastAPI, access: ChainAccess | None) -> Workers:
    """Build all of the app's background work in its lifespan: the workers (sender,
    indexer, snapshot publisher), then the import runner and the webhook dispatcher as two
    more of their jobs. :meth:`Workers.start` runs them (unless the settings turn
    background work off); :func:`stop_background` ends them all."""
    settings: Settings = app.state.settings
    workers = start_workers(app, access)
    # A memory chain, connected just now, imported py-evm, which raises it again.
    restore_recursion_limit()
    import_worker = start_import_worker(app)
    webhooks = start_webhook_dispatcher(app)
    # Every background job runs as one of the workers' loops, under leadership
    # (registry_api.leadership); HTTP-only processes (AEO_RUN_WORKERS=false) build them
    # for their readiness checks and for tests that drive passes by hand.
    workers.add_job("imports", import_worker.runner.run_once, settings.sender_poll_interval)
    workers.add_job(
        "webhooks", lambda: int(webhooks.run_once().more), settings.webhook_poll_interval
    )
    return workers


def stop_background(app: FastAPI) -> None:
    """Stop what :func:`start_background` built (lifespan shutdown)."""
    app.state.workers.stop()
    app.state.webhooks.stop()
    app.state.import_worker.stop()


def wake_sender(request: Request) -> None:
    """Tell the sender a write was accepted (a no-op when workers are not running)."""
    workers: Workers | None = getattr(request.app.state, "workers", None)
    if workers is not None:
        workers.wake_sender()


def run_background(
    settings: Settings,
    *,
    chain_access: ChainAccess | None = None,
    stop: threading.Event | None = None,
) -> None:
    """``aeo worker``: run this administration's background jobs (the app's, started as its
    lifespan starts them, with ``AEO_RUN_WORKERS`` on) and no HTTP server, until SIGTERM or
    SIGINT (or ``stop``, for tests). Raises ConfigurationError when SQLite's background work
    is another process's (registry_api.leadership)."""
    import asyncio
    import signal

    from ..app import create_app  # the app imports this module

    settings = settings.model_copy(update={"run_workers": True})
    app = create_app(settings, chain_access=chain_access)

    async def main() -> None:
        finished = asyncio.Event()
        loop = asyncio.get_running_loop()
        if threading.current_thread() is threading.main_thread():  # signals reach it only
            for number in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(number, finished.set)
        async with app.router.lifespan_context(app):
            workers: Workers = app.state.workers
            logger.info(
                "background work of %s: %s (each job runs in one process at a time)",
                settings.authority,
                ", ".join(workers.jobs),
            )
            while not finished.is_set() and not (stop is not None and stop.is_set()):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(finished.wait(), 0.5)

    asyncio.run(main())
