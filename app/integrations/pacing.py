"""Per-channel pacing of Slack messages, shared by every process through Redis.

Slack allows about one message per second per channel, with short bursts. Each
message reserves the next free slot (GCRA) in one atomic script on Redis' own
clock, then waits for it: a burst is spread out, and nothing is dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis

# GCRA on Redis' clock. KEYS[1]: the key's theoretical arrival time (µs). ARGV: interval µs, burst,
# and "wait" (take the next slot, however far) or "refuse" (take a slot only if one is free now).
# Answers the µs to wait: 0 means go now.
_GCRA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local tolerance = (tonumber(ARGV[2]) - 1) * interval
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - now - tolerance
if wait < 0 then wait = 0 end
if wait > 0 and ARGV[3] == 'refuse' then return wait end
redis.call('SET', KEYS[1], tat + interval, 'PX', math.ceil((tat + interval - now) / 1000) + 1000)
return wait
"""


class RateGate:
    """One GCRA limiter per key, shared by every process through Redis."""

    def __init__(self, connection: redis.Redis, interval_s: float, burst: int) -> None:
        self._script = connection.register_script(_GCRA)
        self._args = [int(interval_s * 1e6), burst]

    def reserve(self, key: str) -> float:
        """Take the key's next slot; answers the seconds until it comes."""
        return int(self._script(keys=[key], args=[*self._args, "wait"])) / 1e6

    def try_take(self, key: str) -> float:
        """Take a slot if one is free now (answers 0); otherwise take nothing and answer the seconds to wait."""
        return int(self._script(keys=[key], args=[*self._args, "refuse"])) / 1e6


class ChannelPacer:
    def __init__(self, connection: redis.Redis, interval_s: float = 1.0, burst: int = 3,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if interval_s < 0 or burst < 1:
            raise ValueError("interval_s must be >= 0 and burst >= 1")
        self.interval_s = interval_s
        self._gate = RateGate(connection, interval_s, burst)
        self._sleep = sleep

    def wait_turn(self, channel: str) -> float:
        """Block until `channel` may take one more message; answers the seconds waited."""
        if self.interval_s == 0:
            return 0.0
        wait_s = self._gate.reserve(f"acme:pace:{channel}")
        if wait_s > 0:
            self._sleep(wait_s)
        return wait_s
