"""Executing a run in the worker: each step calls a tool or a sub-workflow, and is recorded as it goes."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.integrations.errors import IntegrationError
from app.runs.history import RunHistory
from app.runs.templates import TemplateError, render
from app.store.models import ContextEntry, Run, StepRun, Workflow, utcnow
from app.tools.context import ToolContext
from app.tools.registry import ToolError
from app.tools.tool_catalog import ToolCatalog

log = logging.getLogger(__name__)
MAX_SUB_WORKFLOW_DEPTH = 5


class _StepFailed(Exception):
    pass


class StepEngine:
    """Runs a run's steps in order with `tools`; each tool call gets `tool_context` with the run's own values."""

    def __init__(self, history: RunHistory, tools: ToolCatalog, tool_context: ToolContext) -> None:
        self._history = history
        self._tools = tools
        self._tool_context = tool_context

    def execute(self, run_id: str) -> str:
        with self._history.writing() as history:
            run = history.session.get(Run, run_id)
            if run is None or run.status != "queued":
                return f"run {run_id} is {run.status if run else 'gone'}; nothing to do"
            run.status, run.started_at = "running", utcnow()
            history.emit(run, "run.status", "running")
            steps, inputs, workflow_id = list(run.steps), dict(run.inputs), run.workflow_id
            values = _context_values(history.session, workflow_id, run_id)
        scope: dict[str, Any] = {"inputs": inputs, "steps": {}, "context": values}
        tool_context = replace(self._tool_context, run_id=run_id, run_context=values)
        output: Any = None
        try:
            for step in steps:
                if self._cancel_requested(run_id):
                    self._history.finish(run_id, "cancelled")
                    return "cancelled"
                output = self._step(run_id, step, scope, tool_context, depth=0)
                scope["steps"][step["id"]] = {"output": output}
        except _StepFailed as failure:
            self._history.finish(run_id, "failed", error=str(failure))
            return f"failed: {failure}"
        except Exception as exc:
            # The run must not stay "running" forever; RQ keeps the job and its traceback as failed.
            self._history.finish(run_id, "failed", error=f"internal error ({type(exc).__name__})")
            raise
        self._history.finish(run_id, "succeeded", output=output)
        return "succeeded"

    def _cancel_requested(self, run_id: str) -> bool:
        with self._history.db.session() as session:
            run = session.get(Run, run_id)
            return bool(run and run.cancel_requested)

    def _step(self, run_id: str, step: dict[str, Any], scope: dict[str, Any], tool_context: ToolContext,
              depth: int) -> Any:
        step_id = str(step["id"])
        name = step.get("tool") or f"workflow:{step.get('workflow')}"
        with self._history.writing() as history:
            run = history.session.get(Run, run_id)
            assert run is not None
            record = StepRun(run_id=run_id, step_id=step_id, tool=name, status="running", started_at=utcnow())
            history.session.add(record)
            history.session.flush()
            record_id = record.id
            history.emit(run, "step.status", "running", step_id=step_id, tool=name)
        started = datetime.now().astimezone()
        status, output, error = "succeeded", None, None
        args: dict[str, Any] = {}
        try:
            args = step.get("args", {}) if step.get("literal") else render(step.get("args", {}), scope)
            if step.get("workflow"):
                output = self._sub_workflow(run_id, str(step["workflow"]), args, scope, tool_context, depth)
            else:
                tool = self._tools.get(name)
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
        with self._history.writing() as history:
            run = history.session.get(Run, run_id)
            finished = history.session.get(StepRun, record_id)
            assert run is not None and finished is not None
            finished.status, finished.output, finished.error, finished.finished_at = status, output, error, utcnow()
            finished.args = args
            took_ms = round((datetime.now().astimezone() - started).total_seconds() * 1000, 1)
            history.emit(run, "step.status", status, step_id=step_id, tool=name, duration_ms=took_ms, error=error)
        if status == "failed":
            raise _StepFailed(f"step {step_id!r} failed: {error}")
        return output

    def _sub_workflow(self, run_id: str, workflow_id: str, args: dict[str, Any], scope: dict[str, Any],
                      tool_context: ToolContext, depth: int) -> Any:
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
            output = self._step(run_id, {**step, "id": f"{workflow_id}.{step['id']}"}, inner, tool_context, depth + 1)
            inner["steps"][step["id"]] = {"output": output}
        return output


def _context_values(session: Session, workflow_id: str | None, run_id: str) -> dict[str, Any]:
    """The workflow's context, with the run's own values over it."""
    values: dict[str, Any] = {}
    if workflow_id:
        query = select(ContextEntry).where(ContextEntry.workflow_id == workflow_id, ContextEntry.run_id.is_(None))
        values.update({e.key: e.value for e in session.scalars(query)})
    own = select(ContextEntry).where(ContextEntry.run_id == run_id)
    values.update({e.key: e.value for e in session.scalars(own)})
    return values
