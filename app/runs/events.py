"""Run events: written with the run's history, then published on Redis for every WebSocket.

Publishing is live news, not the record (the database is): a thread of the publisher's own sends the
events, in the order they were committed, several in one message (a JSON array), so the work that made
them never waits for Redis to take them, and Redis and every listener handle one message, not dozens."""

from __future__ import annotations

import json
import logging
import queue
import threading
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
        self._waiting: queue.SimpleQueue[list[dict[str, Any]] | None] = queue.SimpleQueue()  # None: stop
        self._sender: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def publish(self, events: list[dict[str, Any]]) -> None:
        """After the commit, so a client that hears of an event can already read it."""
        if self._sender is None:
            with self._start_lock:
                if self._sender is None:
                    self._sender = threading.Thread(target=self._send_all, name="run-events", daemon=True)
                    self._sender.start()
        self._waiting.put(events)

    def close(self, timeout_s: float = 5.0) -> None:
        """Publish what is still waiting, then stop the sender."""
        with self._start_lock:
            sender, self._sender = self._sender, None
        if sender is not None:
            self._waiting.put(None)
            sender.join(timeout_s)

    def _send_all(self) -> None:
        while True:
            batch = [self._waiting.get()]
            while not self._waiting.empty() and len(batch) < 100:
                batch.append(self._waiting.get())
            self._send([event for events in batch if events is not None for event in events])
            if None in batch:
                return

    def _send(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        try:
            self._redis.publish(CHANNEL, json.dumps(events, default=str))
        except redis.RedisError as exc:
            # The history in the database is the record; a missed live update is not worth failing the run.
            log.warning("could not publish %d run event(s): %s", len(events), exc)
