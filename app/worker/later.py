"""A job that must wait for Slack runs again later, as a new RQ job queued by RQ's scheduler (which the workers run).

Each later run carries, in its job's meta, what the entry point needs (the first job's id, the run it goes on
with, how many runs waited) and what the integration layer needs (`Carried`: the places held in channels' lines,
since when Slack fails it; the first job's id, under which its Slack effects are recorded). Its id is
`later-<place>-<first job's id>-<n>`: the scheduler queues the jobs due in one second in the order of their ids,
so messages of one channel come out of it in the order of their places.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from rq.job import Job

from app.integrations.deferral import Carried, PostDeferred
from app.queueing.job_queue import JobQueue
from app.queueing.job_table import JobKind

log = logging.getLogger(__name__)
META_KEY = "acme_later"


@dataclass
class Later:
    """What one run of a job hands the next."""

    first_job: str
    runs_waited: int = 0
    run_id: str | None = None
    slack: Carried = field(default_factory=Carried)
    # The job a waiting run waits for, when this one stands in for it (it could not start for an outage).
    waited_for: str | None = None

    @classmethod
    def of(cls, job: Job | None) -> Later:
        """What the running job was handed (nothing, for a job's first run)."""
        data = job.meta.get(META_KEY) if job else None
        if not data:
            if job is None:
                return cls(first_job=f"unqueued-{time.time_ns()}")
            return cls(first_job=job.id, slack=Carried(job_key=job.id))
        return cls(first_job=data["first_job"], runs_waited=int(data["runs_waited"]), run_id=data.get("run_id"),
                   slack=Carried.from_json(data.get("slack"), job_key=data["first_job"]),
                   waited_for=data.get("waited_for"))

    def to_meta(self) -> dict[str, Any]:
        return {META_KEY: {"first_job": self.first_job, "runs_waited": self.runs_waited, "run_id": self.run_id,
                           "slack": self.slack.to_json(), "waited_for": self.waited_for}}


def later_job_id(later: Later, deferred: PostDeferred) -> str:
    """The id of the job's next run; known before it is queued, so that the waiting run can name it."""
    place_us = deferred.place_us or int((time.time() + deferred.wait_s) * 1e6)
    return f"later-{place_us:014x}-{later.first_job}-{later.runs_waited + 1}"


def run_again_later(jobs: JobQueue, kind: JobKind, kwargs: dict[str, Any], job: Job | None, later: Later,
                    run_id: str | None, deferred: PostDeferred, job_id: str, waited_for: str | None = None) -> str:
    """Queue the job's next run, `job_id`, for when `deferred` says; answers what this run did, for RQ's result.
    `waited_for`: the job the run waits for, which the next run stands in for."""
    after = Later(later.first_job, later.runs_waited + 1, run_id, later.slack, waited_for)
    jobs.enqueue(kind, kwargs, job_id=job_id, description=(job.description if job else None) or kind.name,
                 delay_s=deferred.wait_s, meta=after.to_meta())
    log.info("%s waits %.1f s (%s); then %s", job.id if job else kind.name, deferred.wait_s, deferred.reason, job_id)
    return f"waiting {deferred.wait_s:.1f} s ({deferred.reason}); then {job_id}"
