"""Agents, tasks and tools."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.errors import ApiError
from app.api.schemas import (
    AgentIn,
    AgentOut,
    AgentPatch,
    HttpToolIn,
    RunIn,
    RunStarted,
    TaskIn,
    TaskOut,
    TaskPatch,
    page,
)
from app.api.workflows import Cursor, Limit, Svc, paginate, start_run
from app.integrations.http_tool_client import HostNotAllowed, check_host
from app.services import Services
from app.store.models import Agent, Task
from app.store.models import HttpTool as HttpToolRow
from app.tools.builtin import builtin_tools
from app.tools.registry import ToolArgumentsInvalid

router = APIRouter()


def _known_tools(svc: Services, names: list[str]) -> None:
    unknown = [n for n in names if svc.tools.get(n) is None]
    if unknown:
        raise ApiError(422, f"there is no tool {unknown[0]!r}", {"unknown": unknown}, code="unknown_tool")


def _get(session: Session, model: type[Any], item_id: str, what: str) -> Any:
    item = session.get(model, item_id)
    if item is None:
        raise ApiError(404, f"there is no {what} {item_id!r}")
    return item


# The same five operations serve agents and tasks; only their checks and shapes differ.

Out = Callable[[Any], dict[str, Any]]
Check = Callable[[Session, Any], None]


def _create(svc: Services, row: Any, out: Out) -> dict[str, Any]:
    with svc.db.session() as session:
        session.add(row)
        session.flush()
        return out(row)


def _list(svc: Services, model: Any, out: Out, limit: int, cursor: str | None) -> dict[str, Any]:
    with svc.db.session() as session:
        rows, next_cursor = paginate(session, select(model), model.id, limit, cursor)
        return page([out(r) for r in rows], next_cursor)


def _read(svc: Services, model: Any, item_id: str, what: str, out: Out) -> dict[str, Any]:
    with svc.db.session() as session:
        return out(_get(session, model, item_id, what))


def _update(svc: Services, model: Any, item_id: str, what: str, changes: dict[str, Any], out: Out,
            check: Check) -> dict[str, Any]:
    """`check(session, item)` sees the item before `changes` are applied, and refuses what may not be."""
    with svc.db.session() as session:
        item = _get(session, model, item_id, what)
        check(session, item)
        for field, value in changes.items():
            setattr(item, field, value)
        session.flush()
        return out(item)


def _delete(svc: Services, model: Any, item_id: str, what: str) -> Response:
    with svc.db.session() as session:
        session.delete(_get(session, model, item_id, what))
    return Response(status_code=204)


def _agent_out(agent: Agent) -> dict[str, Any]:
    return AgentOut.model_validate(agent, from_attributes=True).model_dump(mode="json")


def _task_out(task: Task) -> dict[str, Any]:
    return TaskOut.model_validate(task, from_attributes=True).model_dump(mode="json")


@router.post("/agents", status_code=201, response_model=AgentOut, tags=["agents"])
def create_agent(body: AgentIn, svc: Svc) -> dict[str, Any]:
    _known_tools(svc, body.tools)
    return _create(svc, Agent(**body.model_dump()), _agent_out)


@router.get("/agents", tags=["agents"])
def list_agents(svc: Svc, limit: Limit = 20, cursor: Cursor = None) -> dict[str, Any]:
    return _list(svc, Agent, _agent_out, limit, cursor)


@router.get("/agents/{agent_id}", response_model=AgentOut, tags=["agents"])
def get_agent(agent_id: str, svc: Svc) -> dict[str, Any]:
    return _read(svc, Agent, agent_id, "agent", _agent_out)


def _update_agent(agent_id: str, changes: dict[str, Any], svc: Services) -> dict[str, Any]:
    return _update(svc, Agent, agent_id, "agent", changes, _agent_out,
                   check=lambda session, agent: _known_tools(svc, changes.get("tools", [])))


@router.put("/agents/{agent_id}", response_model=AgentOut, tags=["agents"])
def replace_agent(agent_id: str, body: AgentIn, svc: Svc) -> dict[str, Any]:
    return _update_agent(agent_id, body.model_dump(), svc)


@router.patch("/agents/{agent_id}", response_model=AgentOut, tags=["agents"])
def patch_agent(agent_id: str, body: AgentPatch, svc: Svc) -> dict[str, Any]:
    return _update_agent(agent_id, body.model_dump(exclude_none=True), svc)


@router.delete("/agents/{agent_id}", status_code=204, tags=["agents"])
def delete_agent(agent_id: str, svc: Svc) -> Response:
    return _delete(svc, Agent, agent_id, "agent")


def _check_task(svc: Services, session: Session, tool: str, agent_id: str | None) -> None:
    _known_tools(svc, [tool])
    if agent_id is not None:
        agent = session.get(Agent, agent_id)
        if agent is None:
            raise ApiError(422, f"there is no agent {agent_id!r}")
        if tool not in agent.tools:
            raise ApiError(422, f"agent {agent.name!r} may not use the tool {tool!r}", {"allowed": agent.tools})


@router.post("/tasks", status_code=201, response_model=TaskOut, tags=["tasks"])
def create_task(body: TaskIn, svc: Svc) -> dict[str, Any]:
    with svc.db.session() as session:
        _check_task(svc, session, body.tool, body.agent_id)
    return _create(svc, Task(**body.model_dump()), _task_out)


@router.get("/tasks", tags=["tasks"])
def list_tasks(svc: Svc, limit: Limit = 20, cursor: Cursor = None) -> dict[str, Any]:
    return _list(svc, Task, _task_out, limit, cursor)


@router.get("/tasks/{task_id}", response_model=TaskOut, tags=["tasks"])
def get_task(task_id: str, svc: Svc) -> dict[str, Any]:
    return _read(svc, Task, task_id, "task", _task_out)


def _update_task(task_id: str, changes: dict[str, Any], svc: Services) -> dict[str, Any]:
    def check(session: Session, task: Task) -> None:
        _check_task(svc, session, changes.get("tool", task.tool), changes.get("agent_id", task.agent_id))

    return _update(svc, Task, task_id, "task", changes, _task_out, check)


@router.put("/tasks/{task_id}", response_model=TaskOut, tags=["tasks"])
def replace_task(task_id: str, body: TaskIn, svc: Svc) -> dict[str, Any]:
    return _update_task(task_id, body.model_dump(), svc)


@router.patch("/tasks/{task_id}", response_model=TaskOut, tags=["tasks"])
def patch_task(task_id: str, body: TaskPatch, svc: Svc) -> dict[str, Any]:
    return _update_task(task_id, body.model_dump(exclude_none=True), svc)


@router.delete("/tasks/{task_id}", status_code=204, tags=["tasks"])
def delete_task(task_id: str, svc: Svc) -> Response:
    return _delete(svc, Task, task_id, "task")


@router.post("/tasks/{task_id}/run", status_code=202, response_model=RunStarted, tags=["tasks"])
def run_task(task_id: str, svc: Svc, body: Annotated[RunIn | None, Body()] = None) -> RunStarted:
    with svc.db.session() as session:
        task = _get(session, Task, task_id, "task")
        _check_task(svc, session, task.tool, task.agent_id)
    return start_run(svc, [{"id": "task", "tool": task.tool, "args": task.args}], (body or RunIn()).inputs)


@router.get("/tools", tags=["tools"])
def list_tools(svc: Svc) -> dict[str, Any]:
    return page([t.describe() for t in svc.tools.all()], None)


@router.get("/tools/{name}", tags=["tools"])
def get_tool(name: str, svc: Svc) -> dict[str, Any]:
    tool = svc.tools.get(name)
    if tool is None:
        raise ApiError(404, f"there is no tool {name!r}")
    return tool.describe()  # type: ignore[no-any-return]


@router.post("/tools/{name}/invoke", status_code=202, response_model=RunStarted, tags=["tools"])
def invoke_tool(name: str, svc: Svc, args: Annotated[dict[str, Any], Body()]) -> RunStarted:
    tool = svc.tools.get(name)
    if tool is None:
        raise ApiError(404, f"there is no tool {name!r}")
    try:
        valid = tool.validate(args)
    except ToolArgumentsInvalid as exc:
        raise ApiError(422, str(exc), exc.errors) from None
    # The arguments are data here, not templates: a literal step runs them as given.
    return start_run(svc, [{"id": "invoke", "tool": name, "args": valid, "literal": True}], {})


@router.post("/tools", status_code=201, tags=["tools"])
def register_http_tool(body: HttpToolIn, svc: Svc) -> dict[str, Any]:
    if builtin_tools.get(body.name) is not None:
        raise ApiError(409, f"{body.name!r} is a built-in tool")
    try:
        check_host(body.url_template, svc.settings.http_tool_host_set)
    except HostNotAllowed as exc:
        raise ApiError(403, str(exc), code="host_not_allowed") from None
    if body.parameters.get("type") != "object":
        raise ApiError(422, "parameters must be a JSON Schema of type object")
    with svc.db.session() as session:
        if session.get(HttpToolRow, body.name) is not None:
            raise ApiError(409, f"a tool named {body.name!r} exists")
        session.add(HttpToolRow(**body.model_dump()))
    tool = svc.tools.get(body.name)
    assert tool is not None
    return tool.describe()  # type: ignore[no-any-return]


@router.delete("/tools/{name}", status_code=204, tags=["tools"])
def delete_http_tool(name: str, svc: Svc) -> Response:
    return _delete(svc, HttpToolRow, name, "registered HTTP tool")
