"""Workflows, their runs, and context."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.api.errors import ApiError
from app.api.schemas import (
    ContextIn,
    ContextOut,
    RunIn,
    RunOut,
    RunStarted,
    Step,
    WorkflowIn,
    WorkflowOut,
    WorkflowPatch,
    WorkflowStatus,
    page,
)
from app.jobs.queue import QueueUnavailable
from app.runs.builtin import BUILTIN_PREFIX
from app.runs.service import RunNotCancellable
from app.runs.templates import ROOTS, references
from app.services import Services
from app.store.models import ContextEntry, Run, RunEvent, StepRun, Workflow

router = APIRouter()
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=60)]


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


Svc = Annotated[Services, Depends(services)]


def paginate(
    session: Session, query: Any, id_column: Any, limit: int, cursor: str | None
) -> tuple[list[Any], str | None]:
    """Items after `cursor` in id order; ids sort in creation order, so the last id is the next cursor."""
    if cursor:
        numeric = id_column.type.python_type is int
        if numeric and not cursor.isdigit():
            raise ApiError(422, "cursor is not one this list gave out")
        query = query.where(id_column > (int(cursor) if numeric else cursor))
    rows = list(session.scalars(query.order_by(id_column).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (str(rows[-1].id) if more and rows else None)


def check_steps(
    steps: list[Step], svc: Services, session: Session, workflow_id: str | None = None
) -> list[dict[str, Any]]:
    """Steps that can run: unique ids, a known tool or workflow each, references only to earlier steps."""
    seen: list[str] = []
    for n, step in enumerate(steps):
        where = f"steps[{n}] ({step.id})"
        if step.id in seen:
            raise ApiError(422, f"{where}: the step id is used twice")
        if (step.tool is None) == (step.workflow is None):
            raise ApiError(422, f"{where}: a step names either a tool or a workflow")
        if step.tool and svc.tools.get(step.tool) is None:
            raise ApiError(422, f"{where}: there is no tool {step.tool!r}", code="unknown_tool")
        if step.workflow and (step.workflow in (workflow_id,) or step.workflow.startswith(BUILTIN_PREFIX)
                              or session.get(Workflow, step.workflow) is None):
            raise ApiError(422, f"{where}: there is no other workflow {step.workflow!r}")
        for reference in references(step.args):
            root, _, rest = reference.partition(".")
            if root not in ROOTS:
                raise ApiError(422, f"{where}: {{{{ {reference} }}}} must start with {', '.join(ROOTS)}")
            if root == "steps" and rest.split(".")[0] not in seen:
                raise ApiError(422, f"{where}: {{{{ {reference} }}}} refers to a step that does not come before it")
        seen.append(step.id)
    return [s.model_dump(exclude_none=True) for s in steps]


def _workflow(session: Session, workflow_id: str, changing: bool = False) -> Workflow:
    workflow = session.get(Workflow, workflow_id)
    if workflow is None:
        raise ApiError(404, f"there is no workflow {workflow_id!r}")
    if changing and workflow_id.startswith(BUILTIN_PREFIX):
        raise ApiError(409, "built-in workflows are run by Slack and cannot be changed or run here; "
                            f"their runs are at /v1/workflows/{workflow_id}/runs", code="builtin_workflow")
    return workflow


def _out(workflow: Workflow) -> dict[str, Any]:
    return WorkflowOut.model_validate(workflow, from_attributes=True).model_dump(mode="json")


@router.post("/workflows", status_code=201, response_model=WorkflowOut, tags=["workflows"])
def create_workflow(body: WorkflowIn, svc: Svc) -> dict[str, Any]:
    with svc.db.session() as session:
        workflow = Workflow(name=body.name, description=body.description, steps=check_steps(body.steps, svc, session))
        session.add(workflow)
        session.flush()
        return _out(workflow)


@router.get("/workflows", tags=["workflows"])
def list_workflows(svc: Svc, limit: Limit = 20, cursor: Cursor = None,
                   name: Annotated[str | None, Query(max_length=200)] = None) -> dict[str, Any]:
    with svc.db.session() as session:
        query = select(Workflow)
        if name:
            query = query.where(func.lower(Workflow.name).contains(name.lower(), autoescape=True))
        rows, next_cursor = paginate(session, query, Workflow.id, limit, cursor)
        return page([_out(w) for w in rows], next_cursor)


@router.get("/workflows/{workflow_id}", response_model=WorkflowOut, tags=["workflows"])
def get_workflow(workflow_id: str, svc: Svc) -> dict[str, Any]:
    with svc.db.session() as session:
        return _out(_workflow(session, workflow_id))


@router.put("/workflows/{workflow_id}", response_model=WorkflowOut, tags=["workflows"])
def replace_workflow(workflow_id: str, body: WorkflowIn, svc: Svc) -> dict[str, Any]:
    with svc.db.session() as session:
        workflow = _workflow(session, workflow_id, changing=True)
        workflow.steps = check_steps(body.steps, svc, session, workflow_id)
        workflow.name, workflow.description = body.name, body.description
        workflow.version += 1
        session.flush()
        return _out(workflow)


@router.patch("/workflows/{workflow_id}", response_model=WorkflowOut, tags=["workflows"])
def patch_workflow(workflow_id: str, body: WorkflowPatch, svc: Svc) -> dict[str, Any]:
    with svc.db.session() as session:
        workflow = _workflow(session, workflow_id, changing=True)
        if body.steps is not None:
            workflow.steps = check_steps(body.steps, svc, session, workflow_id)
        if body.name is not None:
            workflow.name = body.name
        if body.description is not None:
            workflow.description = body.description
        workflow.version += 1
        session.flush()
        return _out(workflow)


@router.delete("/workflows/{workflow_id}", status_code=204, tags=["workflows"])
def delete_workflow(workflow_id: str, svc: Svc) -> Response:
    with svc.db.session() as session:
        session.delete(_workflow(session, workflow_id, changing=True))
    return Response(status_code=204)


def start_run(svc: Services, steps: list[dict[str, Any]], inputs: dict[str, Any],
              workflow: Workflow | None = None) -> RunStarted:
    try:
        run = svc.runs.start(steps, inputs, workflow)
    except QueueUnavailable as exc:
        raise ApiError(503, "the job queue is unavailable; the run was recorded as failed") from exc
    return RunStarted(run_id=run.id, status=run.status)


@router.post("/workflows/{workflow_id}/run", status_code=202, response_model=RunStarted, tags=["runs"])
def run_workflow(workflow_id: str, svc: Svc, body: Annotated[RunIn | None, Body()] = None) -> RunStarted:
    with svc.db.session() as session:
        workflow = _workflow(session, workflow_id, changing=True)
    return start_run(svc, list(workflow.steps), (body or RunIn()).inputs, workflow)


@router.get("/workflows/{workflow_id}/status", response_model=WorkflowStatus, tags=["runs"])
def workflow_status(workflow_id: str, svc: Svc) -> WorkflowStatus:
    with svc.db.session() as session:
        _workflow(session, workflow_id)
        latest = session.scalars(select(Run).where(Run.workflow_id == workflow_id).order_by(Run.id.desc())
                                 .limit(1)).first()
        return WorkflowStatus(status=latest.status if latest else "idle", run_id=latest.id if latest else None)


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


def _attrs(row: Any) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


@router.get("/workflows/{workflow_id}/runs", tags=["runs"])
def list_runs(workflow_id: str, svc: Svc, limit: Limit = 20, cursor: Cursor = None) -> dict[str, Any]:
    with svc.db.session() as session:
        _workflow(session, workflow_id)
        rows, next_cursor = paginate(session, select(Run).where(Run.workflow_id == workflow_id), Run.id, limit, cursor)
        return page([_run_out(session, r, detail=False) for r in rows], next_cursor)


def _run(session: Session, run_id: str) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise ApiError(404, f"there is no run {run_id!r}")
    return run


@router.get("/runs/{run_id}", response_model=RunOut, tags=["runs"])
def get_run(run_id: str, svc: Svc) -> dict[str, Any]:
    with svc.db.session() as session:
        return _run_out(session, _run(session, run_id), detail=True)


@router.post("/runs/{run_id}/cancel", status_code=202, response_model=RunStarted, tags=["runs"])
def cancel_run(run_id: str, svc: Svc) -> RunStarted:
    try:
        run = svc.runs.cancel(run_id)
    except RunNotCancellable as exc:
        raise ApiError(409, str(exc)) from None
    if run is None:
        raise ApiError(404, f"there is no run {run_id!r}")
    return RunStarted(run_id=run.id, status=run.status if run.status == "cancelled" else "cancelling")


def _put_context(svc: Services, body: ContextIn, workflow_id: str | None, run_id: str | None) -> dict[str, Any]:
    with svc.db.session() as session:
        query = select(ContextEntry).where(ContextEntry.key == body.key)
        query = query.where(ContextEntry.run_id == run_id) if run_id else query.where(
            ContextEntry.workflow_id == workflow_id, ContextEntry.run_id.is_(None))
        entry = session.scalars(query).first()
        if entry is None:
            entry = ContextEntry(workflow_id=workflow_id, run_id=run_id, key=body.key, value=body.value)
            session.add(entry)
        else:
            entry.value = body.value
        session.flush()
        return ContextOut.model_validate(entry, from_attributes=True).model_dump(mode="json")


def _list_context(svc: Services, limit: int, cursor: str | None, workflow_id: str | None,
                  run_id: str | None) -> dict[str, Any]:
    with svc.db.session() as session:
        query = select(ContextEntry).where(ContextEntry.run_id == run_id) if run_id else select(ContextEntry).where(
            ContextEntry.workflow_id == workflow_id, ContextEntry.run_id.is_(None))
        rows, next_cursor = paginate(session, query, ContextEntry.id, limit, cursor)
        return page([ContextOut.model_validate(e, from_attributes=True).model_dump(mode="json") for e in rows],
                    next_cursor)


def _run_of(session: Session, workflow_id: str, run_id: str) -> None:
    run = _run(session, run_id)
    if run.workflow_id != workflow_id:
        raise ApiError(404, f"run {run_id!r} is not a run of workflow {workflow_id!r}")


@router.post("/workflows/{workflow_id}/context", status_code=201, response_model=ContextOut, tags=["context"])
def put_workflow_context(workflow_id: str, body: ContextIn, svc: Svc) -> dict[str, Any]:
    with svc.db.session() as session:
        _workflow(session, workflow_id)
    return _put_context(svc, body, workflow_id, None)


@router.get("/workflows/{workflow_id}/context", tags=["context"])
def get_workflow_context(workflow_id: str, svc: Svc, limit: Limit = 20, cursor: Cursor = None) -> dict[str, Any]:
    with svc.db.session() as session:
        _workflow(session, workflow_id)
    return _list_context(svc, limit, cursor, workflow_id, None)


@router.post("/workflows/{workflow_id}/runs/{run_id}/context", status_code=201, response_model=ContextOut,
             tags=["context"])
def put_run_context(workflow_id: str, run_id: str, body: ContextIn, svc: Svc) -> dict[str, Any]:
    with svc.db.session() as session:
        _run_of(session, workflow_id, run_id)
    return _put_context(svc, body, workflow_id, run_id)


@router.get("/workflows/{workflow_id}/runs/{run_id}/context", tags=["context"])
def get_run_context(
    workflow_id: str, run_id: str, svc: Svc, limit: Limit = 20, cursor: Cursor = None
) -> dict[str, Any]:
    with svc.db.session() as session:
        _run_of(session, workflow_id, run_id)
    return _list_context(svc, limit, cursor, workflow_id, run_id)
