"""Prometheus metrics of one registry service, on a registry of its own (not the global
one), so that several apps in one process (tests, two administrations) never collide."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from .db import OPEN_OPERATION_STATES, Operation

logger = logging.getLogger("registry_api.metrics")

#: seconds; API requests are mostly database reads, writes only enqueue
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: seconds from accepting an operation to its receipt (block times of 1 s to 15 s)
CONFIRMATION_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class OutboxDepthCollector(Collector):
    """``aeo_outbox_depth{state}``: operations the sender has not finished, counted from
    the database at scrape time, so the figure is right whichever process changed it."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "aeo_outbox_depth",
            "Accepted operations not yet confirmed or failed, by state.",
            labels=["state"],
        )
        try:
            with self._session_factory() as session:
                rows = session.execute(
                    sa.select(Operation.state, sa.func.count())
                    .where(Operation.state.in_(OPEN_OPERATION_STATES))
                    .group_by(Operation.state)
                ).all()
        except SQLAlchemyError:
            logger.warning("outbox depth unavailable: the database did not answer")
            return
        counts = {state: 0 for state in OPEN_OPERATION_STATES}
        for state, count in rows:
            counts[state] = count
        for state, count in counts.items():
            family.add_metric([state.value], count)
        yield family


class Metrics:
    """Every metric the service exports. The sender and the indexer update theirs."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.request_latency = Histogram(
            "aeo_http_request_duration_seconds",
            "HTTP request latency, by route template.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.indexer_lag_blocks = Gauge(
            "aeo_indexer_lag_blocks",
            "Blocks between the chain head and the indexer's cursor.",
            registry=self.registry,
        )
        self.indexer_block = Gauge(
            "aeo_indexer_block",
            "The last block whose events are all in the database.",
            registry=self.registry,
        )
        self.operations_finished = Counter(
            "aeo_operations_finished",
            "Operations that reached a final state, by kind and outcome (confirmed, failed).",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.confirmation_seconds = Histogram(
            "aeo_operation_confirmation_seconds",
            "Time from accepting an operation to its confirmed receipt.",
            ["kind"],
            buckets=CONFIRMATION_BUCKETS,
            registry=self.registry,
        )

    def watch_outbox(self, session_factory: sessionmaker[Session]) -> None:
        self.registry.register(OutboxDepthCollector(session_factory))
