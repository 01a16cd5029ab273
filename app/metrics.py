"""Prometheus metrics: HTTP traffic of this process, and the shared state every process sees."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import redis
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.integrations.resilience import SharedBreaker
from app.jobs.queue import JobQueue

BREAKER_STATES = ("closed", "half-open", "open")


class SharedStateCollector(Collector):
    """Read at scrape time from Redis, so every server process reports the same breaker and queue state."""

    def __init__(self, breakers: list[SharedBreaker], jobs: JobQueue,
                 run_counts: Callable[[], dict[str, int]] | None = None) -> None:
        self._breakers = breakers
        self._jobs = jobs
        self._run_counts = run_counts

    def collect(self) -> Iterable[Metric]:
        breaker = GaugeMetricFamily("acme_circuit_breaker_state", "1 for the state each breaker is in",
                                    labels=["downstream", "state"])
        depth = GaugeMetricFamily("acme_queue_depth", "Jobs waiting in each queue", labels=["queue"])
        try:
            for b in self._breakers:
                current = b.state
                for state in BREAKER_STATES:
                    breaker.add_metric([b.name, state], 1.0 if state == current else 0.0)
            for queue in self._jobs.queues:
                depth.add_metric([queue.name], float(queue.count))
        except redis.RedisError:
            return []
        families: list[Metric] = [breaker, depth]
        if self._run_counts:
            runs = GaugeMetricFamily("acme_runs", "Runs recorded, by status", labels=["status"])
            try:
                for status, count in sorted(self._run_counts().items()):
                    runs.add_metric([status], float(count))
                families.append(runs)
            except SQLAlchemyError:
                pass
        return families


def _route_template(scope: Scope) -> str:
    """The route's path template (`/v1/runs/{run_id}`), so that ids do not each make a new series.

    The API's routers are mounted twice, at /v1 and unversioned, and scope["route"] holds the
    router's own path; the /v1 is put back from the request's path.
    """
    template = getattr(scope.get("route"), "path", None)
    if not template:
        # Plain Starlette routes (Slack's, health) leave no route in the scope; they come first, so
        # matching them is quick.
        for candidate in getattr(getattr(scope.get("app"), "router", None), "routes", []):
            if isinstance(candidate, Route) and candidate.matches(scope)[0] == Match.FULL:
                return candidate.path
        return "unmatched"
    if scope["path"].startswith("/v1/") and not template.startswith("/v1/"):
        return "/v1" + str(template)
    return str(template)


class HttpMetrics:
    """Pure ASGI middleware (no BaseHTTPMiddleware: it would add a task per request on the ack path)."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter("acme_http_requests_total", "HTTP requests answered", ["path", "status"],
                                registry=registry)
        self.latency = Histogram("acme_http_request_seconds", "Time to answer", ["path"], registry=registry,
                                 buckets=(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 3))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            path = _route_template(scope)
            self.requests.labels(path, str(status)).inc()
            self.latency.labels(path).observe(time.perf_counter() - started)
