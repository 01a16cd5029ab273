"""Runs: a workflow's runs, one run with its steps and events, and cancelling."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.backend import Backend
from app.api.errors import ApiError
from app.api.pagination import Cursor, Limit, page, paginate
from app.api.schemas import RunOut, RunStarted
from app.api.workflows import find_workflow
from app.runs.control import RunNotCancellable
from app.store.models import Run, RunEvent, StepRun

router = APIRouter()
RunStatus = Literal["queued", "running", "waiting", "succeeded", "failed", "cancelled"]


def _attrs(row: Any) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


def _run_out(session: Session, run: Run, detail: bool) -> dict[str, Any]:
    data = _attrs(run)
    # The run's copy of its step definitions stays inside; `steps` here are the step runs.
    data["steps"] = []
    if detail:
        data["steps"] = [_attrs(s) for s in session.scalars(
            select(StepRun).where(StepRun.run_id == run.id).order_by(StepRun.id))]
        data["events"] = [_attrs(e) for e in session.scalars(
            select(RunEvent).where(RunEvent.run_id == run.id).order_by(RunEvent.id))]
    return RunOut.model_validate(data).model_dump(mode="json")


def find_run(session: Session, run_id: str) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise ApiError(404, f"there is no run {run_id!r}")
    return run


@router.get("/workflows/{workflow_id}/runs", tags=["runs"])
def list_runs(workflow_id: str, backend: Backend, limit: Limit = 20, cursor: Cursor = None) -> dict[str, Any]:
    with backend.db.session() as session:
        find_workflow(session, workflow_id)
        rows, next_cursor = paginate(session, select(Run).where(Run.workflow_id == workflow_id), Run.id, limit, cursor)
        return page([_run_out(session, r, detail=False) for r in rows], next_cursor)


@router.get("/runs", tags=["runs"])
def list_all_runs(backend: Backend, limit: Limit = 20, cursor: Cursor = None, status: RunStatus | None = None,
                  workflow_id: str | None = None) -> dict[str, Any]:
    """Every run, whoever started it (Slack, the API, the agent), oldest first: a cursor from the last page read
    gives what came since (what a WebSocket that was closed missed)."""
    query = select(Run)
    if status is not None:
        query = query.where(Run.status == status)
    if workflow_id is not None:
        query = query.where(Run.workflow_id == workflow_id)
    with backend.db.session() as session:
        rows, next_cursor = paginate(session, query, Run.id, limit, cursor)
        return page([_run_out(session, r, detail=False) for r in rows], next_cursor)


@router.get("/runs/{run_id}", response_model=RunOut, tags=["runs"])
def get_run(run_id: str, backend: Backend) -> dict[str, Any]:
    with backend.db.session() as session:
        return _run_out(session, find_run(session, run_id), detail=True)


@router.post("/runs/{run_id}/cancel", status_code=202, response_model=RunStarted, tags=["runs"])
def cancel_run(run_id: str, backend: Backend) -> RunStarted:
    try:
        run = backend.runs.cancel(run_id)
    except RunNotCancellable as exc:
        raise ApiError(409, str(exc)) from None
    if run is None:
        raise ApiError(404, f"there is no run {run_id!r}")
    return RunStarted(run_id=run.id, status=run.status if run.status == "cancelled" else "cancelling")
