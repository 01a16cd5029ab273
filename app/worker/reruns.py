"""Which failed jobs run again: those that failed for want of a worker or of Redis, while runs are left.

Every job is queued with RQ's `Retry(max=RERUNS)`; a job whose own code failed (a bug, a refusal) is not run
again: it would fail the same way, and its asker has been told.
"""

from __future__ import annotations

import redis
from rq.exceptions import AbandonedJobError
from rq.job import Job

WORKER_STOPPED = "the worker running it stopped"


# What a job in flight meets when its worker is stopped cold (a second SIGTERM, --stop-timeout, Ctrl-C):
# the worker stopped, not the job failed.
STOPPED_WITH_ITS_WORKER = (SystemExit, KeyboardInterrupt)


def failed_for_want_of_a_worker(exc_type: type[BaseException]) -> bool:
    """The job did not fail of itself: its worker died (its lease lapsed) or was stopped under it, or Redis
    failed under it."""
    return issubclass(exc_type, AbandonedJobError | redis.RedisError | SystemExit | KeyboardInterrupt)


def runs_again(job: Job, exc_type: type[BaseException]) -> bool:
    """True when RQ will queue `job` again after this failure (read before RQ counts the retry down)."""
    return failed_for_want_of_a_worker(exc_type) and bool(job.retries_left and job.retries_left > 0)


def failure_reason(exc_type: type[BaseException]) -> str:
    if issubclass(exc_type, AbandonedJobError | SystemExit | KeyboardInterrupt):
        return WORKER_STOPPED
    if issubclass(exc_type, redis.RedisError):
        return "Redis failed under it"
    return f"an internal error ({exc_type.__name__})"
