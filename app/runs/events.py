"""Run events: written with the run's history, then published on Redis for every WebSocket."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

import redis

log = logging.getLogger(__name__)
CHANNEL = "acme:run-events"


def event_json(type_: str, run_id: str, workflow_id: str | None, step_id: str | None, status: str,
               at: datetime, **detail: Any) -> dict[str, Any]:
    return {"type": type_, "run_id": run_id, "workflow_id": workflow_id, "step_id": step_id, "status": status,
            "at": at.isoformat(), **detail}


class EventPublisher:
    def __init__(self, connection: redis.Redis) -> None:
        self._redis = connection

    def publish(self, events: list[dict[str, Any]]) -> None:
        """After the commit, so a client that hears of an event can already read it."""
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for event in events:
                    pipe.publish(CHANNEL, json.dumps(event, default=str))
                pipe.execute()
        except redis.RedisError as exc:
            # The history in the database is the record; a missed live update is not worth failing the run.
            log.warning("could not publish %d run event(s): %s", len(events), exc)
