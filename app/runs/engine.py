"""Executing a run in the worker: each step calls a tool or a sub-workflow, and is recorded as it goes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.runs.history import RunHistory
from app.runs.steps import StepRecorder
from app.runs.templates import render
from app.store.db import driver_detail, is_transient
from app.store.models import ContextEntry, Run, StepRun, Workflow, utcnow
from app.tools.context import ToolContext
from app.tools.registry import ToolError
from app.tools.tool_catalog import ToolCatalog

MAX_SUB_WORKFLOW_DEPTH = 5


class _StepFailed(ToolError):
    """A step failed: the run ends with the reason; in a sub-workflow, the step that called it fails with it."""


class RunNotStarted(Exception):
    """The database could not be reached to start the run (an outage): nothing was done, and the run is still
    queued; its job tries again later."""


class StepEngine:
    """Runs a run's steps in order with `tools`; each tool call gets `tool_context` with the run's own values."""

    def __init__(self, history: RunHistory, tools: ToolCatalog, tool_context: ToolContext) -> None:
        self._history = history
        self._steps = StepRecorder(history)
        self._tools = tools
        self._tool_context = tool_context

    def execute(self, run_id: str, job_id: str | None = None, waited_for: str | None = None) -> str:
        """Run the steps of a queued run; or go on with a waiting one when `job_id` (or `waited_for`, the job
        `job_id` stands in for) is the job it waits for. Either way, steps that succeeded in an earlier attempt
        are taken as done (their outputs as recorded)."""
        expected = waited_for or job_id
        try:
            with self._history.writing() as history:
                run = history.session.get(Run, run_id)
                resuming = run is not None and run.status == "waiting" and expected is not None \
                    and run.job_id == expected
                if run is None or (run.status != "queued" and not resuming):
                    return f"run {run_id} is {run.status if run else 'gone'}; nothing to do"
                if job_id is not None:
                    run.job_id = job_id  # a job that stands in for another after an outage: the sweep watches it
                # Run before (it waited, or its worker died): the steps that succeeded then are done, and are
                # not run again (a post would be asked of Slack twice, a CRM read made twice).
                ran_before = run.started_at is not None
                if ran_before:
                    # An earlier job's attempts that never ended (it waited, or its worker died): each step
                    # runs again in a row of its own.
                    history.end_live_steps(run, "retried", "the step runs again in a later job")
                run.status, run.started_at = "running", run.started_at or utcnow()
                history.emit(run, "run.status", "running")
                steps, inputs, workflow_id = list(run.steps), dict(run.inputs), run.workflow_id
                values = _context_values(history.session, workflow_id, run_id)
                done = _succeeded_steps(history.session, run_id) if resuming or ran_before else {}
        except SQLAlchemyError as exc:
            if is_transient(exc):
                raise RunNotStarted(driver_detail(exc)) from None
            raise
        scope: dict[str, Any] = {"inputs": inputs, "steps": {}, "context": values}
        tool_context = replace(self._tool_context, run_id=run_id, run_context=values)
        output: Any = None
        try:
            for step in steps:
                if self._history.cancel_requested(run_id):
                    self._history.finish(run_id, "cancelled")
                    return "cancelled"
                output = self._step(run_id, workflow_id, step, scope, tool_context, done, depth=0)
                scope["steps"][step["id"]] = {"output": output}
        except _StepFailed as failure:
            self._history.finish(run_id, "failed", error=str(failure))
            return f"failed: {failure}"
        except Exception as exc:
            # The run must not stay "running" forever; RQ keeps the job and its traceback as failed.
            self._history.finish(run_id, "failed", error=f"internal error ({type(exc).__name__})")
            raise
        if not self._history.finish(run_id, "succeeded", output=output):
            return "ended meanwhile (cancelled, or swept as lost); left as it was"
        return "succeeded"

    def waits(self, run_id: str, reason: str, retry_in_s: float, job_id: str) -> bool:
        """The run goes on in `job_id`, a later job (a step waits for Slack); False when it ended meanwhile."""
        return self._history.wait(run_id, reason, retry_in_s, job_id)

    def _step(self, run_id: str, workflow_id: str | None, step: dict[str, Any], scope: dict[str, Any],
              tool_context: ToolContext, done: dict[str, Any], depth: int) -> Any:
        step_id = str(step["id"])
        if step_id in done:
            return done[step_id]
        name = step.get("tool") or f"workflow:{step.get('workflow')}"

        def work(args: dict[str, Any]) -> Any:
            args.update(step.get("args", {}) if step.get("literal") else render(step.get("args", {}), scope))
            if step.get("workflow"):
                return self._sub_workflow(run_id, workflow_id, step_id, str(step["workflow"]), args, scope,
                                          tool_context, done, depth)
            tool = self._tools.get(name)
            if tool is None:
                raise ToolError(f"there is no tool {name!r}")
            return tool.run(tool_context, args)

        outcome = self._steps.run(run_id, step_id, name, work, workflow_id=workflow_id)
        if outcome.failed:
            raise _StepFailed(f"step {step_id!r} failed: {outcome.error}")
        return outcome.output

    def _sub_workflow(self, run_id: str, run_workflow_id: str | None, calling_step_id: str, workflow_id: str,
                      args: dict[str, Any], scope: dict[str, Any], tool_context: ToolContext, done: dict[str, Any],
                      depth: int) -> Any:
        if depth >= MAX_SUB_WORKFLOW_DEPTH:
            raise ToolError(f"sub-workflows nest deeper than {MAX_SUB_WORKFLOW_DEPTH}")
        with self._history.db.session() as session:
            workflow = session.get(Workflow, workflow_id)
            if workflow is None:
                raise ToolError(f"there is no workflow {workflow_id!r}")
            steps = list(workflow.steps)
        inner: dict[str, Any] = {"inputs": args, "steps": {}, "context": scope["context"]}
        output = None
        for step in steps:
            # Named by the path of steps that called it (ids hold no dots): one workflow called from two steps
            # records two steps, each found again when a waiting run goes on.
            output = self._step(run_id, run_workflow_id, {**step, "id": f"{calling_step_id}.{step['id']}"}, inner,
                                tool_context, done, depth + 1)
            inner["steps"][step["id"]] = {"output": output}
        return output


def _succeeded_steps(session: Session, run_id: str) -> dict[str, Any]:
    """A run's steps that succeeded in an earlier attempt, by step id, with their outputs (a later attempt's
    record wins)."""
    query = select(StepRun).where(StepRun.run_id == run_id, StepRun.status == "succeeded").order_by(StepRun.id)
    return {record.step_id: record.output for record in session.scalars(query)}


def _context_values(session: Session, workflow_id: str | None, run_id: str) -> dict[str, Any]:
    """The workflow's context, with the run's own values over it."""
    values: dict[str, Any] = {}
    if workflow_id:
        query = select(ContextEntry).where(ContextEntry.workflow_id == workflow_id, ContextEntry.run_id.is_(None))
        values.update({e.key: e.value for e in session.scalars(query)})
    own = select(ContextEntry).where(ContextEntry.run_id == run_id)
    values.update({e.key: e.value for e in session.scalars(own)})
    return values
