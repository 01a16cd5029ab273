"""RQ's Job, as AcmeWorker runs it: its start in one round trip, its success in one MULTI, a write a key."""

from __future__ import annotations

from typing import Any

from redis.client import Pipeline
from rq.job import Job, JobStatus, _job_stack
from rq.utils import utcformat


class StartedJob(Job):
    """A job whose key the worker's start already made lasting (PERSIST, in the start's round trip), so that
    running it costs no round trip of its own; and whose success writes the two fields that changed, not the
    whole job."""

    def perform(self) -> Any:
        # RQ's own, less its PERSIST: get_current_job() still finds the job while it runs.
        _job_stack.push(self)
        try:
            self._result = self._execute()
        finally:
            assert self is _job_stack.pop()
        return self._result

    def record_success(self, result_ttl: int, pipeline: Pipeline) -> None:
        """Finished, and kept `result_ttl` seconds (positive): RQ's `_handle_success` and `cleanup`, less the
        rewrite of every field the job already has and the expiry of dependents keys no job of ours has."""
        assert self.ended_at is not None
        self._status = JobStatus.FINISHED
        pipeline.hset(self.key, mapping={"status": JobStatus.FINISHED.value, "ended_at": utcformat(self.ended_at)})
        pipeline.expire(self.key, result_ttl)
        self.finished_job_registry.add(self, result_ttl, pipeline)
