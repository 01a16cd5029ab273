"""Running the queues: `acme worker` in a process of its own, or a worker thread for the demo and the tests."""

from __future__ import annotations

import logging
import threading
from typing import Any

import redis
from rq import SimpleWorker
from rq.scheduler import RQScheduler
from rq.timeouts import TimerDeathPenalty

from app.composition import Collaborators
from app.queueing.job_table import QUEUE_ORDER
from app.worker.current import working_with


class AcmeWorker(SimpleWorker):
    """Works the queues in QUEUE_ORDER, and gives the jobs it runs its own collaborators.

    SimpleWorker runs each job in this process instead of forking: a job starts in about
    3 ms instead of 10 ms, and the CRM client and breaker are built once.
    """

    def __init__(self, collaborators: Collaborators) -> None:
        # RQ raises the socket timeout of the connection it is given to fit its blocking
        # dequeue; the jobs' own Redis calls keep their short timeout on a connection of their own.
        super().__init__(list(QUEUE_ORDER), connection=redis.Redis.from_url(collaborators.settings.redis_url))
        self.collaborators = collaborators

    def work(self, *args: Any, **kwargs: Any) -> bool:
        # For the whole loop, not per job: RQ also runs failure callbacks while it cleans up.
        with working_with(self.collaborators):
            return bool(super().work(*args, **kwargs))


def run_worker(collaborators: Collaborators, burst: bool = False) -> bool:
    """Work the queues in this process until stopped (or until they are empty, with `burst`).

    With RQ's scheduler: jobs queued for later (an approval's expiry) are queued when due, by whichever
    worker holds the scheduler's lock.
    """
    worker = AcmeWorker(collaborators)
    return worker.work(burst=burst, logging_level=collaborators.settings.log_level.upper(), with_scheduler=True)


class _ThreadSafeWorker(AcmeWorker):
    # Signal-based job timeouts and stop handlers work only in the main thread.
    death_penalty_class = TimerDeathPenalty
    _scheduler: RQScheduler | None = None

    def _install_signal_handlers(self) -> None:
        pass

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> Any:
        # RQ's idle loop only ends on a job or a signal. Waiting a second at a time lets
        # stop() end it between jobs, never with a job taken off the queue and dropped.
        while not self._stop_requested:
            self._queue_jobs_now_due()
            result = super().dequeue_job_and_maintain_ttl(timeout, max_idle_time=1)
            if result is not None:
                return result
        return None

    def _queue_jobs_now_due(self) -> None:
        # RQ's scheduler runs in a forked process, which a thread must not start; the same work is
        # done here, a second at a time, under the same lock.
        if self._scheduler is None:
            self._scheduler = RQScheduler(self.queues, connection=self.connection, logging_level="WARNING")
        scheduler = self._scheduler
        scheduler.acquire_locks()
        if scheduler.acquired_locks:
            try:
                scheduler.enqueue_scheduled_jobs()
            finally:
                scheduler.release_locks()


class WorkerThread:
    """A worker in a background thread of this process, stopped within about a second."""

    def __init__(self, collaborators: Collaborators) -> None:
        self._worker = _ThreadSafeWorker(collaborators)
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
