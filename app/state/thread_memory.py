"""A thread's earlier turns with the agent, kept in Redis and bounded: its memory, and the sign that the
agent answers follow-ups there."""

from __future__ import annotations

import json
from typing import Any

import redis

MEMORY_S = 7 * 24 * 3600
MAX_TURN_CHARS = 2000


class ThreadMemory:
    def __init__(self, connection: redis.Redis, max_turns: int) -> None:
        self._redis = connection
        self._max_entries = max(0, max_turns) * 2

    @staticmethod
    def _key(channel: str, thread_ts: str) -> str:
        return f"acme:agent:thread:{channel}:{thread_ts}"

    def remember(self, channel: str, thread_ts: str, asked: str, answered: str, customer: str | None) -> None:
        """Add a turn (the question and the answer) and forget the oldest beyond the bound."""
        key = self._key(channel, thread_ts)
        entries = [{"role": "user", "text": asked[:MAX_TURN_CHARS], "customer": customer},
                   {"role": "assistant", "text": answered[:MAX_TURN_CHARS]}]
        with self._redis.pipeline() as pipe:
            pipe.rpush(key, *(json.dumps(e) for e in entries))
            if self._max_entries:
                pipe.ltrim(key, -self._max_entries, -1)
            pipe.expire(key, MEMORY_S)
            pipe.execute()

    def turns(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        if not self._max_entries:
            return []
        raw = self._redis.lrange(self._key(channel, thread_ts), -self._max_entries, -1)
        return [json.loads(r) for r in raw]

    def agent_answered_in(self, channel: str, thread_ts: str) -> bool:
        return bool(self._redis.exists(f"acme:agent:in-thread:{channel}:{thread_ts}"))

    def mark_answering(self, channel: str, thread_ts: str) -> None:
        """The agent speaks in this thread: follow-ups there go to the agent, even before its first answer."""
        self._redis.set(f"acme:agent:in-thread:{channel}:{thread_ts}", 1, ex=MEMORY_S)
