"""What the bot remembers of each notification it posted: so a button click can be trusted and acted on."""

from __future__ import annotations

import json
from typing import Any

import redis

NOTIFICATION_MEMORY_S = 7 * 24 * 3600


class NotificationStore:
    def __init__(self, connection: redis.Redis) -> None:
        self._redis = connection

    def save(self, channel: str, ts: str, record: dict[str, Any]) -> None:
        self._redis.set(f"acme:notification:{channel}:{ts}", json.dumps(record), ex=NOTIFICATION_MEMORY_S)

    def get(self, channel: str, ts: str) -> dict[str, Any] | None:
        """The record of a notification we posted at (channel, ts); None for anything else."""
        raw = self._redis.get(f"acme:notification:{channel}:{ts}")
        return json.loads(raw) if raw else None
