"""Blocking work (Bolt's dispatch, Redis, the database) run off the event loop, in threads, by lane.

Each lane has its own cap on threads, so that one kind of work stuck on a hung dependency (the CRM's
webhooks, the API's rate limiter waiting on Redis, a slow database under /readyz) cannot take the
threads Slack's acks need; /healthz needs none and answers on the loop whatever the threads are doing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")


class ThreadLane:
    def __init__(self, name: str, threads: int) -> None:
        self.name = name
        self._limiter = anyio.CapacityLimiter(threads)

    async def run(self, func: Callable[..., T], *args: object) -> T:
        """`func(*args)` in a thread of this lane; waits for a free one when all are busy."""
        return await anyio.to_thread.run_sync(func, *args, limiter=self._limiter)


class ThreadLanes:
    """The web process's lanes: Slack's acks, the CRM's events, and the probes (/readyz, /metrics).

    (The API's gateway has threads of its own, app/api/gateway.py; FastAPI runs the API's plain `def`
    routes in its shared pool.)
    """

    def __init__(self, slack: int = 16, webhooks: int = 8, probes: int = 4) -> None:
        self.slack = ThreadLane("slack", slack)
        self.webhooks = ThreadLane("webhooks", webhooks)
        # /readyz and /metrics: asked every few seconds, and stuck for as long as Redis or the database is.
        self.probes = ThreadLane("probes", probes)
