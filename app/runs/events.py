"""Run events: written with the run's history, then published on Redis for every WebSocket.

Publishing is live news, not the record (the database is): a thread of the publisher's own sends the
events, in the order they were committed, several in one message (a JSON array), so the work that made
them never waits for Redis to take them, and Redis and every listener handle one message, not dozens."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

import redis

from app.runs.behind import Behind

log = logging.getLogger(__name__)
CHANNEL = "acme:run-events"


def event_json(type_: str, run_id: str, workflow_id: str | None, step_id: str | None, status: str,
               at: datetime, **detail: Any) -> dict[str, Any]:
    return {"type": type_, "run_id": run_id, "workflow_id": workflow_id, "step_id": step_id, "status": status,
            "at": at.isoformat().replace("+00:00", "Z"), **detail}  # as the REST API writes times


class EventPublisher:
    def __init__(self, connection: redis.Redis) -> None:
        self._redis = connection
        self._behind = Behind[list[dict[str, Any]]]("run-events", self._send_batches)

    def publish(self, events: list[dict[str, Any]]) -> None:
        """After the commit, so a client that hears of an event can already read it."""
        self._behind.put(events)

    def close(self, timeout_s: float = 5.0) -> None:
        """Publish what is still waiting, then stop the sender."""
        self._behind.close(timeout_s)

    def _send_batches(self, batches: list[list[dict[str, Any]]]) -> None:
        self._send([event for events in batches for event in events])

    def _send(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        try:
            self._redis.publish(CHANNEL, json.dumps(events, default=str))
        except redis.RedisError as exc:
            # The history in the database is the record; a missed live update is not worth failing the run.
            log.warning("could not publish %d run event(s): %s", len(events), exc)
