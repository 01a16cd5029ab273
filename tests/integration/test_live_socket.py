"""The live socket: one Redis subscription per server process, whatever the number of sockets; caps per key."""

from __future__ import annotations

import json
import time
from contextlib import ExitStack

import pytest
import redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from app.runs.events import CHANNEL
from tests.conftest import Stack

KEYS = ["live-key-one", "live-key-two"]


def _subscribers(connection: redis.Redis) -> int:
    """Clients of the test's Redis with a subscription open (CLIENT LIST's `sub`)."""
    return sum(1 for client in connection.client_list() if int(client.get("sub", 0)) > 0)


def _wait_for_subscribers(connection: redis.Redis, count: int) -> None:
    deadline = time.monotonic() + 10
    while _subscribers(connection) != count:
        assert time.monotonic() < deadline, f"{_subscribers(connection)} subscribers, not {count}"
        time.sleep(0.02)


@pytest.fixture()
def live(stack_factory) -> Stack:
    return stack_factory(worker=False, acme_api_keys=",".join(KEYS), acme_api_max_sockets_per_key=3)


def _open(stack: Stack, key: str, query: str = "") -> ClientConnection:
    url = stack.app.url.replace("http://", "ws://") + f"/v1/ws?api_key={key}{query}"
    return connect(url, open_timeout=5)


def test_many_sockets_share_one_subscription_and_each_gets_every_event(live: Stack, redis_conn: redis.Redis) -> None:
    with ExitStack() as sockets:
        everything = [sockets.enter_context(_open(live, key)) for key in (*KEYS, *KEYS, KEYS[0])]
        one_run = sockets.enter_context(_open(live, KEYS[1], "&run_id=run_wanted"))
        _wait_for_subscribers(redis_conn, 1)

        events = [{"type": "run.status", "run_id": run_id, "workflow_id": "wf_x", "step_id": None,
                   "status": "running", "at": "2026-01-01T00:00:00+00:00"} for run_id in ("run_other", "run_wanted")]
        redis_conn.publish(CHANNEL, json.dumps(events))  # as app/runs/events.py publishes: an array
        for socket in everything:
            assert [json.loads(socket.recv(timeout=5)) for _ in events] == events
        assert json.loads(one_run.recv(timeout=5)) == events[1]

        one_run.send(json.dumps({"subscribe": {"run_id": "run_other"}}))
        assert json.loads(one_run.recv(timeout=5)) == {"subscribed": {"run_id": "run_other"}}
        redis_conn.publish(CHANNEL, json.dumps(events))
        assert json.loads(one_run.recv(timeout=5)) == events[0]
        assert _subscribers(redis_conn) == 1
    _wait_for_subscribers(redis_conn, 0)  # the last socket gone, the subscription goes too


def test_a_key_past_its_cap_is_refused_with_a_reason_and_other_keys_are_not(live: Stack) -> None:
    with ExitStack() as sockets:
        for _ in range(3):
            sockets.enter_context(_open(live, KEYS[0]))
        with _open(live, KEYS[0]) as fourth, pytest.raises(ConnectionClosed) as closed:
            fourth.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429
        assert "too many live sockets for this API key" in closed.value.rcvd.reason
        other = sockets.enter_context(_open(live, KEYS[1]))
        other.send(json.dumps({"subscribe": {"run_id": "r1"}}))
        assert json.loads(other.recv(timeout=5)) == {"subscribed": {"run_id": "r1"}}
    with _open(live, KEYS[0]) as again:  # the key's sockets closed: room again
        again.send(json.dumps({"subscribe": {}}))
        assert json.loads(again.recv(timeout=5)) == {"subscribed": {}}


def _event(run_id: str, n: int = 0) -> dict:
    return {"type": "step.status", "run_id": run_id, "workflow_id": "wf_x", "step_id": f"s{n}", "status": "running",
            "at": "2026-01-01T00:00:00+00:00"}


def test_a_dropped_subscription_closes_the_sockets_it_left_with_holes_and_comes_back_for_new_ones(
        live: Stack, redis_conn: redis.Redis) -> None:
    from app.api.live import INTERRUPTED  # noqa: PLC0415

    with _open(live, KEYS[0]) as socket:
        _wait_for_subscribers(redis_conn, 1)
        redis_conn.client_kill_filter(_type="pubsub")
        # What was published until the subscription is back is lost to it: the socket is told so, not left open.
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                socket.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == INTERRUPTED
        assert "interrupted" in closed.value.rcvd.reason and "/v1/runs" in closed.value.rcvd.reason
    with _open(live, KEYS[0]) as again:
        _wait_for_subscribers(redis_conn, 1)
        redis_conn.publish(CHANNEL, json.dumps([_event("run_after")]))
        assert json.loads(again.recv(timeout=5))["run_id"] == "run_after"


def test_a_socket_that_falls_behind_is_closed_and_the_others_go_on(live: Stack, redis_conn: redis.Redis) -> None:
    from app.api.live import QUEUE_SIZE, TOO_SLOW  # noqa: PLC0415

    with _open(live, KEYS[0]) as flooded, _open(live, KEYS[1], "&run_id=run_quiet") as quiet:
        _wait_for_subscribers(redis_conn, 1)
        # More events at once than a socket may have waiting: the relay cannot wait for this one.
        redis_conn.publish(CHANNEL, json.dumps([_event("run_busy", n) for n in range(QUEUE_SIZE + 1)]))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                flooded.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == TOO_SLOW
        assert "/v1/runs" in closed.value.rcvd.reason
        redis_conn.publish(CHANNEL, json.dumps([_event("run_quiet")]))
        assert json.loads(quiet.recv(timeout=5))["run_id"] == "run_quiet"


def test_frames_a_client_gets_wrong_are_answered_with_the_reason_and_the_socket_stays_open(live: Stack) -> None:
    with _open(live, KEYS[0]) as socket:
        for frame in (b"\x00binary", "[" * 5000 + "]" * 5000, '{"subscribe": {"run_id": "r\\ud800"}}',
                      '{"subscribe": {"run_id": ["x"]}}', "not json", '{"other": 1}'):
            socket.send(frame)
            answer = json.loads(socket.recv(timeout=5))
            assert answer["error"]["code"] == "bad_request", (frame, answer)
        socket.send(json.dumps({"subscribe": {"run_id": "run_wanted"}}))
        assert json.loads(socket.recv(timeout=5)) == {"subscribed": {"run_id": "run_wanted"}}
