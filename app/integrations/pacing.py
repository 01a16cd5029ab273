"""Per-channel pacing of Slack messages, shared by every process through Redis.

Slack allows about one message per second per channel, with short bursts. Each
message reserves the next free slot (GCRA) in one atomic script on Redis' own
clock, then waits for it: a burst is spread out, and nothing is dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis

# KEYS[1]: the channel's theoretical arrival time (µs). ARGV: interval µs, burst.
# Answers how long this caller must wait (µs) before its message may go.
_RESERVE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local tolerance = (tonumber(ARGV[2]) - 1) * interval
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - now - tolerance
if wait < 0 then wait = 0 end
redis.call('SET', KEYS[1], tat + interval, 'PX', math.ceil((tat + interval - now) / 1000) + 1000)
return wait
"""


class ChannelPacer:
    def __init__(self, connection: redis.Redis, interval_s: float = 1.0, burst: int = 3,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if interval_s < 0 or burst < 1:
            raise ValueError("interval_s must be >= 0 and burst >= 1")
        self.interval_s = interval_s
        self.burst = burst
        self._reserve = connection.register_script(_RESERVE)
        self._sleep = sleep

    def wait_turn(self, channel: str) -> float:
        """Block until `channel` may take one more message; answers the seconds waited."""
        if self.interval_s == 0:
            return 0.0
        wait_us = int(self._reserve(keys=[f"acme:pace:{channel}"], args=[int(self.interval_s * 1e6), self.burst]))
        if wait_us > 0:
            self._sleep(wait_us / 1e6)
        return wait_us / 1e6
