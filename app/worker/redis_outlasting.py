"""The parts of RQ's worker loop that touch Redis, made to outlast an outage instead of quitting.

RQ's `Worker.work` retries only a failed dequeue; any other Redis error (a heartbeat, the registries' clean-up,
recording a job's end, the worker's birth at start) ends `acme worker` with "found an unhandled exception,
quitting...". Here each waits for Redis with a backoff, in one line a failure (app/worker/redis_waits.py).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

import redis
from redis.client import Pipeline
from rq import Queue, SimpleWorker
from rq.exceptions import DequeueTimeout
from rq.job import Job
from rq.scheduler import RQScheduler
from rq.utils import now
from rq.worker import WorkerStatus

from app.worker.job_leases import LapsedJobs
from app.worker.outlasting_scheduler import OutlastingScheduler
from app.worker.redis_waits import RedisWaits

log = logging.getLogger("app.worker")


def _all_or_none(scheduler: RQScheduler) -> bool:
    """Whether the scheduler took every queue's lock; if it took only some (another worker asked at the same
    moment), it lets them go, so that one process, not two, schedules for all the queues."""
    if set(scheduler.acquired_locks) == set(scheduler._queue_names):
        return True
    if scheduler.acquired_locks:
        scheduler.release_locks()
        scheduler._acquired_locks = set()
    return False


class RedisOutlasting(SimpleWorker):
    """A worker that waits for Redis wherever RQ's loop would give up, and looks for lapsed job leases."""

    # Every so often (seconds), the jobs whose lease lapsed are handed back to their queues.
    sweep_every_s: float = 10.0
    # The agent's turn workers (threads beside the main loop) leave the sweeping to it.
    sweeps_lapsed_jobs: bool = True
    # Ends the runs whose job is gone (app/worker/orphan_sweep.py), from the same maintenance as the sweep.
    orphan_sweep: Callable[[], object] | None = None
    # Queues again the jobs a dying worker took and never started (app/worker/stranded_jobs.py), likewise.
    stranded_sweep: Callable[[], object] | None = None
    _redis_waits: RedisWaits | None = None
    _scheduler_in_burst = False
    _swept_at: float = 0.0
    _lapsed_jobs: LapsedJobs | None = None

    def outlast_redis(self, url: str, quiet: bool = False) -> None:
        """`quiet`: the agent's turn workers, a score of threads beside the main loop, leave the saying to it."""
        self._redis_waits = RedisWaits(url, log, stopping=lambda: bool(self._stop_requested),
                                       level=logging.DEBUG if quiet else logging.WARNING)

    @property
    def waits(self) -> RedisWaits:
        if self._redis_waits is None:
            self.outlast_redis(repr(self.connection))
        assert self._redis_waits is not None
        return self._redis_waits

    @property
    def dequeue_timeout(self) -> int:
        # RQ blocks up to worker_ttl - 15 (405 s) on an empty queue; a worker must come back to sweep.
        return max(1, math.ceil(self.sweep_every_s))

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        while True:
            try:
                super().bootstrap(*args, **kwargs)
            except redis.RedisError as exc:
                self.waits.failed(exc, "starting")
                continue
            self.waits.answered()
            return

    def _start_scheduler(self, burst: bool = False, logging_level: str | None = "INFO", *args: Any,
                         **kwargs: Any) -> None:
        # RQ's own, with a scheduler that outlasts Redis (app/worker/outlasting_scheduler.py).
        self._scheduler_in_burst = burst
        self.scheduler = scheduler = OutlastingScheduler(
            self.queues, connection=self.connection, serializer=self.serializer,
            logging_level=logging_level if logging_level is not None else self.log.level)
        scheduler.redis_url = self.waits.url
        while True:
            try:
                scheduler.acquire_locks()
                if scheduler.acquired_locks and burst:
                    try:
                        scheduler.register_birth()
                        scheduler.enqueue_scheduled_jobs()
                    finally:
                        scheduler.release_locks()
                        scheduler.register_death()
                elif _all_or_none(scheduler):
                    scheduler.start()
            except redis.RedisError as exc:
                self.waits.failed(exc, "starting the scheduler")
                continue
            return

    def _keep_a_scheduler(self) -> None:
        """Take the scheduler's locks, and start one, when no scheduler holds them: its process (here or in
        another worker) died. RQ looks only at its ten-minute maintenance."""
        scheduler = self.scheduler
        if scheduler is None or self._scheduler_in_burst:
            return  # a burst worker queued what was due when it started, and starts no scheduler process
        if self._stop_requested:
            # RQ stopped this worker's scheduler at the stop signal: one started now would be stopped cold with
            # the worker, its locks left to lapse (a minute without a scheduler for the workers that remain).
            return
        if scheduler._process is not None and scheduler._process.is_alive():
            return
        if scheduler._process is not None:
            scheduler._process.join(0)  # reaped: no zombie for each one that died
            scheduler._process = None
        scheduler.acquire_locks()
        if _all_or_none(scheduler):
            process = scheduler.start()
            log.info("started a scheduler (pid %s): the one before it had stopped", process.pid)

    def _pubsub_exception_handler(self, exc: Exception, pubsub: Any, pubsub_thread: Any) -> None:
        # RQ logs an ERROR line every 2 s while Redis is away; the loop already says it, with a backoff.
        if isinstance(exc, redis.ConnectionError):
            log.debug("worker %s: its command channel is waiting for Redis: %s", self.name, exc)
            time.sleep(2.0)
            return
        super()._pubsub_exception_handler(exc, pubsub, pubsub_thread)

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> None:
        if pipeline is not None:
            super().heartbeat(timeout, pipeline)
            return
        try:
            super().heartbeat(timeout, pipeline)
        except redis.RedisError as exc:
            # Said by the loop's next Redis call, which waits for it; a heartbeat missed costs nothing yet.
            log.debug("worker heartbeat failed: %s", exc)

    @property
    def should_run_maintenance_tasks(self) -> bool:
        if self.sweeps_lapsed_jobs and time.monotonic() - self._swept_at >= self.sweep_every_s:
            return True
        return bool(self.last_cleaned_at is None
                    or (now() - self.last_cleaned_at).total_seconds() > self.maintenance_interval)

    def run_maintenance_tasks(self) -> None:
        try:
            self._maintain()
        except redis.RedisError as exc:
            self.waits.failed(exc, "looking after the queues")

    def _maintain(self) -> None:
        if self.sweeps_lapsed_jobs and time.monotonic() - self._swept_at >= self.sweep_every_s:
            self._swept_at = time.monotonic()
            if self._lapsed_jobs is None:
                self._lapsed_jobs = LapsedJobs(self.connection, self.queues, self.death_penalty_class,
                                               look_every_s=self.sweep_every_s)
            self._lapsed_jobs.sweep()
            if self.stranded_sweep is not None:
                self.stranded_sweep()
            if self.orphan_sweep is not None:
                self.orphan_sweep()
            self._keep_a_scheduler()
        if self.last_cleaned_at is None or (now() - self.last_cleaned_at).total_seconds() > self.maintenance_interval:
            super().run_maintenance_tasks()

    def dequeue_job_and_maintain_ttl(self, timeout: int | None,
                                     max_idle_time: int | None = None) -> tuple[Job, Queue] | None:
        # RQ's own loop, with every Redis error (not only a failed connection) waited out in one line.
        self.procline("Listening on " + ",".join(self.queue_names()))
        idle_since = time.monotonic()
        while not self._stop_requested:
            wait_s = timeout
            if max_idle_time is not None:
                left = math.ceil(max_idle_time - (time.monotonic() - idle_since))
                if left <= 0:
                    return None
                wait_s = left if wait_s is None else min(wait_s, left)
            try:
                self.set_state(WorkerStatus.IDLE)
                self.heartbeat()
                if self.should_run_maintenance_tasks:
                    self.run_maintenance_tasks()
                result = self.queue_class.dequeue_any(self._ordered_queues, wait_s, connection=self.connection,
                                                      job_class=self.job_class, serializer=self.serializer,
                                                      death_penalty_class=self.death_penalty_class)
                if result is not None:
                    result[0].redis_server_version = self.get_redis_server_version()
            except DequeueTimeout:
                self.waits.answered()
                continue
            except redis.RedisError as exc:
                self.waits.failed(exc, "waiting for jobs")
                continue
            self.waits.answered()
            if result is None:
                return None
            job, queue = result
            self.reorder_queues(reference_queue=queue)
            self.log.info("Worker %s: %s: %s", self.name, queue.name, job.id)
            return result
        return None

    def lost_redis_running(self, job: Job, exc: redis.RedisError) -> None:
        """Redis failed while this worker recorded `job`'s start or end: its lease lapses, and it runs again."""
        log.warning("job %s: Redis failed while recording it (%s); it runs again once its lease lapses",
                    job.id, exc)
        self.waits.failed(exc, "recording a job")

    def teardown(self) -> None:
        try:
            super().teardown()
        except redis.RedisError as exc:
            log.warning("could not tell Redis that this worker stopped (%s); RQ forgets it when its key expires",
                        exc)
