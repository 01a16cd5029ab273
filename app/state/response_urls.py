"""Each slash command's response_url, kept in Redis beside its job, never in it: it can post to the channel."""

from __future__ import annotations

import redis
from redis.client import Pipeline

# A response_url works for 30 minutes; keeping it longer is pointless.
RESPONSE_URL_TTL_S = 1800


class ResponseUrls:
    def __init__(self, connection: redis.Redis) -> None:
        self._redis = connection

    def keep(self, request_id: str, url: str, pipeline: Pipeline | None = None) -> None:
        """Kept now, or with `pipeline` (the job's own enqueue, one round trip for both)."""
        (pipeline if pipeline is not None else self._redis).set(f"acme:response-url:{request_id}", url,
                                                               ex=RESPONSE_URL_TTL_S)

    def get(self, request_id: str) -> str | None:
        value = self._redis.get(f"acme:response-url:{request_id}")
        return value.decode() if isinstance(value, bytes) else value
