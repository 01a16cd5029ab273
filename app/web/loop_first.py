"""Slack's acks run on the event loop while Redis answers at once, in their lane's threads while it does not.

The hop to a thread and back cost each ack more than its work under load: in bench/throughput.py at 200
slash commands/s, ack p99 went from 12.5-13.3 ms in the lane to 9.9-10.3 ms on the loop, and the acks that
acme serve itself took more than 5 ms over from 6 % to 2 %. An ack's work is a few hundred microseconds
of Python and one round trip to Redis.

On the loop, a round trip that hangs holds every other request, /healthz included, for as long as it
waits (the ack path's Redis timeout, 0.2 s). So one call slower than `slow_s` sends the calls after it to
the lane's threads for `lane_for_s`; then one tries the loop again. A hung Redis costs the loop one wait
in each `lane_for_s`, and the acks go on being answered in the threads in the meantime.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from app.web.thread_lanes import ThreadLane

log = logging.getLogger(__name__)

T = TypeVar("T")


class LoopFirst:
    def __init__(self, lane: ThreadLane, *, slow_s: float = 0.1, lane_for_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._lane = lane
        self._slow_s = slow_s
        self._lane_for_s = lane_for_s
        self._clock = clock
        self._lane_until = float("-inf")

    @property
    def in_lane(self) -> bool:
        return self._clock() < self._lane_until

    async def run(self, func: Callable[..., T], *args: object) -> T:
        """`func(*args)`, on the loop unless a recent call was slow there."""
        if self.in_lane:
            return await self._lane.run(func, *args)
        started = self._clock()
        try:
            return func(*args)
        finally:
            took = self._clock() - started
            if took > self._slow_s:
                self._lane_until = self._clock() + self._lane_for_s
                log.warning("a Slack request took %.2f s on the event loop (Redis slow to answer?); the next "
                            "%.0f s of them run in the %s lane's threads, so the loop keeps serving", took,
                            self._lane_for_s, self._lane.name)
