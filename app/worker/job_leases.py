"""A running job's lease: its entry in RQ's started registry expires `lease_s` after its worker last renewed it.

RQ gives a job's entry its whole time limit plus a minute (4 min for a summary, 16 for a report), so a job
whose worker died sat that long before anyone noticed. Here the entry lives a short lease, renewed every few
seconds by one thread per worker process for every job its workers run (a job shorter than the renewal
interval costs nothing extra), and every worker looks for lapsed leases every few seconds: a lease lapsed at
two looks in a row goes through RQ's own clean-up, which calls the failure callback and queues the job again
(its Retry).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

import redis
from rq import Queue
from rq.executions import Execution
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.timeouts import BaseDeathPenalty
from rq.utils import current_timestamp, now

from app.state.suspects import confirmed_since

log = logging.getLogger(__name__)
SWEEP_LOCK_KEY = "acme:sweep:lapsed-jobs"
LAPSED_SUSPECTS_KEY = "acme:sweep:lapsed-jobs:suspects"
# How often the keeper wakes to renew what is due: after Redis comes back, a live job's lease within this.
RENEW_TICK_S = 1.0


def renew_every_s(lease_s: float) -> float:
    """Three renewals fit in a lease: one lost to a slow round trip does not lapse it."""
    return lease_s / 3


class RunsJobs(Protocol):
    """A worker, as the keeper sees it: the job it runs now, if any."""

    def running(self) -> tuple[Job, Execution] | None: ...


class LeaseKeeper:
    """Renews the leases of the jobs this process's workers run, from a thread of its own."""

    def __init__(self, connection: redis.Redis, lease_s: int) -> None:
        self._redis = connection
        self._lease_s = lease_s
        self._every_s = renew_every_s(lease_s)
        self._workers: list[RunsJobs] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def keep(self, worker: RunsJobs) -> None:
        with self._lock:
            self._workers.append(worker)
            if self._thread is None:
                self._thread = threading.Thread(target=self._renew_forever, name="acme-job-leases", daemon=True)
                self._thread.start()

    def forget(self, worker: RunsJobs) -> None:
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)

    def renew_due(self) -> int:
        """Renew every lease older than a renewal interval, in one round trip; answers how many."""
        due_before = now().timestamp() - self._every_s
        with self._lock:
            running = [found for worker in self._workers if (found := worker.running()) is not None]
        due = [(job, execution) for job, execution in running if execution.last_heartbeat.timestamp() < due_before]
        if not due:
            return 0
        with self._redis.pipeline(transaction=False) as pipeline:
            for job, execution in due:
                # ZADD XX: a job that ended meanwhile is not put back in the started registry.
                execution.heartbeat(job.started_job_registry, self._lease_s, pipeline)
            pipeline.execute()
        return len(due)

    def _renew_forever(self) -> None:
        while True:
            time.sleep(min(RENEW_TICK_S, self._every_s))
            try:
                self.renew_due()
            except redis.RedisError as exc:
                # The worker's own loop says that Redis is gone; the leases lapse if it stays gone.
                log.debug("could not renew job leases: %s", exc)


class LapsedJobs:
    """Hands the jobs whose lease lapsed to RQ's clean-up (failure callback, then queued again while retries are
    left).

    A lapsed lease is a suspicion confirmed at a later sweep (app/state/suspects.py), whichever worker makes it:
    Redis paused or failing over for longer than a lease lapses every lease at once, and a worker that lived
    through it renews its own as soon as Redis answers. Taken at the first look, a job still running ran twice.
    A dead worker's job waits one look more.
    """

    def __init__(self, connection: redis.Redis, queues: list[Queue], death_penalty: type[BaseDeathPenalty], *,
                 look_every_s: float, lock_s: int = 60) -> None:
        self._redis = connection
        self._queues = queues
        self._death_penalty = death_penalty
        self._lock_s = lock_s
        # Long enough for a live worker's keeper to renew (its next tick after Redis answers again).
        self._confirm_s = max(0.5 * look_every_s, 2 * RENEW_TICK_S + 0.5)

    def sweep(self) -> int:
        """One look; answers how many jobs were handed back. One round trip when none has lapsed, and the
        suspicions of the looks before are dropped with one more."""
        at = current_timestamp()
        with self._redis.pipeline(transaction=False) as pipeline:
            for queue in self._queues:
                pipeline.zrangebyscore(queue.started_job_registry.key, 0, at)
            lapsed = {f"{queue.name}:{entry.decode()}": queue
                      for queue, ids in zip(self._queues, pipeline.execute(), strict=True) for entry in ids}
        if not lapsed:
            self._redis.delete(LAPSED_SUSPECTS_KEY)
            return 0
        if not self._redis.set(SWEEP_LOCK_KEY, 1, nx=True, ex=self._lock_s):
            return 0
        try:
            found = confirmed_since(self._redis, LAPSED_SUSPECTS_KEY, lapsed, at, self._confirm_s)
            if not found:
                return 0
            # The sweep that first suspected the latest of them saw every lease lapsed by then; those still
            # lapsed are all confirmed now. The clean-up goes no further: a lease that lapsed since (in a pause
            # of Redis, say) is only a suspect yet.
            since = int(max(found.values()))
            for queue in {lapsed[name] for name in found}:
                log.warning("the worker running %s stopped renewing its lease: running it again if it may",
                            ", ".join(name.split(":")[1] for name in found if lapsed[name] is queue))
                StartedJobRegistry(queue.name, self._redis, job_class=queue.job_class, serializer=queue.serializer,
                                   death_penalty_class=self._death_penalty).cleanup(since)
        finally:
            self._redis.delete(SWEEP_LOCK_KEY)
        return len(found)
