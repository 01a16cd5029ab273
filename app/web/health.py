"""GET /healthz, /readyz and /metrics: for load balancers, orchestrators and Prometheus."""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio
import redis
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from app.domain.system_status import SystemStatus
from app.store.db import Database
from app.web.thread_lanes import ThreadLane

log = logging.getLogger(__name__)
# Longer than a probe's work with everything up; shorter than orchestrators' own timeouts (often 1-5 s).
PROBE_DEADLINE_S = 2.0


def database_problem(db: Database) -> str | None:
    """Why the database cannot take a write now (None: it can). Blocking: call it off the event loop.

    Not just a SELECT 1: a SQLite file deleted under the server still answers reads, and writes that
    vanish at the next start.
    """
    return db.unwritable()


def health_routes(db: Database, read_system_status: Callable[[], SystemStatus],
                  registry: CollectorRegistry, lane: ThreadLane) -> list[Route]:
    """`read_system_status` should use the short Redis timeout: a probe is answered within PROBE_DEADLINE_S."""

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    # The database and Redis calls below block: they run in the probes' own lane of threads, so that neither
    # the event loop (nor /healthz, answered on it) nor the API's threads wait with them when Redis hangs,
    # however often an orchestrator asks.
    async def in_lane(probe: Callable[[], Response], what: str) -> Response:
        with anyio.move_on_after(PROBE_DEADLINE_S):
            return await lane.run(probe)
        log.warning("%s: no answer within %.0f s (Redis or the database hung?)", what, PROBE_DEADLINE_S)
        return JSONResponse({"ready": False, "reason": f"no answer within {PROBE_DEADLINE_S:.0f} s"},
                            status_code=503)

    async def readyz(request: Request) -> Response:
        return await in_lane(ready, "not ready")

    async def metrics(request: Request) -> Response:
        return await in_lane(lambda: Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST),
                             "metrics")

    def ready() -> Response:
        problem = database_problem(db)
        if problem is not None:
            log.warning("not ready: %s", problem)
            # The driver's detail (a host, a port) stays in the log: /readyz answers without a key.
            return JSONResponse({"database": "unavailable", "reason": problem.split(": ")[0]}, status_code=503)
        try:
            status = read_system_status()
        except redis.RedisError as exc:
            log.warning("not ready: Redis does not answer: %s", exc)
            return JSONResponse({"redis": "unavailable"}, status_code=503)
        return JSONResponse({
            "redis": "ok",
            "database": "ok",
            "circuit_breakers": {b.name: b.state for b in status.breakers},
            "queues": {q.name: q.depth for q in status.queues},
            "oldest_waiting_job_s": {q.name: q.oldest_wait_s for q in status.queues},
        })

    return [
        Route("/healthz", healthz, methods=["GET"], include_in_schema=False),
        Route("/readyz", readyz, methods=["GET"], include_in_schema=False),
        Route("/metrics", metrics, methods=["GET"], include_in_schema=False),
    ]
