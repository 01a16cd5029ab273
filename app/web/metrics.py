"""Prometheus metrics of the shared state every process sees: breakers, queues, runs."""

from __future__ import annotations

from collections.abc import Iterable

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from rq import Queue
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from app.integrations.resilience import SharedBreaker
from app.state.agent_counters import AgentCounters
from app.store.db import Database
from app.store.models import Run

BREAKER_STATES = ("closed", "half-open", "open")


class SharedStateCollector(Collector):
    """Read at scrape time from Redis and the database, so every server process reports the same state."""

    def __init__(self, breakers: list[SharedBreaker], queues: list[Queue], db: Database,
                 agent: AgentCounters) -> None:
        self._breakers = breakers
        self._queues = queues
        self._db = db
        self._agent = agent

    def _run_counts(self) -> dict[str, int]:
        with self._db.session() as session:
            return {status: count for status, count in session.execute(
                select(Run.status, func.count()).group_by(Run.status))}

    def _agent_families(self) -> list[Metric]:
        counts = self._agent.read()
        calls = CounterMetricFamily("acme_agent_model_calls", "Calls to the model, by outcome", labels=["outcome"])
        calls.add_metric(["answered"], counts.get("model_calls", 0))
        calls.add_metric(["failed"], counts.get("model_failures", 0))
        tokens = CounterMetricFamily("acme_agent_tokens", "Tokens the model read and wrote", labels=["kind"])
        tokens.add_metric(["prompt"], counts.get("prompt_tokens", 0))
        tokens.add_metric(["completion"], counts.get("completion_tokens", 0))
        fallbacks = CounterMetricFamily("acme_agent_fallbacks", "Turns the rules planner answered for the model",
                                        value=counts.get("fallbacks", 0))
        approvals = CounterMetricFamily("acme_agent_approvals", "Approvals asked, and how they ended",
                                        labels=["outcome"])
        for outcome in ("requested", "approved", "cancelled", "expired"):
            approvals.add_metric([outcome], counts.get(f"approvals_{outcome}", 0))
        feedback = CounterMetricFamily("acme_agent_feedback", "What people said of answers", labels=["verdict"])
        for verdict in ("good", "bad"):
            feedback.add_metric([verdict], counts.get(f"feedback_{verdict}", 0))
        return [calls, tokens, fallbacks, approvals, feedback]

    def collect(self) -> Iterable[Metric]:
        families: list[Metric] = []
        redis_up = GaugeMetricFamily("acme_redis_up", "1 when Redis answered this scrape; without it, the breaker, "
                                     "queue and agent figures are left out")
        try:
            families += self._redis_families()
            redis_up.add_metric([], 1.0)
        except redis.RedisError:
            redis_up.add_metric([], 0.0)
        database_up = GaugeMetricFamily("acme_database_up", "1 when the database answered this scrape")
        runs = GaugeMetricFamily("acme_runs", "Runs recorded, by status", labels=["status"])
        try:
            for status, count in sorted(self._run_counts().items()):
                runs.add_metric([status], float(count))
            families.append(runs)
            database_up.add_metric([], 1.0)
        except SQLAlchemyError:
            database_up.add_metric([], 0.0)
        return [*families, redis_up, database_up]

    def _redis_families(self) -> list[Metric]:
        # One question first: with Redis away, each breaker's state would fall back to closed, with a
        # warning for every breaker at every scrape.
        self._queues[0].connection.ping()
        breaker = GaugeMetricFamily("acme_circuit_breaker_state", "1 for the state each breaker is in",
                                    labels=["downstream", "state"])
        depth = GaugeMetricFamily("acme_queue_depth", "Jobs waiting in each queue", labels=["queue"])
        for b in self._breakers:
            current = b.state
            for state in BREAKER_STATES:
                breaker.add_metric([b.name, state], 1.0 if state == current else 0.0)
        for queue in self._queues:
            depth.add_metric([queue.name], float(queue.count))
        return [breaker, depth, *self._agent_families()]
