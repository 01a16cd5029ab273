"""Where a run's RQ job is: due to run, running under a live lease, or gone; read for many jobs in one round trip.

A job is due while RQ holds it queued, scheduled (a retry's delay, a later run, app/worker/later.py) or
deferred. A started job is running only while a lease of its execution is live: each execution is kept in the
job's execution registry with a score of its lease's end plus RQ's 60 s, renewed by the worker that runs it
(app/worker/job_leases.py).
"""

from __future__ import annotations

import logging
from enum import Enum

import redis
from rq.exceptions import NoSuchJobError
from rq.executions import ExecutionRegistry
from rq.job import Job
from rq.utils import current_timestamp

log = logging.getLogger(__name__)
# RQ keeps an execution in the job's registry 60 s past the end of its lease.
_EXECUTION_SLACK_S = 60


class JobState(Enum):
    DUE = "due"          # queued, scheduled or deferred: a worker will run it
    RUNNING = "running"  # a worker runs it and renews its lease
    LAPSED = "lapsed"    # started, but nobody renews its lease: its worker died
    ENDED = "ended"      # finished, failed, stopped or cancelled in RQ
    LOST = "lost"        # no such job: it expired, or Redis lost it

    @property
    def will_run(self) -> bool:
        return self in (JobState.DUE, JobState.RUNNING)


_DUE = {"queued", "scheduled", "deferred"}


def job_states(connection: redis.Redis, job_ids: list[str]) -> dict[str, JobState]:
    """The state of each job, in one pipelined round trip (two commands a job)."""
    if not job_ids:
        return {}
    live_after = current_timestamp() + _EXECUTION_SLACK_S
    with connection.pipeline(transaction=False) as pipeline:
        for job_id in job_ids:
            pipeline.hget(Job.key_for(job_id), "status")
            pipeline.zcount(ExecutionRegistry.key_template.format(job_id), f"({live_after}", "+inf")
        answers = pipeline.execute()
    states = {}
    for index, job_id in enumerate(job_ids):
        status, live_leases = answers[2 * index], answers[2 * index + 1]
        states[job_id] = _state(status.decode() if isinstance(status, bytes) else status, int(live_leases))
    return states


def _state(status: str | None, live_leases: int) -> JobState:
    if status is None:
        return JobState.LOST
    if status in _DUE:
        return JobState.DUE
    if status == "started":
        return JobState.RUNNING if live_leases else JobState.LAPSED
    return JobState.ENDED


def remove_job(connection: redis.Redis, job_id: str) -> None:
    """Take a job that must not run off its queue and registries; a job already gone is left so."""
    try:
        Job.fetch(job_id, connection=connection).delete()
    except NoSuchJobError:
        pass
    except redis.RedisError as exc:
        # The run is cancelled all the same: its job, when it runs, finds it so and does nothing.
        log.warning("could not remove job %s from its queue: %s", job_id, exc)
