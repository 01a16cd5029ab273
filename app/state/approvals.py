"""Tool calls waiting for the asker's approval: kept in Redis (a worker restart loses none), decided once."""

from __future__ import annotations

import json
import uuid
from typing import Any

import redis

KEEP_S = 7 * 24 * 3600


class ApprovalStore:
    def __init__(self, connection: redis.Redis) -> None:
        self._redis = connection

    def save(self, record: dict[str, Any]) -> str:
        """Keep `record` (it says who may decide, where, until when, and what to resume); answers its id."""
        approval_id = uuid.uuid4().hex
        self._redis.set(f"acme:approval:{approval_id}", json.dumps({**record, "id": approval_id}), ex=KEEP_S)
        return approval_id

    def get(self, approval_id: str) -> dict[str, Any] | None:
        if not approval_id.isalnum():
            return None
        raw = self._redis.get(f"acme:approval:{approval_id}")
        return json.loads(raw) if raw else None

    def update(self, approval_id: str, **changes: Any) -> None:
        record = self.get(approval_id)
        if record is not None:
            self._redis.set(f"acme:approval:{approval_id}", json.dumps({**record, **changes}), ex=KEEP_S)

    def decide(self, approval_id: str, decision: str) -> bool:
        """True for the first decision only (approved, cancelled or expired); every later one gets False."""
        return bool(self._redis.set(f"acme:approval:{approval_id}:decision", decision, nx=True, ex=KEEP_S))

    def decision(self, approval_id: str) -> str | None:
        value = self._redis.get(f"acme:approval:{approval_id}:decision")
        return value.decode() if isinstance(value, bytes) else value
