"""What the API's routes work with: the database, runs, tools and the origins HTTP tools may call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from app.api.errors import ApiError
from app.api.schemas import RunStarted
from app.http_tool_origins import HttpToolAllowList
from app.queueing.job_queue import QueueUnavailable
from app.runs.control import RunControl
from app.store.db import Database
from app.store.models import Run, Workflow
from app.tools.tool_catalog import ToolCatalog


@dataclass(frozen=True)
class ApiBackend:
    db: Database
    runs: RunControl
    tools: ToolCatalog
    # Where registered HTTP tools may go, and where each TOOL_* secret may (ACME_HTTP_TOOL_HOSTS and
    # ACME_HTTP_TOOL_SECRET_ORIGINS).
    http_tool_hosts: HttpToolAllowList

    def start_run(self, steps: list[dict[str, Any]], inputs: dict[str, Any],
                  workflow: Workflow | None = None, request_key: str | None = None) -> RunStarted:
        return self._started(lambda: self.runs.start(steps, inputs, workflow, request_key))

    def start_agent(self, agent_id: str, text: str, channel: str | None,
                    request_key: str | None = None) -> RunStarted:
        return self._started(lambda: self.runs.start_agent(agent_id, text, channel, request_key))

    @staticmethod
    def _started(start: Callable[[], Run]) -> RunStarted:
        try:
            run = start()
        except QueueUnavailable as exc:
            raise ApiError(503, "the job queue is unavailable; the run was recorded as failed",
                           headers={"Retry-After": "5"}) from exc
        return RunStarted(run_id=run.id, status=run.status)


def _backend(request: Request) -> ApiBackend:
    return request.app.state.backend  # type: ignore[no-any-return]


Backend = Annotated[ApiBackend, Depends(_backend)]


def _request_key(request: Request) -> str | None:
    return getattr(request.state, REQUEST_KEY, None)


# What the Idempotency-Key middleware (gateway.py) tells a route that starts a run: see RunControl.start.
REQUEST_KEY = "request_key"
RequestKey = Annotated[str | None, Depends(_request_key)]
