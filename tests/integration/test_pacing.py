"""Channel pacing on a real Redis: bursts pass, the rest wait their turn, channels are independent."""

import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.embedded_redis import free_port
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


def test_a_turn_that_must_wait_is_answered_at_once_and_keeps_its_place_in_line(redis_conn: redis.Redis) -> None:
    slept: list[float] = []
    pacer = ChannelPacer(redis_conn, interval_s=1.0, burst=1, sleep=slept.append)
    first = pacer.take_turn("C1", None, longest_sleep_s=0.05)
    second = pacer.take_turn("C1", None, longest_sleep_s=0.05)
    third = pacer.take_turn("C1", None, longest_sleep_s=0.05)
    assert first.wait_s == 0 and 0.9 < second.wait_s <= 1.0 and 1.9 < third.wait_s <= 2.0
    assert slept == []  # nobody slept: the two later ones were told how long to wait
    assert second.slot_us - first.slot_us == 1_000_000 and third.slot_us - second.slot_us == 1_000_000
    # Taken again with its place, a turn keeps its slot instead of queueing behind the third.
    again = pacer.take_turn("C1", second, longest_sleep_s=0.05)
    assert again.slot_us == second.slot_us and again.wait_s <= second.wait_s


def test_no_message_overtakes_one_waiting_ahead_of_it(redis_conn: redis.Redis) -> None:
    pacer = ChannelPacer(redis_conn, interval_s=0.01, burst=1, recheck_s=1.0)
    ahead = pacer.take_turn("C1", None, longest_sleep_s=0)
    ahead = pacer.take_turn("C1", None, longest_sleep_s=0)  # the second of the channel: in line for 10 ms
    assert ahead.wait_s > 0
    # Slack then fails it: it will try again in 30 s, keeping its place meanwhile.
    ahead = pacer.wait_again("C1", ahead, 30.0)
    behind = pacer.take_turn("C1", None, longest_sleep_s=0.05)
    assert 30.0 < behind.wait_s <= 31.0 and behind.slot_us > ahead.slot_us  # it waits for the one ahead of it
    pacer.leave("C1", ahead)  # the one ahead went
    assert pacer.take_turn("C1", behind, longest_sleep_s=0.05).wait_s == 0
    assert pacer.take_turn("C2", None, longest_sleep_s=0.05).wait_s == 0  # another channel has its own line


def test_a_place_nobody_came_back_for_lapses(redis_conn: redis.Redis) -> None:
    pacer = ChannelPacer(redis_conn, interval_s=0.01, burst=1, lease_grace_s=0.05)
    pacer.take_turn("C1", None, longest_sleep_s=0)
    lost = pacer.take_turn("C1", None, longest_sleep_s=0)  # its job is lost with its worker: it never comes back
    assert lost.wait_s > 0
    time.sleep(0.1)  # its due time (10 ms) and its grace (50 ms) pass
    assert pacer.take_turn("C1", None, longest_sleep_s=0.05).wait_s == 0
    assert redis_conn.zcard("acme:pace:line:C1") == 0


def test_a_message_ahead_that_comes_back_late_still_is_not_overtaken(redis_conn: redis.Redis) -> None:
    pacer = ChannelPacer(redis_conn, interval_s=0.01, burst=1)
    pacer.take_turn("C1", None, longest_sleep_s=0)
    ahead = pacer.wait_again("C1", pacer.take_turn("C1", None, longest_sleep_s=0), 0.05)
    # More than a second past its due time, it has not come back (RQ's scheduler, or a busy queue, runs its job late).
    time.sleep(1.2)
    behind = pacer.take_turn("C1", None, longest_sleep_s=0.05)
    assert behind.wait_s > 0.05 and behind.in_line  # it waits for it instead of going ahead
    pacer.leave("C1", ahead)
    assert pacer.take_turn("C1", behind, longest_sleep_s=0.05).wait_s == 0


def test_a_message_in_flight_when_redis_stops_answering_goes_unpaced_rather_than_failing(caplog) -> None:
    # Redis that does not answer: a closed port on this machine.
    gone = redis.Redis(port=free_port(), socket_connect_timeout=0.2, socket_timeout=0.2, retry=Retry(NoBackoff(), 0))
    pacer = ChannelPacer(gone, interval_s=1.0, burst=1, sleep=lambda s: None)
    assert pacer.wait_turn("C1") == 0.0
    turn = pacer.take_turn("C1", None, longest_sleep_s=0.05)
    assert turn.wait_s == 0 and not turn.in_line
    assert "goes without waiting for its turn" in caplog.text
