"""Running the queue: `acme worker` in a process of its own, or a worker thread for the demo and tests."""

from __future__ import annotations

import logging
import threading
from typing import Any

import redis
from rq import SimpleWorker
from rq.timeouts import TimerDeathPenalty

from app.jobs import runtime
from app.jobs.queue import NOTIFICATION_QUEUE, REPORT_QUEUE, RUN_QUEUE, SUMMARY_QUEUE
from app.services import Services

# In priority order: a waiting summary goes before notifications, and both before long reports.
QUEUE_NAMES = [SUMMARY_QUEUE, NOTIFICATION_QUEUE, RUN_QUEUE, REPORT_QUEUE]


def _worker_connection(services: Services) -> redis.Redis:
    # RQ raises the socket timeout of the connection it is given to fit its blocking
    # dequeue; our own calls keep their short timeout on a connection of their own.
    return redis.Redis.from_url(services.settings.redis_url)


def run_worker(services: Services, burst: bool = False) -> bool:
    """Work the queues in this process until stopped (or until they are empty, with `burst`).

    SimpleWorker runs each job in this process instead of forking: a job starts
    in about 3 ms instead of 10 ms, and the CRM client and breaker are built once.
    """
    runtime.install(services)
    worker = SimpleWorker(QUEUE_NAMES, connection=_worker_connection(services))
    return worker.work(burst=burst, logging_level=services.settings.log_level.upper())


class _ThreadSafeWorker(SimpleWorker):
    # Signal-based job timeouts and stop handlers work only in the main thread.
    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> Any:
        # RQ's idle loop only ends on a job or a signal. Waiting a second at a time lets
        # stop() end it between jobs, never with a job taken off the queue and dropped.
        while not self._stop_requested:
            result = super().dequeue_job_and_maintain_ttl(timeout, max_idle_time=1)
            if result is not None:
                return result
        return None


class WorkerThread:
    """A worker in a background thread of this process, stopped within about a second."""

    def __init__(self, services: Services) -> None:
        runtime.install(services)
        self._worker = _ThreadSafeWorker(QUEUE_NAMES, connection=_worker_connection(services))
        self._thread = threading.Thread(
            target=self._worker.work,
            kwargs={"logging_level": logging.getLevelName(logging.getLogger().getEffectiveLevel())},
            name="acme-worker",
            daemon=True,
        )

    def start(self) -> WorkerThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._worker._stop_requested = True
        self._thread.join(timeout=10)
