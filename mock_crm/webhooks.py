"""Signed webhooks the mock CRM sends when customers and tickets are created."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

log = logging.getLogger(__name__)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">`, as INTERFACE.md fixes it."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookSender:
    """Delivers events in order from one background thread, trying each up to three times."""

    def __init__(self, url: str, secret: str, attempts: int = 3) -> None:
        self._url = url
        self._secret = secret
        self._attempts = attempts
        self._events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._deliver_all, name="mock-crm-webhooks", daemon=True)
        self._thread.start()

    def send(self, event_type: str, data: dict[str, Any]) -> None:
        self._events.put({
            "id": f"evt_{uuid.uuid4().hex[:16]}",
            "type": event_type,
            "created_at": datetime.now(UTC).isoformat(),
            "data": data,
        })

    @property
    def idle(self) -> bool:
        """True when every event sent so far has been delivered (or given up on)."""
        return self._events.unfinished_tasks == 0

    def close(self) -> None:
        self._events.put(None)
        self._thread.join(timeout=5)

    def _deliver_all(self) -> None:
        with httpx.Client(timeout=5) as client:
            while (event := self._events.get()) is not None:
                self._deliver(client, event)
                self._events.task_done()

    def _deliver(self, client: httpx.Client, event: dict[str, Any]) -> None:
        body = json.dumps(event).encode()
        for attempt in range(1, self._attempts + 1):
            timestamp = str(int(time.time()))
            headers = {"Content-Type": "application/json", "X-CRM-Timestamp": timestamp,
                       "X-CRM-Signature": sign(self._secret, timestamp, body)}
            try:
                response = client.post(self._url, content=body, headers=headers)
                if response.status_code < 500:
                    return
            except httpx.HTTPError as exc:
                log.warning("webhook %s attempt %d failed: %s", event["id"], attempt, exc)
            time.sleep(attempt)
