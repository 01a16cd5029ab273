"""Starting and cancelling runs, as the API asks: recorded first, then queued for a worker."""

from __future__ import annotations

from typing import Any

from app.queueing.job_queue import JobQueue, QueueUnavailable
from app.queueing.job_table import AGENT_RUN, RUN, JobKind
from app.runs.builtin_workflows import AGENT_TURN
from app.runs.history import RunHistory
from app.store.models import Run, Workflow, utcnow

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})


class RunNotCancellable(Exception):
    pass


class RunControl:
    def __init__(self, history: RunHistory, jobs: JobQueue) -> None:
        self._history = history
        self._jobs = jobs

    def start(self, steps: list[dict[str, Any]], inputs: dict[str, Any], workflow: Workflow | None = None) -> Run:
        """Record a queued run and put it on the queue; raises QueueUnavailable (the run then says failed)."""
        run = Run(workflow_id=workflow.id if workflow else None,
                  workflow_version=workflow.version if workflow else None, steps=steps, inputs=inputs)
        return self._queue(run, RUN)

    def start_agent(self, agent_id: str, text: str, channel: str | None) -> Run:
        """An agent's turn, run by a worker like any other run."""
        inputs = {"agent_id": agent_id, "text": text, "origin": "api", **({"channel": channel} if channel else {})}
        return self._queue(Run(workflow_id=AGENT_TURN.id, workflow_version=1, steps=[], inputs=inputs), AGENT_RUN)

    def _queue(self, run: Run, kind: JobKind) -> Run:
        with self._history.writing() as history:
            history.session.add(run)
            history.session.flush()
            history.emit(run, "run.status", "queued")
        try:
            self._jobs.enqueue(kind, {"run_id": run.id}, job_id=f"run-{run.id}", description=f"{kind.name} {run.id}")
        except QueueUnavailable:
            self._history.finish(run.id, "failed", error="the job queue is unavailable")
            raise
        return run

    def interrupted(self, run_id: str, retrying: bool, reason: str) -> None:
        """Its job failed for want of a worker: queued again for the job's next run, or failed with `reason`."""
        with self._history.writing() as history:
            run = history.session.get(Run, run_id, with_for_update=True)
            if run is None or run.status in TERMINAL:
                return
            if run.cancel_requested:
                run.status, run.finished_at = "cancelled", utcnow()
                history.emit(run, "run.status", "cancelled")
            elif retrying:
                run.status = "queued"
                history.emit(run, "run.status", "queued", reason=f"failed, retrying: {reason}")
            else:
                run.status, run.error, run.finished_at = "failed", reason, utcnow()
                history.emit(run, "run.status", "failed", error=reason)

    def cancel(self, run_id: str) -> Run | None:
        """A queued run is cancelled at once; a running one stops before its next step."""
        with self._history.writing() as history:
            run = history.session.get(Run, run_id, with_for_update=True)
            if run is None:
                return None
            if run.status in TERMINAL:
                raise RunNotCancellable(f"the run has already {run.status}")
            run.cancel_requested = True
            if run.status == "queued":
                # The worker will find it cancelled and skip it.
                run.status, run.finished_at = "cancelled", utcnow()
                history.emit(run, "run.status", "cancelled")
        return run
