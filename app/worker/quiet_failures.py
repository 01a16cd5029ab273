"""A failed job: logged once, and run again only when it failed for want of a worker or of Redis."""

from __future__ import annotations

from typing import Any

import redis
from rq import Queue, SimpleWorker
from rq.job import Job

from app.worker.reruns import STOPPED_WITH_ITS_WORKER, failed_for_want_of_a_worker


class QuietFailures(SimpleWorker):
    _failed_with: type[BaseException] | None = None

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        self._failed_with = exc_info[0]
        if isinstance(exc_info[1], redis.RedisError):
            # Not the job's fault, and the same for every job while it lasts: one line, no traceback.
            self.log.warning("Worker %s: job %s: Redis failed under it: %s", self.name, job.id, exc_info[1])
            return
        if isinstance(exc_info[1], STOPPED_WITH_ITS_WORKER):
            self.log.warning("Worker %s: job %s stopped with its worker (a cold stop); it runs again on the next",
                             self.name, job.id)
            return
        super().handle_exception(job, *exc_info)

    def handle_job_failure(self, job: Job, queue: Queue, started_job_registry: Any = None,
                           exc_string: str = "") -> None:
        failed_with, self._failed_with = self._failed_with, None
        if failed_with is not None and not failed_for_want_of_a_worker(failed_with):
            job.retries_left = 0  # its own code failed: it would fail again, and its asker has been told
        super().handle_job_failure(job, queue, started_job_registry, exc_string)
