"""Slack's work recorded as runs of the built-in workflows, around the job that does it.

Slack's ack path writes nothing to the database (it must answer in milliseconds); the
worker records each Slack job as a run when it runs: queued at the time the job was
queued, then running, then how it ended.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app.domain.outcome import Failed
from app.runs.builtin_workflows import BuiltinWorkflow
from app.runs.events import event_json
from app.runs.history import TERMINAL, HistoryWriter, RunHistory
from app.runs.record_writer import FinishedRun, RunRecordWriter
from app.store.models import Run, StepRun, new_id, utcnow

log = logging.getLogger(__name__)
STEP_ID = "slack"


@dataclass(frozen=True)
class Waiting:
    """Why a run waits (its job runs again later, app/worker/later.py), and for how long."""

    reason: str
    retry_in_s: float
    # The job that will go on with the run (its later run), for the orphan sweep (app/runs/orphans.py).
    job_id: str | None = None


@dataclass
class RecordedRun:
    """A run recorded around work done elsewhere: set `output`, or call fail() (or waits())."""

    output: Any = None
    error: str | None = None
    # Set when the block ends if the run was written then (always, for a run that waits): its id.
    run_id: str | None = None
    waiting: Waiting | None = None

    def fail(self, reason: str) -> None:
        self.error = reason

    def waits(self, reason: str, retry_in_s: float, job_id: str | None = None) -> None:
        """The work goes on in a later run of the job (`job_id`): the run waits for it, neither failed nor done."""
        self.waiting = Waiting(reason, retry_in_s, job_id)

    def ended_with(self, result: str) -> None:
        if isinstance(result, Failed):
            self.fail(str(result))
        else:
            self.output = result


class SlackRunRecorder:
    def __init__(self, quick: RunHistory, history: RunHistory, writer: RunRecordWriter) -> None:
        """`quick`: for a live run's start, before its work, which must not wait long for SQLite's lock
        (Database.quick); `history`: for what the job's next run must find, written after the work with the
        database's usual patience."""
        self._quick = quick
        self._history = history
        self._writer = writer

    @contextmanager
    def recorded(self, workflow: BuiltinWorkflow, inputs: dict[str, Any], queued_at: datetime | None,
                 live: bool = False, resumes: str | None = None, job_id: str | None = None,
                 lost_attempts: int = 0) -> Iterator[RecordedRun]:
        """Record the block as a one-step run of `workflow` (or as the next part of the waiting run `resumes`).

        `lost_attempts`: runs of the job before this one that never ended (their worker died, or Redis failed
        under them) and wrote nothing, as a quick job writes its run only at its end: kept as `retried` steps.

        A quick job (a summary takes milliseconds) is recorded in one go after its work, written
        behind it with others, so the database is never between the user and the answer; a `live`
        one (a report) is recorded as it goes, so that watchers see it running. The database's lock is
        waited for briefly (Database.quick): if it fails, the work still goes on, and its run is written
        behind it when it ends.
        """
        started_at = utcnow()
        run_id: str | None = None
        if live:
            try:
                run_id = (self._resume(self._quick, resumes, started_at, job_id)
                          or self._start(self._quick, workflow, inputs, queued_at, started_at, job_id))
            except SQLAlchemyError as exc:
                log.warning("not recording a %s run: the database failed: %s", workflow.id, exc)
        handle = RecordedRun(run_id=run_id)
        try:
            yield handle
        except Exception as exc:
            handle.fail(f"internal error ({type(exc).__name__})")
            raise
        finally:
            if run_id is None and not (handle.waiting or resumes):
                # A quick job's run; or a live one whose start the database refused (locked): recorded whole
                # behind the work, when the database takes it, rather than lost.
                self._writer.write(_finished_run(workflow, inputs, queued_at, started_at, handle, lost_attempts))
            elif run_id is not None or not live:
                try:
                    if run_id is None:
                        # Written now, not behind, and waiting out SQLite's lock: the job's next run must find it.
                        run_id = (self._resume(self._history, resumes, started_at, job_id)
                                  or self._start(self._history, workflow, inputs, queued_at, started_at, job_id))
                    handle.run_id = run_id
                    (self._wait if handle.waiting else self._finish)(run_id, workflow, handle)
                except SQLAlchemyError as exc:
                    log.warning("could not record a %s run: %s", workflow.id, exc)

    def _start(self, via: RunHistory, workflow: BuiltinWorkflow, inputs: dict[str, Any], queued_at: datetime | None,
               started_at: datetime, job_id: str | None = None) -> str:
        with via.writing() as history:
            queued = queued_at.replace(tzinfo=UTC) if queued_at and not queued_at.tzinfo else queued_at
            run = Run(workflow_id=workflow.id, workflow_version=1, steps=[{"id": STEP_ID, "tool": workflow.step}],
                      inputs=inputs, status="running", created_at=queued or started_at, started_at=started_at,
                      job_id=job_id)
            history.session.add(run)
            history.session.flush()
            history.emit(run, "run.status", "queued", at=run.created_at)
            history.session.add(StepRun(run_id=run.id, step_id=STEP_ID, tool=workflow.step, status="running",
                                        args=inputs, started_at=run.started_at))
            history.emit(run, "run.status", "running", at=started_at)
            history.emit(run, "step.status", "running", step_id=STEP_ID, tool=workflow.step, at=started_at)
            return run.id

    def _finish(self, run_id: str, workflow: BuiltinWorkflow, handle: RecordedRun) -> None:
        status = "failed" if handle.error else "succeeded"
        with self._history.writing() as history:
            run = history.session.get(Run, run_id, with_for_update=True)
            assert run is not None
            if run.status in TERMINAL:
                return  # cancelled, or swept, while the job ran: it stays so
            for record in _live_steps(history, run_id):
                record.status, record.output, record.error, record.finished_at = (
                    status, handle.output, handle.error, utcnow())
            run.status, run.output, run.error, run.finished_at = status, handle.output, handle.error, utcnow()
            history.emit(run, "step.status", status, step_id=STEP_ID, tool=workflow.step, error=handle.error)
            history.emit(run, "run.status", status, error=handle.error)


    # --- Waiting: a job that must wait for Slack runs again later (app/worker/later.py). Its run is "waiting"
    # meanwhile, and the job's next run carries on with the same run, "running" again, until it ends. These
    # runs are written as they go: rare, and each run of the job must find what the one before wrote. -------

    def _resume(self, via: RunHistory, run_id: str | None, started_at: datetime,
                job_id: str | None = None) -> str | None:
        """The waiting run `run_id`, running again; None when there is none (then a new run is recorded)."""
        if run_id is None:
            return None
        with via.writing() as history:
            run = history.session.get(Run, run_id)
            # "running": its job's worker died before the failure callback could set it waiting.
            if run is None or run.status not in ("waiting", "running"):
                return None
            run.status, run.job_id = "running", job_id or run.job_id
            history.emit(run, "run.status", "running", at=started_at)
            for record in _live_steps(history, run_id):
                record.status = "running"
                history.emit(run, "step.status", "running", step_id=STEP_ID, tool=record.tool, at=started_at)
            return run.id

    def interrupted(self, run_id: str, retrying: bool, reason: str) -> None:
        """The job recording `run_id` failed for want of a worker: the run waits for its next run, or fails."""
        status = "waiting" if retrying else "failed"
        detail = f"failed, retrying: {reason}" if retrying else reason
        with self._history.writing() as history:
            run = history.session.get(Run, run_id)
            if run is None or run.status in TERMINAL:
                return
            for record in _live_steps(history, run_id):
                record.status = status
                if retrying:
                    # The attempt that did not end is kept beside the one that runs it again.
                    history.session.add(StepRun(run_id=run_id, step_id=record.step_id, tool=record.tool,
                                                status="retried", args=record.args, error=reason,
                                                started_at=record.started_at, finished_at=utcnow()))
                    history.emit(run, "step.status", "retried", step_id=record.step_id, tool=record.tool,
                                 error=reason)
                else:
                    record.error, record.finished_at = reason, utcnow()
            run.status = status
            if retrying:
                history.emit(run, "run.status", status, reason=detail)
            else:
                run.error, run.finished_at = reason, utcnow()
                history.emit(run, "run.status", status, error=reason)

    def _wait(self, run_id: str, workflow: BuiltinWorkflow, handle: RecordedRun) -> None:
        assert handle.waiting is not None
        waiting = handle.waiting
        with self._history.writing() as history:
            run = history.session.get(Run, run_id, with_for_update=True)
            assert run is not None
            if run.status in TERMINAL:
                return
            for record in _live_steps(history, run_id):
                record.status = "waiting"
            run.status, run.job_id = "waiting", waiting.job_id
            history.emit(run, "step.status", "waiting", step_id=STEP_ID, tool=workflow.step, reason=waiting.reason)
            history.emit(run, "run.status", "waiting", reason=waiting.reason, retry_in_s=round(waiting.retry_in_s, 3))


def _live_steps(history: HistoryWriter, run_id: str) -> list[StepRun]:
    """The run's step being run (or waiting): not the attempts kept as `retried` beside it."""
    return list(history.session.scalars(select(StepRun).where(StepRun.run_id == run_id, StepRun.status != "retried")))


LOST_ATTEMPT = "this attempt did not end (its worker stopped, or Redis failed under it): run again"


def _finished_run(workflow: BuiltinWorkflow, inputs: dict[str, Any], queued_at: datetime | None,
                  started_at: datetime, handle: RecordedRun, lost_attempts: int = 0) -> FinishedRun:
    """The rows and events `_start` and `_finish` would have written, all at once; before them, a `retried`
    step for each run of the job that never ended."""
    run_id = new_id("run")
    finished_at = utcnow()
    created_at = (queued_at.replace(tzinfo=UTC) if queued_at and not queued_at.tzinfo else queued_at) or started_at
    status = "failed" if handle.error else "succeeded"
    run = {"id": run_id, "workflow_id": workflow.id, "workflow_version": 1,
           "steps": [{"id": STEP_ID, "tool": workflow.step}], "status": status, "inputs": inputs,
           "output": handle.output, "error": handle.error, "cancel_requested": False, "created_at": created_at,
           "started_at": started_at, "finished_at": finished_at, "usage": None, "feedback": None}
    step = {"run_id": run_id, "step_id": STEP_ID, "tool": workflow.step, "status": status, "args": inputs,
            "output": handle.output, "error": handle.error, "started_at": started_at, "finished_at": finished_at,
            "usage": None}
    lost = [{**step, "status": "retried", "output": None, "error": LOST_ATTEMPT, "started_at": None,
             "finished_at": started_at} for _ in range(lost_attempts)]
    error = {"error": handle.error} if handle.error else {}
    happened = [("run.status", "queued", None, created_at, {}),
                *(("step.status", "retried", STEP_ID, started_at, {"tool": workflow.step, "error": LOST_ATTEMPT})
                  for _ in range(lost_attempts)),
                ("run.status", "running", None, started_at, {}),
                ("step.status", "running", STEP_ID, started_at, {"tool": workflow.step}),
                ("step.status", status, STEP_ID, finished_at, {"tool": workflow.step, **error}),
                ("run.status", status, None, finished_at, error)]
    return FinishedRun(
        run=run, steps=[*lost, step],
        events=[{"run_id": run_id, "step_id": step_id, "type": type_, "status": event_status, "at": at,
                 "detail": detail} for type_, event_status, step_id, at, detail in happened],
        published=[event_json(type_, run_id, workflow.id, step_id, event_status, at, **detail)
                   for type_, event_status, step_id, at, detail in happened])
