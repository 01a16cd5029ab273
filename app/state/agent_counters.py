"""The agent's counters (model calls, tokens, fallbacks, approvals), shared by every process through Redis,
so that whichever server Prometheus scrapes reports them all."""

from __future__ import annotations

import logging

import redis

log = logging.getLogger(__name__)
KEY = "acme:agent:counters"


class AgentCounters:
    def __init__(self, connection: redis.Redis) -> None:
        self._redis = connection

    def add(self, **amounts: int) -> None:
        if not any(amounts.values()):
            return
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for name, amount in amounts.items():
                    if amount:
                        pipe.hincrby(KEY, name, amount)
                pipe.execute()
        except redis.RedisError as exc:
            # Counters are for watching; losing a few is not worth failing a turn.
            log.warning("could not count %s: %s", ", ".join(amounts), exc)

    def read(self) -> dict[str, int]:
        """Raises redis.RedisError when Redis does not answer."""
        return {(k.decode() if isinstance(k, bytes) else str(k)): int(v) for k, v in self._redis.hgetall(KEY).items()}
