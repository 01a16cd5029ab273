"""Definitions and run history, as SQLAlchemy 2 models. Redis keeps the queue and live state."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from app.store.json_values import recordable


def new_id(prefix: str) -> str:
    """Sorts in creation order (time first), so an id is also a pagination cursor."""
    return f"{prefix}_{time.time_ns():016x}{secrets.token_hex(4)}"


def utcnow() -> datetime:
    return datetime.now(UTC)


class RecordedJSON(TypeDecorator[Any]):
    """JSON as every reader can read it back: whatever a webhook, Slack or a tool gave, one bad string or
    NaN in it does not make the INSERT fail, nor every later page that lists the row (json_values.py)."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return recordable(value)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: RecordedJSON, list[Any]: RecordedJSON,
                           datetime: DateTime(timezone=True)}


class Workflow(Base):
    __tablename__ = "workflows"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("wf"))
    name: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    steps: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Run(Base):
    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("run"))
    workflow_id: Mapped[str | None] = mapped_column(ForeignKey("workflows.id", ondelete="SET NULL"), index=True)
    workflow_version: Mapped[int | None] = mapped_column(Integer)
    # The steps as they were when the run was made: a later edit of the workflow does not change a run.
    steps: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    inputs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    output: Mapped[Any | None] = mapped_column(RecordedJSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    # When a cancel was asked of a running run: unanswered for a lease, the run is cancelled without its worker.
    cancel_requested_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # The RQ job that runs it now (a waiting run: the job that will go on with it); None: not known.
    job_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # A digest of who asked, their Idempotency-Key and the request (app/api/gateway.py): the request again
    # finds this run, even once the key's answer is no longer in Redis.
    request_key: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # An agent turn's tokens (prompt, completion, total), and what people said of its answer.
    usage: Mapped[dict[str, Any] | None] = mapped_column(RecordedJSON, nullable=True)
    feedback: Mapped[dict[str, Any] | None] = mapped_column(RecordedJSON, nullable=True)


class StepRun(Base):
    __tablename__ = "step_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[str] = mapped_column(String(100))
    tool: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="queued")
    args: Mapped[dict[str, Any]] = mapped_column(default=dict)
    output: Mapped[Any | None] = mapped_column(RecordedJSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # For an agent's tool call: the tokens of the model's answer that proposed it.
    usage: Mapped[dict[str, Any] | None] = mapped_column(RecordedJSON, nullable=True)


class RunEvent(Base):
    __tablename__ = "run_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ContextEntry(Base):
    __tablename__ = "context_entries"
    __table_args__ = (Index("ix_context_scope_key", "workflow_id", "run_id", "key", unique=True),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workflow_id: Mapped[str | None] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"), nullable=True)
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), nullable=True)
    key: Mapped[str] = mapped_column(String(200))
    value: Mapped[Any] = mapped_column(RecordedJSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Agent(Base):
    __tablename__ = "agents"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("agt"))
    name: Mapped[str] = mapped_column(String(200), index=True)
    instructions: Mapped[str] = mapped_column(Text, default="")
    tools: Mapped[list[Any]] = mapped_column(default=list)
    channels: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Task(Base):
    __tablename__ = "tasks"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("task"))
    name: Mapped[str] = mapped_column(String(200), index=True)
    tool: Mapped[str] = mapped_column(String(200))
    args: Mapped[dict[str, Any]] = mapped_column(default=dict)
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class HttpToolRegistration(Base):
    __tablename__ = "http_tools"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    method: Mapped[str] = mapped_column(String(10))
    url_template: Mapped[str] = mapped_column(Text)
    # Header name -> the name of a setting (environment variable) holding its value, never the value.
    secret_headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
