"""One step of a run: recorded as running, done, then recorded with its arguments, output or error and timing.

Workflow steps and an agent's tool calls are both steps, so both show the same in /v1/runs and on the
WebSocket.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, update

from app.integrations.deferral import PostDeferred
from app.integrations.errors import IntegrationError
from app.runs.history import RunHistory
from app.runs.templates import TemplateError
from app.store.models import StepRun, utcnow
from app.tools.registry import ToolError

log = logging.getLogger(__name__)
_STEPS = cast(Table, StepRun.__table__)
# Built once: a statement made anew for each step costs SQLAlchemy its cache key every time.
_INSERT_STEP = insert(_STEPS)
_FINISH_STEP = update(_STEPS).where(_STEPS.c.id == bindparam("record_id"))


@dataclass(frozen=True)
class StepOutcome:
    status: str
    output: Any = None
    error: str | None = None
    duration_ms: float = 0.0

    @property
    def failed(self) -> bool:
        return self.status == "failed"


class StepRecorder:
    def __init__(self, history: RunHistory) -> None:
        self._history = history

    def run(self, run_id: str, step_id: str, name: str, work: Callable[[dict[str, Any]], Any],
            usage: dict[str, int] | None = None, workflow_id: str | None = None) -> StepOutcome:
        """Record the step, do `work(args)` (it fills in the arguments it used), record how it ended.

        A failure of the work is the step's failure, never the worker's: the error is what the caller
        may be told (a downstream's message, a tool's own), or "internal error (...)" with the details logged.
        """
        record_id = self.started(run_id, workflow_id, step_id, name)
        started = time.perf_counter()
        args: dict[str, Any] = {}
        status, output, error = "succeeded", None, None
        try:
            output = work(args)
        except PostDeferred as deferred:
            # Not failed: the run goes on in a later job, which does this step again.
            self.finished(run_id, workflow_id, record_id, step_id, name,
                          StepOutcome("waiting", duration_ms=round((time.perf_counter() - started) * 1000, 1)),
                          args, usage, reason=deferred.reason)
            raise
        except IntegrationError as exc:
            status, error = "failed", exc.user_message
        except (ToolError, TemplateError) as exc:
            status, error = "failed", str(exc)
        except Exception as exc:  # noqa: BLE001 - a broken step fails its run, it does not kill the worker
            log.exception("step %s of run %s raised", step_id, run_id)
            status, error = "failed", f"internal error ({type(exc).__name__})"
        took_ms = round((time.perf_counter() - started) * 1000, 1)
        outcome = StepOutcome(status, output, error, took_ms)
        self.finished(run_id, workflow_id, record_id, step_id, name, outcome, args, usage)
        return outcome

    # A step is two short transactions, each an insert or an update and its event, in SQL statements of
    # their own rather than through the ORM's unit of work: the run's own row is not read (its workflow id
    # comes with the call), as an agent's turn makes many steps quickly.

    def started(self, run_id: str, workflow_id: str | None, step_id: str, name: str) -> int:
        with self._history.writing() as history:
            inserted = history.session.connection().execute(_INSERT_STEP, {
                "run_id": run_id, "step_id": step_id, "tool": name, "status": "running", "args": {},
                "started_at": utcnow()})
            history.emit_for(run_id, workflow_id, "step.status", "running", step_id=step_id, tool=name)
            return int(inserted.inserted_primary_key[0])  # type: ignore[index]  # always set by an INSERT

    def finished(self, run_id: str, workflow_id: str | None, record_id: int, step_id: str, name: str,
                 outcome: StepOutcome, args: dict[str, Any], usage: dict[str, int] | None = None,
                 reason: str | None = None) -> None:
        """How the step ended; `reason`, why one that waits does (said in its event, as a Slack job's is)."""
        with self._history.writing() as history:
            history.session.connection().execute(_FINISH_STEP, {
                "record_id": record_id, "status": outcome.status, "output": outcome.output, "error": outcome.error,
                "args": args, "usage": usage, "finished_at": utcnow()})
            detail: dict[str, Any] = {"duration_ms": outcome.duration_ms}
            if usage:
                detail["usage"] = usage
            if reason:
                detail["reason"] = reason
            history.emit_for(run_id, workflow_id, "step.status", outcome.status, step_id=step_id, tool=name,
                             error=outcome.error, **detail)
