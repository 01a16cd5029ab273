"""One account report per customer and channel at a time, and everyone waiting for it: kept in Redis."""

from __future__ import annotations

import json
import time
from typing import Any

import redis

# Whoever asked while a report was under way is remembered this long (a report's time limit): past a lease that
# lapsed with its worker, until the job's next run mentions them.
ASKERS_TTL_S = 900


class ReportClaim:
    """A lease on building one report: `running_ttl_s` long, renewed while the work goes on (renew()), so
    that a claim whose worker died lapses within it."""

    def __init__(self, connection: redis.Redis, key: str, running_ttl_s: int, reuse_finished_s: int) -> None:
        self._redis = connection
        self._key = key
        self._askers_key = key + ":askers"
        self._running_ttl_s = running_ttl_s
        self._reuse_finished_s = reuse_finished_s
        self._renewed_at = time.monotonic()

    def renew(self) -> None:
        """Keep the lease while the report is built; a round trip a third of a lease at most."""
        if time.monotonic() - self._renewed_at >= self._running_ttl_s / 3:
            self._renewed_at = time.monotonic()
            self._redis.expire(self._key, self._running_ttl_s)

    def claim(self, holder: str) -> bool:
        """True if this holder now builds the report (or still does); False if someone else is, or just did."""
        value = json.dumps({"state": "running", "job": holder})
        if self._redis.set(self._key, value, nx=True, ex=self._running_ttl_s):
            return True
        # A job that waited for Slack comes back as the same holder, its claim kept meanwhile.
        return bool(self.current() == {"state": "running", "job": holder}
                    and self._redis.set(self._key, value, xx=True, ex=self._running_ttl_s))

    def current(self) -> dict[str, Any]:
        raw = self._redis.get(self._key)
        return json.loads(raw) if raw else {}

    def add_asker(self, user_id: str) -> None:
        with self._redis.pipeline() as pipe:
            pipe.rpush(self._askers_key, user_id)
            pipe.expire(self._askers_key, ASKERS_TTL_S)
            pipe.execute()

    def askers(self) -> list[str]:
        raw = self._redis.lrange(self._askers_key, 0, -1)
        return list(dict.fromkeys(u.decode() if isinstance(u, bytes) else str(u) for u in raw))

    def finish(self, permalink: str) -> None:
        """Done: for a while, whoever asks again gets this link instead of a new report."""
        with self._redis.pipeline() as pipe:
            pipe.set(self._key, json.dumps({"state": "done", "permalink": permalink}), ex=self._reuse_finished_s)
            pipe.expire(self._askers_key, self._reuse_finished_s)
            pipe.execute()

    def release(self) -> None:
        self._redis.delete(self._key, self._askers_key)

    def release_lease(self) -> None:
        """Let the next asker build it; those waiting for this one stay on the list, to be mentioned in it."""
        self._redis.delete(self._key)


class ReportClaims:
    def __init__(self, connection: redis.Redis, running_ttl_s: int, reuse_finished_s: int) -> None:
        self._redis = connection
        self._running_ttl_s = running_ttl_s
        self._reuse_finished_s = reuse_finished_s

    def for_report(self, channel: str, customer_id: str) -> ReportClaim:
        return ReportClaim(self._redis, f"acme:report:{channel}:{customer_id}", self._running_ttl_s,
                           self._reuse_finished_s)
