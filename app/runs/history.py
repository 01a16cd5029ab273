"""Writing runs down: rows and events in the database, the events published on Redis once committed."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.runs.events import EventPublisher, event_json
from app.store.db import Database
from app.store.models import Run, RunEvent, StepRun, utcnow

log = logging.getLogger(__name__)

_INSERT_EVENTS = insert(cast(Table, RunEvent.__table__))
# A run in one of these has ended for good: no writer may change its status again (a run cancelled while its
# worker was busy or gone stays cancelled when that worker finishes).
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
LIVE = ("queued", "running", "waiting")


class HistoryWriter:
    """One transaction of a run's history, and the events it will publish after the commit."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.pending: list[dict[str, Any]] = []
        self._rows: list[dict[str, Any]] = []

    def emit(self, run: Run, type_: str, status: str, step_id: str | None = None, *, at: datetime | None = None,
             error: str | None = None, **detail: Any) -> None:
        self.emit_for(run.id, run.workflow_id, type_, status, step_id, at=at, error=error, **detail)

    def emit_for(self, run_id: str, workflow_id: str | None, type_: str, status: str, step_id: str | None = None, *,
                 at: datetime | None = None, error: str | None = None, **detail: Any) -> None:
        """An event of a run not loaded in this transaction (a step's, written without reading the run)."""
        at = at or utcnow()
        if error:
            detail["error"] = error
        self._rows.append({"run_id": run_id, "step_id": step_id, "type": type_, "status": status, "at": at,
                           "detail": detail})
        self.pending.append(event_json(type_, run_id, workflow_id, step_id, status, at, **detail))

    def end(self, run: Run, status: str, reason: str | None = None) -> None:
        """End `run` (loaded for update) as `status`, and its live steps with it, so that none is left running
        or waiting in a run that has ended."""
        ended_at = self.end_live_steps(run, status, reason)
        run.status, run.finished_at = status, ended_at
        if reason is not None:
            run.error = reason
        self.emit(run, "run.status", status, error=reason)

    def end_live_steps(self, run: Run, status: str, reason: str | None) -> datetime:
        """End the steps of `run` left running or waiting (as `status`); answers when."""
        ended_at = utcnow()
        for step in self.session.scalars(select(StepRun).where(StepRun.run_id == run.id, StepRun.status.in_(LIVE))):
            step.status, step.error, step.finished_at = status, reason, ended_at
            self.emit(run, "step.status", status, step_id=step.step_id, tool=step.tool, error=reason)
        return ended_at

    def write_events(self) -> None:
        # One INSERT of the transaction's events, after the rows they speak of: cheaper than the ORM's unit
        # of work, for the writes every run and every step makes.
        if self._rows:
            self.session.flush()
            self.session.connection().execute(_INSERT_EVENTS, self._rows)
            self._rows = []


class RunHistory:
    def __init__(self, db: Database, publisher: EventPublisher) -> None:
        self.db = db
        self._publisher = publisher

    @contextmanager
    def writing(self) -> Iterator[HistoryWriter]:
        """A transaction; its events go out after it commits, so a client that hears one can read it."""
        with self.db.session() as session:
            writer = HistoryWriter(session)
            yield writer
            writer.write_events()
        if writer.pending:
            self._publisher.publish(writer.pending)

    def wait(self, run_id: str, reason: str, retry_in_s: float, job_id: str) -> bool:
        """The run goes on in a later job, `job_id` (it waits for Slack); False when it has ended meanwhile."""
        with self.writing() as history:
            run = history.session.get(Run, run_id, with_for_update=True)
            if run is None or run.status in TERMINAL:
                return False
            if run.cancel_requested:
                # Asked while the step ran: cancelled now, rather than waiting for a job that would only end it.
                history.end(run, "cancelled")
                return False
            run.status, run.job_id = "waiting", job_id
            history.emit(run, "run.status", "waiting", reason=reason, retry_in_s=round(retry_in_s, 3))
        return True

    def cancel_requested(self, run_id: str) -> bool:
        """True once a cancel was asked for the run: its worker stops it before its next step. A database that
        does not answer the question does not stop the work (the sweep still ends a cancelled run)."""
        try:
            with self.db.session() as session:
                run = session.get(Run, run_id)
                return bool(run and run.cancel_requested)
        except SQLAlchemyError as exc:
            log.warning("could not read whether run %s was cancelled: %s", run_id, exc)
            return False

    def finish(self, run_id: str, status: str, output: Any = None, error: str | None = None) -> bool:
        """End the run as `status`; False (nothing written) when it has already ended."""
        with self.writing() as history:
            run = history.session.get(Run, run_id, with_for_update=True)
            if run is None or run.status in TERMINAL:
                return False
            run.output, run.error = output, error
            history.end(run, status, error)
        return True
