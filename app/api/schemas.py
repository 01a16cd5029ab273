"""What the REST API takes and answers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from app.store.json_values import what_cannot_be_stored


def _as_utc(value: datetime) -> datetime:
    # SQLite keeps no zone; every time we store is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]

Name = Annotated[str, Field(min_length=1, max_length=200)]
StepId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,100}$")]
ChannelIds = Annotated[list[Annotated[str, Field(pattern=r"^[CDG][A-Z0-9]{2,}$")]], Field(max_length=100)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        # Refused here with the reason, not a 500 at the INSERT (PostgreSQL stores no NUL, NaN or Infinity)
        # or at every later page that lists it (a lone surrogate cannot be encoded).
        problem = what_cannot_be_stored(data)
        if problem:
            raise ValueError(problem)
        return data


class Step(_In):
    id: StepId
    tool: Name | None = None
    workflow: Annotated[str, Field(max_length=40)] | None = None
    args: dict[str, Any] = Field(default_factory=dict)


class WorkflowIn(_In):
    name: Name
    description: Annotated[str, Field(max_length=5000)] = ""
    steps: Annotated[list[Step], Field(max_length=50)] = Field(default_factory=list)


class WorkflowPatch(_In):
    name: Name | None = None
    description: Annotated[str, Field(max_length=5000)] | None = None
    steps: Annotated[list[Step], Field(max_length=50)] | None = None


class WorkflowOut(BaseModel):
    id: str
    name: str
    description: str
    version: int
    steps: list[dict[str, Any]]
    created_at: UtcDatetime
    updated_at: UtcDatetime


class RunIn(_In):
    inputs: dict[str, Any] = Field(default_factory=dict)


class RunStarted(BaseModel):
    run_id: str
    status: str


class WorkflowStatus(BaseModel):
    status: str
    run_id: str | None


class StepRunOut(BaseModel):
    step_id: str
    tool: str
    status: str
    args: dict[str, Any]
    output: Any
    error: str | None
    started_at: UtcDatetime | None
    finished_at: UtcDatetime | None
    usage: dict[str, int] | None = None


class RunEventOut(BaseModel):
    type: str
    status: str
    step_id: str | None
    at: UtcDatetime
    detail: dict[str, Any]


class RunOut(BaseModel):
    id: str
    workflow_id: str | None
    workflow_version: int | None
    status: str
    inputs: dict[str, Any]
    output: Any
    error: str | None
    created_at: UtcDatetime
    started_at: UtcDatetime | None
    finished_at: UtcDatetime | None
    usage: dict[str, int] | None = None
    feedback: dict[str, Any] | None = None
    steps: list[StepRunOut] = Field(default_factory=list)
    events: list[RunEventOut] = Field(default_factory=list)


class ContextIn(_In):
    key: Annotated[str, Field(min_length=1, max_length=200)]
    value: Any


class ContextOut(BaseModel):
    key: str
    value: Any
    updated_at: UtcDatetime


class AgentIn(_In):
    name: Name
    instructions: Annotated[str, Field(max_length=20000)] = ""
    tools: Annotated[list[Name], Field(max_length=100)] = Field(default_factory=list)
    channels: ChannelIds = Field(default_factory=list)


class AgentPatch(_In):
    name: Name | None = None
    instructions: Annotated[str, Field(max_length=20000)] | None = None
    tools: Annotated[list[Name], Field(max_length=100)] | None = None
    channels: ChannelIds | None = None


class AgentRunIn(_In):
    input: Annotated[str, Field(min_length=1, max_length=8000)]
    channel: Annotated[str, Field(pattern=r"^[CDG][A-Z0-9]{2,}$")] | None = None


class AgentOut(BaseModel):
    id: str
    name: str
    instructions: str
    tools: list[str]
    channels: list[str]
    created_at: UtcDatetime
    updated_at: UtcDatetime


class TaskIn(_In):
    name: Name
    tool: Name
    args: dict[str, Any] = Field(default_factory=dict)
    agent_id: Annotated[str, Field(max_length=40)] | None = None


class TaskPatch(_In):
    name: Name | None = None
    tool: Name | None = None
    args: dict[str, Any] | None = None
    agent_id: Annotated[str, Field(max_length=40)] | None = None


class TaskOut(BaseModel):
    id: str
    name: str
    tool: str
    args: dict[str, Any]
    agent_id: str | None
    created_at: UtcDatetime
    updated_at: UtcDatetime


class HttpToolIn(_In):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.-]{1,99}$")]
    description: Annotated[str, Field(max_length=2000)] = ""
    method: Annotated[str, Field(pattern=r"^(GET|POST|PUT|PATCH|DELETE)$")] = "GET"
    url_template: Annotated[str, Field(min_length=8, max_length=2000)]
    # Values name settings, never hold secrets; only TOOL_* settings, so no tool can send the app's own.
    secret_headers: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,100}$")],
                         Annotated[str, Field(pattern=r"^TOOL_[A-Z0-9_]{1,95}$")]] = Field(default_factory=dict)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})



class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorOut(BaseModel):
    """Every error the API answers (app/api/errors.py)."""

    error: ErrorDetail


# What any route may answer besides its own success, listed in the OpenAPI schema for clients to expect.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description} for status, description in (
        (400, "The body is not JSON, or the path or query is malformed"),
        (401, "A valid API key is required"),
        (404, "No such object"),
        (409, "The request conflicts with the object's state"),
        (413, "The body is larger than ACME_API_MAX_BODY_BYTES"),
        (422, "The request does not match the schema, or an Idempotency-Key was used with another body"),
        (429, "Too many requests for this key; see Retry-After"),
        (503, "Redis or the database is unavailable; see Retry-After"),
    )}
