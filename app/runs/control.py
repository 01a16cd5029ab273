"""Starting and cancelling runs, as the API asks: recorded first, then queued for a worker."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import redis
from sqlalchemy import select, update

from app.queueing.job_queue import JobQueue, QueueUnavailable
from app.queueing.job_table import AGENT_RUN, RUN, JobKind
from app.runs.builtin_workflows import AGENT_TURN
from app.runs.history import TERMINAL, RunHistory
from app.runs.run_jobs import JobState, job_states, remove_job
from app.store.models import Run, Workflow, utcnow

__all__ = ["TERMINAL", "RunControl", "RunNotCancellable"]

# How long a request key finds its run: as long as the API replays an Idempotency-Key's answer.
REQUEST_KEYS_KEPT_S = 24 * 3600


class RunNotCancellable(Exception):
    pass


class RunControl:
    def __init__(self, history: RunHistory, jobs: JobQueue, connection: redis.Redis) -> None:
        self._history = history
        self._jobs = jobs
        self._redis = connection

    def start(self, steps: list[dict[str, Any]], inputs: dict[str, Any], workflow: Workflow | None = None,
              request_key: str | None = None) -> Run:
        """Record a queued run and put it on the queue; raises QueueUnavailable (the run then says failed).

        `request_key` (a digest of who asked and what): the run it started in the last day, if any, rather
        than another one."""
        run = Run(workflow_id=workflow.id if workflow else None,
                  workflow_version=workflow.version if workflow else None, steps=steps, inputs=inputs)
        return self._queue(run, RUN, request_key)

    def start_agent(self, agent_id: str, text: str, channel: str | None, request_key: str | None = None) -> Run:
        """An agent's turn, run by a worker like any other run."""
        inputs = {"agent_id": agent_id, "text": text, "origin": "api", **({"channel": channel} if channel else {})}
        run = Run(workflow_id=AGENT_TURN.id, workflow_version=1, steps=[], inputs=inputs)
        return self._queue(run, AGENT_RUN, request_key)

    def _queue(self, run: Run, kind: JobKind, request_key: str | None) -> Run:
        with self._history.writing() as history:
            if request_key is not None:
                earlier = history.session.scalars(select(Run).where(
                    Run.request_key == request_key,
                    Run.created_at >= utcnow() - timedelta(seconds=REQUEST_KEYS_KEPT_S))).first()
                if earlier is not None:
                    return earlier
                run.request_key = request_key
            history.session.add(run)
            history.session.flush()
            run.job_id = f"run-{run.id}"
            history.emit(run, "run.status", "queued")
        try:
            self._jobs.enqueue(kind, {"run_id": run.id}, job_id=run.job_id, description=f"{kind.name} {run.id}")
        except QueueUnavailable:
            self._history.finish(run.id, "failed", error="the job queue is unavailable")
            if request_key is not None:
                # The caller is told to try again (503): the same request must then start a run.
                with self._history.writing() as history:
                    history.session.execute(update(Run).where(Run.id == run.id).values(request_key=None))
            raise
        return run

    def interrupted(self, run_id: str, retrying: bool, reason: str) -> None:
        """Its job failed for want of a worker: queued again for the job's next run, or failed with `reason`."""
        with self._history.writing() as history:
            run = history.session.get(Run, run_id, with_for_update=True)
            if run is None or run.status in TERMINAL:
                return
            if run.cancel_requested:
                history.end(run, "cancelled")
            elif retrying:
                run.status = "queued"
                history.emit(run, "run.status", "queued", reason=f"failed, retrying: {reason}")
            else:
                run.status, run.error, run.finished_at = "failed", reason, utcnow()
                history.emit(run, "run.status", "failed", error=reason)

    def cancel(self, run_id: str) -> Run | None:
        """Cancel the run: at once, its job taken off the queue, unless a worker runs it under a live lease; then
        it stops before its next step, or the orphan sweep (app/runs/orphans.py) cancels it a lease later."""
        with self._history.writing() as history:
            run = history.session.get(Run, run_id, with_for_update=True)
            if run is None:
                return None
            if run.status in TERMINAL:
                raise RunNotCancellable(f"the run has already ended ({run.status})")
            state = job_states(self._redis, [run.job_id])[run.job_id] if run.job_id else None
            asked_before = run.cancel_requested
            run.cancel_requested = True
            # A queued run's worker, if it has just taken the job, finds the run cancelled and skips it. A run that
            # waits with no job (for its asker's approval) has nobody to stop it but this.
            if run.status == "queued" or (state is not None and state is not JobState.RUNNING) or (
                    run.status == "waiting" and state is None):
                history.end(run, "cancelled")
            elif not asked_before:
                # Said once, and timed from the first asking: asking again does not put the sweep off.
                run.cancel_requested_at = utcnow()
                history.emit(run, "run.status", run.status, reason="cancel requested")
            job_id = run.job_id
        if job_id and state in (JobState.DUE, JobState.LAPSED):
            # After the commit: a worker that takes the job meanwhile finds the run cancelled.
            remove_job(self._redis, job_id)
        return run

    def cancelled(self, run_id: str) -> bool:
        """True when `run_id` was cancelled: a job that would go on with it does nothing."""
        with self._history.db.session() as session:
            run = session.get(Run, run_id)
            return run is not None and run.status == "cancelled"
