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
    for _ in range(100):  # 200 calls: two seconds' worth, half through each "process"
        first.acquire()
        second.acquire()
    # Leases of 10 calls: a second's worth (ten leases) go at once; each of the ten after waits 0.1 s more,
    # whoever takes it.
    assert len(waits) == 10
    assert abs(max(waits) - 1.0) < 0.05


def test_unused_calls_of_a_lapsed_lease_are_given_back(redis_conn: redis.Redis) -> None:
    waits: list[float] = []
    now = [0.0]
    idle, busy = (SharedThrottle(redis_conn, "CRM", 100, clock=lambda: now[0], sleep=waits.append)
                  for _ in range(2))
    idle.acquire()  # leases 10 calls, uses one
    now[0] += 1.0  # its lease lapses
    idle.acquire()  # gives back 9, leases 10 more
    for _ in range(100):  # ten leases: the burst's last ones wait
        busy.acquire()
    # Given back, the nine calls are the busy process's: its last lease waits 0.11 s, not 0.2 s.
    assert 0 < max(waits) <= 0.12


def test_no_limit_asks_nothing_of_redis() -> None:
    throttle = SharedThrottle(redis.Redis(port=1), "CRM", 0, sleep=lambda s: (_ for _ in ()).throw(AssertionError))
    for _ in range(1000):
        throttle.acquire()
