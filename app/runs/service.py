"""Starting, cancelling and executing runs: the one execution model, whoever starts the work."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.integrations.errors import IntegrationError
from app.jobs.queue import JobQueue, QueueUnavailable
from app.runs.events import EventPublisher, event_json
from app.runs.templates import TemplateError, render
from app.store.db import Database
from app.store.models import ContextEntry, Run, RunEvent, StepRun, Workflow, utcnow
from app.tools.registry import ToolContext, ToolError

log = logging.getLogger(__name__)
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
RUN_JOB = "app.runs.service.execute_run"
MAX_SUB_WORKFLOW_DEPTH = 5


class RunNotCancellable(Exception):
    pass


@dataclass
class RecordedRun:
    """A run recorded around work done elsewhere (a Slack job): set `output`, or call fail()."""

    output: Any = None
    error: str | None = None

    def fail(self, reason: str) -> None:
        self.error = reason


@dataclass
class _Recorder:
    """Events written in this transaction, published once it commits."""

    session: Session
    run: Run
    pending: list[dict[str, Any]] = field(default_factory=list)

    def emit(self, type_: str, status: str, step_id: str | None = None, *, at: datetime | None = None,
             error: str | None = None, **detail: Any) -> None:
        at = at or utcnow()
        if error:
            detail["error"] = error
        self.session.add(RunEvent(run_id=self.run.id, step_id=step_id, type=type_, status=status, at=at,
                                  detail=detail))
        self.pending.append(event_json(type_, self.run.id, self.run.workflow_id, step_id, status, at, **detail))


class RunService:
    def __init__(self, db: Database, jobs: JobQueue, publisher: EventPublisher) -> None:
        self.db = db
        self.jobs = jobs
        self.publisher = publisher

    def start(self, steps: list[dict[str, Any]], inputs: dict[str, Any], workflow: Workflow | None = None) -> Run:
        """Record a queued run and put it on the queue; raises QueueUnavailable (the run then says failed)."""
        with self.db.session() as session:
            run = Run(workflow_id=workflow.id if workflow else None,
                      workflow_version=workflow.version if workflow else None, steps=steps, inputs=inputs)
            session.add(run)
            session.flush()
            recorder = _Recorder(session, run)
            recorder.emit("run.status", "queued")
        self.publisher.publish(recorder.pending)
        try:
            self.jobs.put(self.jobs.runs, RUN_JOB, {"run_id": run.id}, job_id=f"run-{run.id}",
                          description=f"run {run.id}")
        except QueueUnavailable:
            self._finish(run.id, "failed", error="the job queue is unavailable")
            raise
        return run

    def cancel(self, run_id: str) -> Run | None:
        with self.db.session() as session:
            run = session.get(Run, run_id, with_for_update=True)
            if run is None:
                return None
            if run.status in TERMINAL:
                raise RunNotCancellable(f"the run has already {run.status}")
            run.cancel_requested = True
            recorder = _Recorder(session, run)
            if run.status == "queued":
                # The worker will find it cancelled and skip it.
                run.status, run.finished_at = "cancelled", utcnow()
                recorder.emit("run.status", "cancelled")
        self.publisher.publish(recorder.pending)
        return run

    def _finish(self, run_id: str, status: str, output: Any = None, error: str | None = None) -> None:
        with self.db.session() as session:
            run = session.get(Run, run_id)
            if run is None:
                return
            run.status, run.output, run.error, run.finished_at = status, output, error, utcnow()
            recorder = _Recorder(session, run)
            recorder.emit("run.status", status, error=error)
        self.publisher.publish(recorder.pending)

    @contextmanager
    def recorded(self, workflow_id: str, step: str, inputs: dict[str, Any], queued_at: datetime | None,
                 live: bool = True) -> Iterator[RecordedRun]:
        """Record the block as a one-step run of `workflow_id`: two transactions, before and after.

        The record is for people watching; if the database fails, the work still goes on.
        """
        started_at = utcnow()
        run_id: str | None = None
        if live:
            try:
                run_id = self._start_recorded(workflow_id, step, inputs, queued_at, started_at)
            except SQLAlchemyError as exc:
                log.warning("not recording a %s run: the database failed: %s", workflow_id, exc)
        handle = RecordedRun()
        try:
            yield handle
        except Exception as exc:
            handle.fail(f"internal error ({type(exc).__name__})")
            raise
        finally:
            try:
                if not live:
                    run_id = self._start_recorded(workflow_id, step, inputs, queued_at, started_at)
                if run_id is not None:
                    self._finish_recorded(run_id, step, handle)
            except SQLAlchemyError as exc:
                log.warning("could not record a %s run: %s", workflow_id, exc)

    def _start_recorded(self, workflow_id: str, step: str, inputs: dict[str, Any], queued_at: datetime | None,
                        started_at: datetime) -> str:
        with self.db.session() as session:
            queued = queued_at.replace(tzinfo=UTC) if queued_at and not queued_at.tzinfo else queued_at
            run = Run(workflow_id=workflow_id, workflow_version=1, steps=[{"id": "slack", "tool": step}],
                      inputs=inputs, status="running", created_at=queued or started_at, started_at=started_at)
            session.add(run)
            session.flush()
            recorder = _Recorder(session, run)
            recorder.emit("run.status", "queued", at=run.created_at)
            session.add(StepRun(run_id=run.id, step_id="slack", tool=step, status="running", args=inputs,
                                started_at=run.started_at))
            recorder.emit("run.status", "running", at=started_at)
            recorder.emit("step.status", "running", step_id="slack", tool=step, at=started_at)
            run_id = run.id
        self.publisher.publish(recorder.pending)
        return run_id

    def _finish_recorded(self, run_id: str, step: str, handle: RecordedRun) -> None:
        status = "failed" if handle.error else "succeeded"
        with self.db.session() as session:
            run = session.get(Run, run_id)
            assert run is not None
            for record in session.scalars(select(StepRun).where(StepRun.run_id == run_id)):
                record.status, record.output, record.error, record.finished_at = (
                    status, handle.output, handle.error, utcnow())
            run.status, run.output, run.error, run.finished_at = status, handle.output, handle.error, utcnow()
            recorder = _Recorder(session, run)
            recorder.emit("step.status", status, step_id="slack", tool=step, error=handle.error)
            recorder.emit("run.status", status, error=handle.error)
        self.publisher.publish(recorder.pending)

    # --- in the worker ----------------------------------------------------------------------------

    def execute(self, run_id: str, registry: Any, services: Any) -> str:
        with self.db.session() as session:
            run = session.get(Run, run_id)
            if run is None or run.status != "queued":
                return f"run {run_id} is {run.status if run else 'gone'}; nothing to do"
            run.status, run.started_at = "running", utcnow()
            recorder = _Recorder(session, run)
            recorder.emit("run.status", "running")
            steps, inputs, workflow_id = list(run.steps), dict(run.inputs), run.workflow_id
            context = self._context(session, workflow_id, run_id)
        self.publisher.publish(recorder.pending)
        scope: dict[str, Any] = {"inputs": inputs, "steps": {}, "context": context}
        tool_context = ToolContext(services=services, run_id=run_id, context=context)
        output: Any = None
        try:
            for step in steps:
                if self._cancel_requested(run_id):
                    self._finish(run_id, "cancelled")
                    return "cancelled"
                output = self._step(run_id, step, scope, registry, tool_context, depth=0)
                scope["steps"][step["id"]] = {"output": output}
        except _StepFailed as failure:
            self._finish(run_id, "failed", error=str(failure))
            return f"failed: {failure}"
        except Exception as exc:
            # The run must not stay "running" forever; RQ keeps the job and its traceback as failed.
            self._finish(run_id, "failed", error=f"internal error ({type(exc).__name__})")
            raise
        self._finish(run_id, "succeeded", output=output)
        return "succeeded"

    def _context(self, session: Session, workflow_id: str | None, run_id: str) -> dict[str, Any]:
        """Workflow context, with the run's own values over it."""
        values: dict[str, Any] = {}
        if workflow_id:
            query = select(ContextEntry).where(ContextEntry.workflow_id == workflow_id, ContextEntry.run_id.is_(None))
            values.update({e.key: e.value for e in session.scalars(query)})
        own = select(ContextEntry).where(ContextEntry.run_id == run_id)
        values.update({e.key: e.value for e in session.scalars(own)})
        return values

    def _cancel_requested(self, run_id: str) -> bool:
        with self.db.session() as session:
            run = session.get(Run, run_id)
            return bool(run and run.cancel_requested)

    def _step(self, run_id: str, step: dict[str, Any], scope: dict[str, Any], registry: Any,
              tool_context: ToolContext, depth: int) -> Any:
        step_id = str(step["id"])
        name = step.get("tool") or f"workflow:{step.get('workflow')}"
        with self.db.session() as session:
            run = session.get(Run, run_id)
            assert run is not None
            record = StepRun(run_id=run_id, step_id=step_id, tool=name, status="running", started_at=utcnow())
            session.add(record)
            session.flush()
            record_id = record.id
            recorder = _Recorder(session, run)
            recorder.emit("step.status", "running", step_id=step_id, tool=name)
        self.publisher.publish(recorder.pending)
        started = datetime.now().astimezone()
        status, output, error = "succeeded", None, None
        args: dict[str, Any] = {}
        try:
            args = step.get("args", {}) if step.get("literal") else render(step.get("args", {}), scope)
            if step.get("workflow"):
                output = self._sub_workflow(run_id, str(step["workflow"]), args, scope, registry, tool_context, depth)
            else:
                tool = registry.get(name)
                if tool is None:
                    raise ToolError(f"there is no tool {name!r}")
                output = tool.run(tool_context, args)
        except IntegrationError as exc:
            status, error = "failed", exc.user_message
        except (ToolError, TemplateError) as exc:
            status, error = "failed", str(exc)
        except Exception as exc:  # noqa: BLE001 - a broken step fails its run, it does not kill the worker
            log.exception("step %s of run %s raised", step_id, run_id)
            status, error = "failed", f"internal error ({type(exc).__name__})"
        with self.db.session() as session:
            run = session.get(Run, run_id)
            finished = session.get(StepRun, record_id)
            assert run is not None and finished is not None
            finished.status, finished.output, finished.error, finished.finished_at = status, output, error, utcnow()
            finished.args = args
            recorder = _Recorder(session, run)
            took_ms = round((datetime.now().astimezone() - started).total_seconds() * 1000, 1)
            recorder.emit("step.status", status, step_id=step_id, tool=name, duration_ms=took_ms, error=error)
        self.publisher.publish(recorder.pending)
        if status == "failed":
            raise _StepFailed(f"step {step_id!r} failed: {error}")
        return output

    def _sub_workflow(self, run_id: str, workflow_id: str, args: dict[str, Any], scope: dict[str, Any],
                      registry: Any, tool_context: ToolContext, depth: int) -> Any:
        if depth >= MAX_SUB_WORKFLOW_DEPTH:
            raise ToolError(f"sub-workflows nest deeper than {MAX_SUB_WORKFLOW_DEPTH}")
        with self.db.session() as session:
            workflow = session.get(Workflow, workflow_id)
            if workflow is None:
                raise ToolError(f"there is no workflow {workflow_id!r}")
            steps = list(workflow.steps)
        inner: dict[str, Any] = {"inputs": args, "steps": {}, "context": scope["context"]}
        output = None
        for step in steps:
            output = self._step(run_id, {**step, "id": f"{workflow_id}.{step['id']}"}, inner, registry, tool_context,
                                depth + 1)
            inner["steps"][step["id"]] = {"output": output}
        return output


class _StepFailed(Exception):
    pass


def execute_run(run_id: str) -> str:
    """The RQ job: run every step of `run_id` in order, recording each."""
    from app.jobs import runtime  # noqa: PLC0415

    services = runtime.current()
    return services.runs.execute(run_id, services.tools, services)
