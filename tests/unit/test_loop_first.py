"""Slack's dispatch on the event loop while it is quick there, in the lane's threads for a while after a slow one."""

from __future__ import annotations

import asyncio
import threading

import pytest

from app.web.loop_first import LoopFirst
from app.web.thread_lanes import ThreadLane


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _where_it_ran(dispatcher: LoopFirst, clock: Clock, takes_s: float = 0.0) -> str:
    async def main() -> str:
        loop_thread = threading.get_ident()

        def work() -> str:
            clock.now += takes_s
            return "loop" if threading.get_ident() == loop_thread else "lane"

        return await dispatcher.run(work)

    return asyncio.run(main())


def test_quick_calls_stay_on_the_loop() -> None:
    clock = Clock()
    dispatcher = LoopFirst(ThreadLane("slack", 2), slow_s=0.1, lane_for_s=10, clock=clock)
    assert [_where_it_ran(dispatcher, clock, takes_s=0.05) for _ in range(3)] == ["loop"] * 3


def test_after_a_slow_call_the_next_ones_run_in_the_lane_then_the_loop_is_tried_again() -> None:
    clock = Clock()
    dispatcher = LoopFirst(ThreadLane("slack", 2), slow_s=0.1, lane_for_s=10, clock=clock)
    assert _where_it_ran(dispatcher, clock, takes_s=0.2) == "loop"  # Redis hung: the loop waited once
    assert _where_it_ran(dispatcher, clock) == "lane"
    clock.now += 9.5
    assert _where_it_ran(dispatcher, clock, takes_s=0.3) == "lane"  # slow in the lane: the loop did not wait
    clock.now += 1
    assert _where_it_ran(dispatcher, clock) == "loop"


def test_a_call_that_fails_on_the_loop_is_timed_too() -> None:
    clock = Clock()
    dispatcher = LoopFirst(ThreadLane("slack", 2), slow_s=0.1, lane_for_s=10, clock=clock)

    def hangs_then_fails() -> None:
        clock.now += 0.2
        raise TimeoutError("Redis did not answer")

    async def main() -> None:
        await dispatcher.run(hangs_then_fails)

    with pytest.raises(TimeoutError):
        asyncio.run(main())
    assert dispatcher.in_lane
