"""Tasks: one tool call with its arguments, optionally on behalf of an agent that may use that tool."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from sqlalchemy.orm import Session

from app.api import crud
from app.api.backend import ApiBackend, Backend, RequestKey
from app.api.errors import ApiError
from app.api.pagination import Cursor, Limit
from app.api.schemas import RunIn, RunStarted, TaskIn, TaskOut, TaskPatch
from app.api.tools import require_known_tools
from app.store.models import Agent, Task

router = APIRouter()


def _out(task: Task) -> dict[str, Any]:
    return TaskOut.model_validate(task, from_attributes=True).model_dump(mode="json")


def _check(backend: ApiBackend, session: Session, tool: str, agent_id: str | None) -> None:
    require_known_tools(backend, [tool])
    if agent_id is not None:
        agent = session.get(Agent, agent_id)
        if agent is None:
            raise ApiError(422, f"there is no agent {agent_id!r}")
        if tool not in agent.tools:
            raise ApiError(422, f"agent {agent.name!r} may not use the tool {tool!r}", {"allowed": agent.tools})


@router.post("/tasks", status_code=201, response_model=TaskOut, tags=["tasks"])
def create_task(body: TaskIn, backend: Backend) -> dict[str, Any]:
    with backend.db.session() as session:
        _check(backend, session, body.tool, body.agent_id)
    return crud.create(backend.db, Task(**body.model_dump()), _out)


@router.get("/tasks", tags=["tasks"])
def list_tasks(backend: Backend, limit: Limit = 20, cursor: Cursor = None) -> dict[str, Any]:
    return crud.list_page(backend.db, Task, _out, limit, cursor)


@router.get("/tasks/{task_id}", response_model=TaskOut, tags=["tasks"])
def get_task(task_id: str, backend: Backend) -> dict[str, Any]:
    return crud.read(backend.db, Task, task_id, "task", _out)


def _update(task_id: str, changes: dict[str, Any], backend: ApiBackend) -> dict[str, Any]:
    def check(session: Session, task: Task) -> None:
        _check(backend, session, changes.get("tool", task.tool), changes.get("agent_id", task.agent_id))

    return crud.update(backend.db, Task, task_id, "task", changes, _out, check)


@router.put("/tasks/{task_id}", response_model=TaskOut, tags=["tasks"])
def replace_task(task_id: str, body: TaskIn, backend: Backend) -> dict[str, Any]:
    return _update(task_id, body.model_dump(), backend)


@router.patch("/tasks/{task_id}", response_model=TaskOut, tags=["tasks"])
def patch_task(task_id: str, body: TaskPatch, backend: Backend) -> dict[str, Any]:
    return _update(task_id, body.model_dump(exclude_none=True), backend)


@router.delete("/tasks/{task_id}", status_code=204, tags=["tasks"])
def delete_task(task_id: str, backend: Backend) -> Response:
    return crud.delete(backend.db, Task, task_id, "task")


@router.post("/tasks/{task_id}/run", status_code=202, response_model=RunStarted, tags=["tasks"])
def run_task(task_id: str, backend: Backend, key: RequestKey,
             body: Annotated[RunIn | None, Body()] = None) -> RunStarted:
    with backend.db.session() as session:
        task = crud.get_or_404(session, Task, task_id, "task")
        _check(backend, session, task.tool, task.agent_id)
    return backend.start_run([{"id": "task", "tool": task.tool, "args": task.args}], (body or RunIn()).inputs,
                             request_key=key)
