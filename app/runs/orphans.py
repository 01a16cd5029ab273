"""Ending runs that nothing will end: their job is gone (Redis lost it, it expired), or a cancel went unanswered.

A run is ended here only when it is older than a grace period (its job may be on its way to the queue) and
was found orphaned by two sweeps at least `confirm_s` apart (its job may be between two of its states: a
failure callback queuing it again, a run handing over to its later run). Each sweep is one indexed query for
the live runs past the grace, then one pipelined round trip to Redis for their jobs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis
from sqlalchemy import or_, select

from app.runs.history import LIVE, TERMINAL, RunHistory
from app.runs.run_jobs import JobState, job_states, remove_job
from app.state.suspects import confirmed
from app.store.models import Run, utcnow

log = logging.getLogger(__name__)
JOB_LOST = "its job was lost (the worker or Redis stopped)"
JOB_ENDED = "its job ended without recording the run's end"
CANCELLED_UNANSWERED = "cancelled; its worker did not stop it within a lease"
SUSPECTS_KEY = "acme:sweep:orphan-runs:suspects"


@dataclass(frozen=True)
class Swept:
    """What one sweep ended: run ids failed as orphans, and run ids cancelled."""

    failed: tuple[str, ...] = ()
    cancelled: tuple[str, ...] = ()


class OrphanRuns:
    def __init__(self, history: RunHistory, connection: redis.Redis, lease_s: float) -> None:
        self._history = history
        self._redis = connection
        self.grace_s = 2 * lease_s
        self.cancel_within_s = lease_s
        self.confirm_s = lease_s / 2

    def sweep(self, now: datetime | None = None) -> Swept:
        now = now or utcnow()
        with self._history.db.session() as session:
            rows = session.execute(
                select(Run.id, Run.job_id, Run.cancel_requested_at)
                .where(Run.status.in_(LIVE),
                       or_(Run.created_at < now - timedelta(seconds=self.grace_s),
                           Run.cancel_requested_at < now - timedelta(seconds=self.cancel_within_s)))).all()
        cancel_before = now - timedelta(seconds=self.cancel_within_s)
        overdue = [run_id for run_id, _, asked_at in rows if asked_at is not None and _aware(asked_at) < cancel_before]
        jobs = {run_id: job_id for run_id, job_id, _ in rows if job_id and run_id not in overdue}
        states = job_states(self._redis, sorted(set(jobs.values())))
        suspects = {run_id: states[job_id] for run_id, job_id in jobs.items() if not states[job_id].will_run}
        orphans = confirmed(self._redis, SUSPECTS_KEY, suspects, now.timestamp(), self.confirm_s)
        reasons = {run_id: JOB_ENDED if suspects[run_id] is JobState.ENDED else JOB_LOST for run_id in orphans}
        failed = tuple(run_id for run_id in orphans if self._fail(run_id, jobs[run_id], reasons[run_id]))
        cancelled = tuple(run_id for run_id in overdue if self._cancel(run_id))
        for run_id in failed:
            log.warning("run %s failed: %s (job %s)", run_id, reasons[run_id], jobs[run_id])
        return Swept(failed, cancelled)

    def _fail(self, run_id: str, job_id: str, reason: str) -> bool:
        with self._history.writing() as history:
            run = history.session.get(Run, run_id, with_for_update=True)
            # Its job changed meanwhile (a later run took over): not an orphan.
            if run is None or run.status in TERMINAL or run.job_id != job_id:
                return False
            history.end(run, "failed", reason)
            return True

    def _cancel(self, run_id: str) -> bool:
        with self._history.writing() as history:
            run = history.session.get(Run, run_id, with_for_update=True)
            if run is None or run.status in TERMINAL:
                return False
            history.end(run, "cancelled", CANCELLED_UNANSWERED)
            job_id = run.job_id
        if job_id and job_states(self._redis, [job_id])[job_id] is JobState.DUE:
            remove_job(self._redis, job_id)
        return True


def _aware(at: datetime) -> datetime:
    # SQLite hands back naive datetimes; every one stored is UTC.
    return at if at.tzinfo else at.replace(tzinfo=UTC)
