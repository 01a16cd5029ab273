"""Channel pacing on a real Redis: bursts pass, the rest wait their turn, channels are independent."""

import redis

from app.integrations.pacing import ChannelPacer


def test_a_burst_passes_then_each_message_waits_one_interval_more(redis_conn: redis.Redis) -> None:
    waits: list[float] = []
    pacer = ChannelPacer(redis_conn, interval_s=1.0, burst=3, sleep=waits.append)
    answered = [pacer.wait_turn("C1") for _ in range(6)]
    assert answered[:3] == [0, 0, 0]
    assert [round(w) for w in answered[3:]] == [1, 2, 3]
    assert waits == answered[3:]
    assert pacer.wait_turn("C2") == 0  # another channel has its own allowance


def test_two_processes_share_the_pace(redis_conn: redis.Redis, redis_url: str) -> None:
    other_process = ChannelPacer(redis.Redis.from_url(redis_url), interval_s=1.0, burst=1, sleep=lambda s: None)
    here = ChannelPacer(redis_conn, interval_s=1.0, burst=1, sleep=lambda s: None)
    assert other_process.wait_turn("C1") == 0
    assert round(here.wait_turn("C1")) == 1
