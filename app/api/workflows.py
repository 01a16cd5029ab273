"""Workflows: named, versioned steps, each calling a tool or another workflow; and starting their runs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.api.backend import ApiBackend, Backend, RequestKey
from app.api.errors import ApiError
from app.api.pagination import Cursor, Limit, page, paginate
from app.api.schemas import RunIn, RunStarted, Step, WorkflowIn, WorkflowOut, WorkflowPatch, WorkflowStatus
from app.runs.builtin_workflows import is_builtin
from app.runs.templates import ROOTS, references
from app.store.models import Run, Workflow
from app.tools.registry import RunnableTool, ToolArgumentsInvalid

router = APIRouter()


def check_steps(
    steps: list[Step], backend: ApiBackend, session: Session, workflow_id: str | None = None
) -> list[dict[str, Any]]:
    """Steps that can run: unique ids, a known tool or workflow each, references only to earlier steps."""
    seen: list[str] = []
    for n, step in enumerate(steps):
        where = f"steps[{n}] ({step.id})"
        if step.id in seen:
            raise ApiError(422, f"{where}: the step id is used twice")
        if (step.tool is None) == (step.workflow is None):
            raise ApiError(422, f"{where}: a step names either a tool or a workflow")
        tool = backend.tools.get(step.tool) if step.tool else None
        if step.tool and tool is None:
            raise ApiError(422, f"{where}: there is no tool {step.tool!r}", code="unknown_tool")
        if tool is not None:
            _check_literal_args(where, tool, step.args or {})
        if step.workflow and (step.workflow == workflow_id or is_builtin(step.workflow)
                              or session.get(Workflow, step.workflow) is None):
            raise ApiError(422, f"{where}: there is no other workflow {step.workflow!r}")
        if step.workflow and workflow_id is not None:
            back = _path_back(session, step.workflow, workflow_id)
            if back:
                raise ApiError(422, f"{where}: workflow {step.workflow!r} calls this one back "
                                    f"({' -> '.join([workflow_id, *back])}): a run would never end")
        for reference in references(step.args):
            root, _, rest = reference.partition(".")
            if root not in ROOTS:
                raise ApiError(422, f"{where}: {{{{ {reference} }}}} must start with {', '.join(ROOTS)}")
            if root == "steps" and rest.split(".")[0] not in seen:
                raise ApiError(422, f"{where}: {{{{ {reference} }}}} refers to a step that does not come before it")
        seen.append(step.id)
    return [s.model_dump(exclude_none=True) for s in steps]


def _check_literal_args(where: str, tool: RunnableTool, args: dict[str, Any]) -> None:
    """Arguments written as they are (no {{ reference }}, known only when the step runs) must fit the tool's
    schema now: one that never can would fail every run of the workflow at that step."""
    templated = {name for name, value in args.items() if next(references(value), None) is not None}
    try:
        tool.validate(args)
    except ToolArgumentsInvalid as exc:
        errors = [e for e in exc.errors if not (e["path"] and str(e["path"][0]) in templated)]
        if errors:
            raise ApiError(422, f"{where}: {exc}", details=errors) from None


def _path_back(session: Session, start: str, target: str) -> list[str]:
    """The workflows from `start` that lead back to `target` through their steps; empty when none does."""
    paths, seen = [[start]], {start}
    while paths:
        path = paths.pop()
        workflow = session.get(Workflow, path[-1])
        for called in (str(s["workflow"]) for s in (workflow.steps if workflow else []) if s.get("workflow")):
            if called == target:
                return [*path, target]
            if called not in seen:
                seen.add(called)
                paths.append([*path, called])
    return []


def find_workflow(session: Session, workflow_id: str, changing: bool = False) -> Workflow:
    workflow = session.get(Workflow, workflow_id)
    if workflow is None:
        raise ApiError(404, f"there is no workflow {workflow_id!r}")
    if changing and is_builtin(workflow_id):
        raise ApiError(409, "built-in workflows are run by Slack and cannot be changed or run here; "
                            f"their runs are at /v1/workflows/{workflow_id}/runs", code="builtin_workflow")
    return workflow


def _out(workflow: Workflow) -> dict[str, Any]:
    return WorkflowOut.model_validate(workflow, from_attributes=True).model_dump(mode="json")


@router.post("/workflows", status_code=201, response_model=WorkflowOut, tags=["workflows"])
def create_workflow(body: WorkflowIn, backend: Backend) -> dict[str, Any]:
    with backend.db.session() as session:
        workflow = Workflow(name=body.name, description=body.description,
                            steps=check_steps(body.steps, backend, session))
        session.add(workflow)
        session.flush()
        return _out(workflow)


@router.get("/workflows", tags=["workflows"])
def list_workflows(backend: Backend, limit: Limit = 20, cursor: Cursor = None,
                   name: Annotated[str | None, Query(max_length=200)] = None) -> dict[str, Any]:
    with backend.db.session() as session:
        query = select(Workflow)
        if name:
            query = query.where(func.lower(Workflow.name).contains(name.lower(), autoescape=True))
        rows, next_cursor = paginate(session, query, Workflow.id, limit, cursor)
        return page([_out(w) for w in rows], next_cursor)


@router.get("/workflows/{workflow_id}", response_model=WorkflowOut, tags=["workflows"])
def get_workflow(workflow_id: str, backend: Backend) -> dict[str, Any]:
    with backend.db.session() as session:
        return _out(find_workflow(session, workflow_id))


@router.put("/workflows/{workflow_id}", response_model=WorkflowOut, tags=["workflows"])
def replace_workflow(workflow_id: str, body: WorkflowIn, backend: Backend) -> dict[str, Any]:
    with backend.db.session() as session:
        workflow = find_workflow(session, workflow_id, changing=True)
        workflow.steps = check_steps(body.steps, backend, session, workflow_id)
        workflow.name, workflow.description = body.name, body.description
        workflow.version += 1
        session.flush()
        return _out(workflow)


@router.patch("/workflows/{workflow_id}", response_model=WorkflowOut, tags=["workflows"])
def patch_workflow(workflow_id: str, body: WorkflowPatch, backend: Backend) -> dict[str, Any]:
    with backend.db.session() as session:
        workflow = find_workflow(session, workflow_id, changing=True)
        if body.steps is not None:
            workflow.steps = check_steps(body.steps, backend, session, workflow_id)
        if body.name is not None:
            workflow.name = body.name
        if body.description is not None:
            workflow.description = body.description
        workflow.version += 1
        session.flush()
        return _out(workflow)


@router.delete("/workflows/{workflow_id}", status_code=204, tags=["workflows"])
def delete_workflow(workflow_id: str, backend: Backend) -> Response:
    with backend.db.session() as session:
        workflow = find_workflow(session, workflow_id, changing=True)
        # Deleted under a workflow that calls it, every run of that one would fail at its step, queued ones too.
        callers = sorted(other.id for other in session.scalars(select(Workflow).where(Workflow.id != workflow_id))
                         if any(step.get("workflow") == workflow_id for step in other.steps or []))
        if callers:
            raise ApiError(409, f"workflow {workflow_id!r} is called by {', '.join(callers[:10])}: change or delete "
                                "those first", details={"called_by": callers}, code="workflow_in_use")
        session.delete(workflow)
    return Response(status_code=204)


@router.post("/workflows/{workflow_id}/run", status_code=202, response_model=RunStarted, tags=["runs"])
def run_workflow(workflow_id: str, backend: Backend, key: RequestKey,
                 body: Annotated[RunIn | None, Body()] = None) -> RunStarted:
    with backend.db.session() as session:
        workflow = find_workflow(session, workflow_id, changing=True)
    return backend.start_run(list(workflow.steps), (body or RunIn()).inputs, workflow, key)


@router.get("/workflows/{workflow_id}/status", response_model=WorkflowStatus, tags=["runs"])
def workflow_status(workflow_id: str, backend: Backend) -> WorkflowStatus:
    with backend.db.session() as session:
        find_workflow(session, workflow_id)
        latest = session.scalars(select(Run).where(Run.workflow_id == workflow_id).order_by(Run.id.desc())
                                 .limit(1)).first()
        return WorkflowStatus(status=latest.status if latest else "idle", run_id=latest.id if latest else None)
