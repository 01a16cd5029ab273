"""Prometheus metrics of the shared state every process sees: breakers, queues, runs."""

from __future__ import annotations

from collections.abc import Iterable

import redis
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from rq import Queue
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from app.integrations.resilience import SharedBreaker
from app.store.db import Database
from app.store.models import Run

BREAKER_STATES = ("closed", "half-open", "open")


class SharedStateCollector(Collector):
    """Read at scrape time from Redis and the database, so every server process reports the same state."""

    def __init__(self, breakers: list[SharedBreaker], queues: list[Queue], db: Database) -> None:
        self._breakers = breakers
        self._queues = queues
        self._db = db

    def _run_counts(self) -> dict[str, int]:
        with self._db.session() as session:
            return {status: count for status, count in session.execute(
                select(Run.status, func.count()).group_by(Run.status))}

    def collect(self) -> Iterable[Metric]:
        breaker = GaugeMetricFamily("acme_circuit_breaker_state", "1 for the state each breaker is in",
                                    labels=["downstream", "state"])
        depth = GaugeMetricFamily("acme_queue_depth", "Jobs waiting in each queue", labels=["queue"])
        try:
            for b in self._breakers:
                current = b.state
                for state in BREAKER_STATES:
                    breaker.add_metric([b.name, state], 1.0 if state == current else 0.0)
            for queue in self._queues:
                depth.add_metric([queue.name], float(queue.count))
        except redis.RedisError:
            return []
        families: list[Metric] = [breaker, depth]
        runs = GaugeMetricFamily("acme_runs", "Runs recorded, by status", labels=["status"])
        try:
            for status, count in sorted(self._run_counts().items()):
                runs.add_metric([status], float(count))
            families.append(runs)
        except SQLAlchemyError:
            pass
        return families
