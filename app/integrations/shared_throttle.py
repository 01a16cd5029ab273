"""A downstream's calls per second, counted across every process that calls it, through Redis.

`CRM_MAX_RPS` is what the CRM allows us, whatever number of workers on whatever machines call it.
Asking Redis before every call would cost a round trip per call; instead each process takes
leases: a tenth of a second's calls at a time, from one GCRA on Redis' clock. A lease not used up
within its window lapses (and is given back), so an idle process cannot save calls up for a burst,
nor hold calls that others could make.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

import redis

log = logging.getLogger(__name__)

# KEYS[1]: when the downstream's calls are next free (µs, Redis' clock). ARGV: µs per call, calls leased,
# µs of burst allowed, calls of the last lease given back unused. Takes the lease; answers the µs to wait
# before its calls may start.
_LEASE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') - tonumber(ARGV[1]) * tonumber(ARGV[4])
if tat < now then tat = now end
local new_tat = tat + tonumber(ARGV[1]) * tonumber(ARGV[2])
local wait = new_tat - now - tonumber(ARGV[3])
if wait < 0 then wait = 0 end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return wait
"""
LEASE_WINDOW_S = 0.1


class SharedThrottle:
    """At most `rate_per_s` calls a second on average, across processes; 0 means no limit."""

    def __init__(self, connection: redis.Redis, name: str, rate_per_s: float,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate_per_s = rate_per_s
        self._key = f"acme:throttle:{name}"
        self._lease_size = max(1, math.floor(rate_per_s * LEASE_WINDOW_S))
        interval_us = int(1e6 / rate_per_s) if rate_per_s > 0 else 0
        # Up to a second's calls go out at once after a quiet second (askers arrive together); after that,
        # leases are spaced so that the average holds.
        burst = max(self._lease_size, math.floor(rate_per_s))
        self._args = [interval_us, self._lease_size, interval_us * burst]
        self._script = connection.register_script(_LEASE)
        self._clock = clock
        self._sleep = sleep
        self._left = 0
        self._lapses_at = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        if self.rate_per_s <= 0:
            return
        with self._lock:
            now = self._clock()
            if self._left > 0 and now < self._lapses_at:
                self._left -= 1
                return
            wait_s = self._lease(now, unused=self._left)
            self._left = self._lease_size - 1
            self._lapses_at = now + wait_s + LEASE_WINDOW_S
        if wait_s > 0:
            self._sleep(wait_s)

    def _lease(self, now: float, unused: int) -> float:
        try:
            return int(self._script(keys=[self._key], args=[*self._args, unused])) / 1e6
        except redis.RedisError as exc:
            # The breaker, on the same Redis, decides whether the call may go; the count of calls is not
            # worth refusing it for: this process goes on alone, at the whole rate, until Redis is back.
            log.debug("throttle %s: Redis did not answer (%s); counting in this process", self._key, exc)
            return max(0.0, self._lapses_at - now)
