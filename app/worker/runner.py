"""Running the queues: `acme worker` in a process of its own, or a worker thread for the demo and the tests."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis
from rq.scheduler import RQScheduler
from rq.timeouts import TimerDeathPenalty

from app.composition import Collaborators
from app.queueing.job_table import AGENT_QUEUE, NOTIFICATION_QUEUE, QUEUE_ORDER, SUMMARY_QUEUE
from app.worker.acme_worker import AcmeWorker
from app.worker.redis_waits import RedisWaits, reason, shown_url, wait_until_redis_answers

log = logging.getLogger("app.worker")

# How long a stopping worker waits for the agent's turns under way; `acme worker`'s supervisor stops a child
# cold after its own --stop-timeout (30 s by default).
TURNS_STOP_S = 25.0
AGENT_IDLE_WAIT_S = 2
# The quick jobs: each spends about half its time waiting on the CRM and Slack, so a few at once in a process
# keep its CPU busy where one would leave it idle for those waits.
QUICK_QUEUES = (SUMMARY_QUEUE, NOTIFICATION_QUEUE)


def run_worker(collaborators: Collaborators, burst: bool = False) -> bool:
    """Work the queues in this process until stopped (or until they are empty, with `burst`).

    With RQ's scheduler: jobs queued for later (an approval's expiry) are queued when due, by whichever
    worker holds the scheduler's lock. Beside the main loop, AGENT_CONCURRENCY - 1 threads take the
    agent's turns, which spend seconds waiting on a model and little of the CPU, and WORKER_THREADS - 1
    take summaries and notifications, which wait on the CRM and Slack about half their time.
    """
    waits = RedisWaits(collaborators.settings.redis_url, log)
    if burst:
        # A burst drains what is queued now: with no Redis there is nothing to drain, and its caller decides.
        try:
            collaborators.redis.ping()
        except redis.RedisError as exc:
            log.error("cannot reach Redis at %s: %s; a --burst worker does not wait", shown_url(
                collaborators.settings.redis_url), reason(exc))
            raise SystemExit(1) from None
    wait_until_redis_answers(collaborators.redis, waits)
    settings = collaborators.settings
    threads = None if burst else ThreadWorkers(agent_turn_threads(collaborators, settings.agent_concurrency - 1)
                                               + quick_job_threads(collaborators, settings.worker_threads - 1))
    # Started once the main loop handles SIGTERM: a stop then always ends them too, and none is left
    # registered with RQ by a process that died of the signal's default action.
    worker = AcmeWorker(collaborators, on_loop_started=threads.start if threads else None,
                        on_stop_requested=threads.request_stop if threads else None)
    try:
        return worker.work(burst=burst, logging_level=settings.log_level.upper(), with_scheduler=True)
    finally:
        if threads is not None:
            threads.stop()


def _not_a_start_line(record: logging.LogRecord) -> bool:
    # Each of a process's thread workers says "started", "Listening on acme-agent" and
    # "cleaning registries" at start: a score of lines that say once what the main loop already says.
    return not str(record.msg).startswith(("Worker %s: started", "*** Listening", "Worker %s: cleaning registries"))


_turn_workers_log = logging.getLogger("rq.worker.turns")
_turn_workers_log.addFilter(_not_a_start_line)


class _ThreadSafeWorker(AcmeWorker):
    # Signal-based job timeouts and stop handlers work only in the main thread.
    death_penalty_class = TimerDeathPenalty
    _scheduler: RQScheduler | None = None

    def __init__(self, collaborators: Collaborators, queues: tuple[str, ...] = QUEUE_ORDER,
                 schedules: bool = True, idle_wait_s: int = 1) -> None:
        super().__init__(collaborators, queues)
        self._schedules = schedules
        self.sweeps_lapsed_jobs = schedules
        self.outlast_redis(collaborators.settings.redis_url, quiet=not schedules)
        if not schedules:
            self.log = _turn_workers_log
        self._idle_wait_s = idle_wait_s

    def _install_signal_handlers(self) -> None:
        pass

    def subscribe(self) -> None:
        # RQ's commands (`rq shutdown`, kill-horse) arrive on a channel each worker listens to from a thread
        # of its own, awake five times a second; the agent's turn workers end with their process instead.
        if self._schedules:
            super().subscribe()

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> Any:
        # RQ's idle loop only ends on a job or a signal. Waiting idle_wait_s at a time lets
        # stop() end it between jobs, never with a job taken off the queue and dropped.
        while not self._stop_requested:
            if self._schedules:
                try:
                    self._queue_jobs_now_due()
                except redis.RedisError:
                    pass  # the dequeue that follows waits for Redis, and says so
            result = super().dequeue_job_and_maintain_ttl(timeout, max_idle_time=self._idle_wait_s)
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
    """A worker in a background thread of this process, stopped within about a second between jobs.

    By default it works every queue and queues the jobs that come due, as `acme worker` does; the demo
    and the tests run one, and the agent's turns run in more (AgentTurnWorkers).
    """

    def __init__(self, collaborators: Collaborators, queues: tuple[str, ...] = QUEUE_ORDER, schedules: bool = True,
                 name: str = "acme-worker", with_agent_turns: int = 0, idle_wait_s: int = 1) -> None:
        self._worker = _ThreadSafeWorker(collaborators, queues, schedules, idle_wait_s)
        self._thread = threading.Thread(
            target=self._worker.work,
            kwargs={"logging_level": logging.getLevelName(logging.getLogger().getEffectiveLevel())},
            name=name,
            daemon=True,
        )
        self._turns = AgentTurnWorkers(collaborators, with_agent_turns) if with_agent_turns else None

    def start(self) -> WorkerThread:
        self._thread.start()
        if self._turns is not None:
            self._turns.start()
        return self

    def request_stop(self) -> None:
        self._worker._stop_requested = True
        if self._turns is not None:
            self._turns.request_stop()

    def join(self, timeout_s: float) -> None:
        if self._thread.ident is not None:  # started
            self._thread.join(timeout=timeout_s)
        if self._turns is not None:
            self._turns.join(timeout_s)

    def stop(self) -> None:
        self.request_stop()
        self.join(10)


class ThreadWorkers:
    """Workers in threads of this process, so that one process runs many jobs at once while each waits on
    the network. Each is a whole RQ worker (registered, with its started registry and heartbeats, failures
    recorded as for any job), so a job run here has the same guarantees as any other; their number bounds
    the jobs at once.
    """

    def __init__(self, workers: list[WorkerThread]) -> None:
        self._workers = workers

    def start(self) -> ThreadWorkers:
        for worker in self._workers:
            worker.start()
        return self

    def request_stop(self) -> None:
        for worker in self._workers:
            worker.request_stop()

    def join(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))

    def stop(self, timeout_s: float = TURNS_STOP_S) -> None:
        """Take no new job, and give those under way `timeout_s` to end (a turn's model calls take seconds)."""
        self.request_stop()
        self.join(timeout_s)


def agent_turn_threads(collaborators: Collaborators, count: int) -> list[WorkerThread]:
    """Workers of the agent's queue: one process answers many askers at once while each turn waits on the model."""
    # An idle RQ worker's loop costs a few ms of CPU a turn: twenty of them waking every second cost
    # a summary drain 1 ms a job. They wake every few seconds, and a stop waits that long at most.
    return [WorkerThread(collaborators, queues=(AGENT_QUEUE,), schedules=False, name=f"acme-agent-{n}",
                         idle_wait_s=AGENT_IDLE_WAIT_S) for n in range(count)]


def quick_job_threads(collaborators: Collaborators, count: int) -> list[WorkerThread]:
    """Workers of the summaries' and notifications' queues, beside the main loop that works every queue."""
    return [WorkerThread(collaborators, queues=QUICK_QUEUES, schedules=False, name=f"acme-quick-{n}",
                         idle_wait_s=AGENT_IDLE_WAIT_S) for n in range(count)]


class AgentTurnWorkers(ThreadWorkers):
    """`count` workers of the agent's queue, for a WorkerThread (the demo's and the tests')."""

    def __init__(self, collaborators: Collaborators, count: int) -> None:
        super().__init__(agent_turn_threads(collaborators, count))
