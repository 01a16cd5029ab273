"""Agents: instructions, the tools they may use, and their channels."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from app.api import crud
from app.api.backend import ApiBackend, Backend, RequestKey
from app.api.errors import ApiError
from app.api.pagination import Cursor, Limit
from app.api.schemas import AgentIn, AgentOut, AgentPatch, AgentRunIn, RunStarted
from app.api.tools import require_known_tools
from app.store.models import Agent

router = APIRouter()


def _out(agent: Agent) -> dict[str, Any]:
    return AgentOut.model_validate(agent, from_attributes=True).model_dump(mode="json")


@router.post("/agents", status_code=201, response_model=AgentOut, tags=["agents"])
def create_agent(body: AgentIn, backend: Backend) -> dict[str, Any]:
    require_known_tools(backend, body.tools)
    return crud.create(backend.db, Agent(**body.model_dump()), _out)


@router.get("/agents", tags=["agents"])
def list_agents(backend: Backend, limit: Limit = 20, cursor: Cursor = None) -> dict[str, Any]:
    return crud.list_page(backend.db, Agent, _out, limit, cursor)


@router.get("/agents/{agent_id}", response_model=AgentOut, tags=["agents"])
def get_agent(agent_id: str, backend: Backend) -> dict[str, Any]:
    return crud.read(backend.db, Agent, agent_id, "agent", _out)


def _update(agent_id: str, changes: dict[str, Any], backend: ApiBackend) -> dict[str, Any]:
    return crud.update(backend.db, Agent, agent_id, "agent", changes, _out,
                       check=lambda session, agent: require_known_tools(backend, changes.get("tools", [])))


@router.put("/agents/{agent_id}", response_model=AgentOut, tags=["agents"])
def replace_agent(agent_id: str, body: AgentIn, backend: Backend) -> dict[str, Any]:
    return _update(agent_id, body.model_dump(), backend)


@router.patch("/agents/{agent_id}", response_model=AgentOut, tags=["agents"])
def patch_agent(agent_id: str, body: AgentPatch, backend: Backend) -> dict[str, Any]:
    return _update(agent_id, body.model_dump(exclude_none=True), backend)


@router.post("/agents/{agent_id}/run", status_code=202, response_model=RunStarted, tags=["agents"])
def run_agent(agent_id: str, body: AgentRunIn, backend: Backend, key: RequestKey) -> RunStarted:
    """A turn of this agent (its instructions, only its tools): a run in /v1/runs with a step per tool call.

    Nobody is there to approve, so calls that act outside the conversation (its channel) are not made."""
    with backend.db.session() as session:
        agent = crud.get_or_404(session, Agent, agent_id, "agent")
        if body.channel and agent.channels and body.channel not in agent.channels:
            raise ApiError(422, f"agent {agent.name!r} does not work in {body.channel}", {"channels": agent.channels})
    return backend.start_agent(agent_id, body.input, body.channel, key)


@router.delete("/agents/{agent_id}", status_code=204, tags=["agents"])
def delete_agent(agent_id: str, backend: Backend) -> Response:
    return crud.delete(backend.db, Agent, agent_id, "agent")
