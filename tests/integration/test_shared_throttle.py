"""The downstreams' calls per second, counted across processes through a real Redis."""

from __future__ import annotations

import redis

from app.integrations.shared_throttle import SharedThrottle


def _throttles(connection: redis.Redis, rate: float, count: int, waits: list[float]) -> list[SharedThrottle]:
    # The sleep is recorded, not slept: Redis' clock barely moves, so every wait asked for is owed to the rate.
    return [SharedThrottle(connection, "CRM", rate, sleep=waits.append) for _ in range(count)]


def test_processes_share_one_rate(redis_conn: redis.Redis) -> None:
    waits: list[float] = []
    first, second = _throttles(redis_conn, 100, 2, waits)
    for _ in range(50):  # 100 calls: a second's worth, half through each "process"
        first.acquire()
        second.acquire()
    # Leases of 10 calls: the first is free; the other nine wait 0.1 s more each, whoever takes them.
    assert len(waits) == 9
    assert abs(max(waits) - 0.9) < 0.05


def test_unused_calls_of_a_lapsed_lease_are_given_back(redis_conn: redis.Redis) -> None:
    waits: list[float] = []
    now = [0.0]
    idle, busy = (SharedThrottle(redis_conn, "CRM", 100, clock=lambda: now[0], sleep=waits.append)
                  for _ in range(2))
    idle.acquire()  # leases 10 calls, uses one
    now[0] += 1.0  # its lease lapses
    idle.acquire()  # gives back 9, leases 10 more
    busy.acquire()
    # Without the nine given back, the busy process would wait for the idle one's second lease to pass.
    assert waits == [] or max(waits) <= 0.11


def test_no_limit_asks_nothing_of_redis() -> None:
    throttle = SharedThrottle(redis.Redis(port=1), "CRM", 0, sleep=lambda s: (_ for _ in ()).throw(AssertionError))
    for _ in range(1000):
        throttle.acquire()
