"""The ingress under hostile conditions: a paused Redis, hostile bodies, oversized bodies, replayed commands.

Each test drives `acme serve`'s app under uvicorn over real sockets; Redis is a real redis-server
(paused with SIGSTOP where a test needs it hung), and Slack's requests are signed for real.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import select
import signal
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import redis

from app.embedded_redis import EmbeddedRedis
from app.messages.bot import queue_unavailable, status_unavailable
from app.webhook_signature import crm_signature
from tests.conftest import CHANNEL, USER, Stack

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
CRM_SECRET = "whsec-ingress-test"
DEEP_JSON = "[" * 20_000 + "]" * 20_000
DEEP_OBJECT = "{\"a\":" * 20_000 + "1" + "}" * 20_000


@pytest.fixture()
def own_redis() -> Iterator[EmbeddedRedis]:
    """A redis-server for one test alone, so that pausing it stops nobody else."""
    server = EmbeddedRedis().start()
    yield server
    server.stop()


class Paused:
    """SIGSTOP on a redis-server: connections open, nothing answered, as a hung Redis behaves."""

    def __init__(self, server: EmbeddedRedis) -> None:
        connection = redis.Redis.from_url(server.url)
        self.pid = int(connection.info("server")["process_id"])
        connection.close()

    def __enter__(self) -> Paused:
        os.kill(self.pid, signal.SIGSTOP)
        return self

    def __exit__(self, *_: object) -> None:
        os.kill(self.pid, signal.SIGCONT)


@pytest.fixture()
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The log, uvicorn's own records ("Exception in ASGI application") included."""
    server_log = logging.getLogger("uvicorn.error")
    server_log.addHandler(caplog.handler)
    caplog.set_level(logging.INFO)
    yield caplog
    server_log.removeHandler(caplog.handler)


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


# --- a hung Redis -------------------------------------------------------------------------------------------

def test_with_redis_paused_a_slash_command_is_told_the_queue_is_unavailable_and_healthz_answers(
        own_redis: EmbeddedRedis, stack_factory) -> None:
    stack: Stack = stack_factory(worker=False, redis_url=own_redis.url)
    assert stack.slash("help").status_code == 200  # connections in the pools, as on a server that ran a while

    # More than the event loop could wait for one after another within Slack's 3 s (0.2 s each): after the
    # first, they wait in the Slack lane's threads, together (app/web/loop_first.py).
    in_flight_count = 16
    with Paused(own_redis), ThreadPoolExecutor(in_flight_count) as pool:
        started = time.perf_counter()
        in_flight = [pool.submit(stack.slash, f"summary Globex {n}") for n in range(in_flight_count)]
        time.sleep(0.05)  # the commands are in the server, waiting on Redis
        health = httpx.get(f"{stack.app.url}/healthz", timeout=10)
        health_took = time.perf_counter() - started
        answers = [f.result() for f in in_flight]
        answers_took = time.perf_counter() - started
        help_answer = stack.slash("help")  # needs no queue: answered as ever
        status_started = time.perf_counter()
        status_answer = stack.slash("status")  # the first: the server has not read a breaker yet
        status_took = time.perf_counter() - status_started
        api_started = time.perf_counter()
        api_answer = stack.http.get("/v1/workflows")
        api_took = time.perf_counter() - api_started

    assert health.status_code == 200
    assert health_took < 1, f"/healthz waited {health_took:.2f} s behind a hung Redis"
    assert [a.status_code for a in answers] == [200] * in_flight_count
    # Not "unavailable": Redis may yet run what it did not answer for, so the asker is told to wait first.
    assert {a.text for a in answers} == {queue_unavailable(maybe_queued=True)}
    assert answers_took < 3, f"slash commands answered after {answers_took:.2f} s; Slack gives up at 3 s"
    assert help_answer.status_code == 200 and "/acme summary" in help_answer.text
    # What is down is said; not that "this" cannot start, since the status starts nothing.
    assert status_answer.status_code == 200 and status_answer.text == status_unavailable()
    assert status_took < 1, f"/acme status answered after {status_took:.2f} s behind a hung Redis"
    # The API's gateway (keys, rate limits) asks Redis with the same short timeout, then serves what needs only
    # the database.
    assert api_answer.status_code == 200
    assert api_took < 1.5, f"the API answered after {api_took:.2f} s behind a hung Redis"


def test_with_redis_paused_probes_answer_not_ready_in_time_and_leave_the_api_its_threads(
        own_redis: EmbeddedRedis, stack_factory) -> None:
    stack: Stack = stack_factory(worker=False, redis_url=own_redis.url)
    assert stack.http.get("/readyz").status_code == 200
    with Paused(own_redis), ThreadPoolExecutor(48) as pool:
        # More probes at once than the server's shared pool has threads (40), as an orchestrator and a
        # Prometheus retrying against a stuck server might send.
        probes = [pool.submit(stack.http.get, path) for path in ("/readyz", "/metrics") * 24]
        time.sleep(0.3)
        api_started = time.perf_counter()
        api_answer = stack.http.get("/v1/workflows")
        api_took = time.perf_counter() - api_started
        answers = [probe.result() for probe in probes]
        probes_took = time.perf_counter() - api_started
    assert api_answer.status_code == 200
    assert api_took < 1.5, f"the API waited {api_took:.2f} s behind probes stuck on Redis"
    assert all(answer.status_code == 503 for answer in answers[::2])  # /readyz: not ready
    assert probes_took < 6, f"the probes were answered after {probes_took:.2f} s"


# --- hostile bodies ------------------------------------------------------------------------------------------

def _slack_signature(secret: str, body: bytes, timestamp: str) -> str:
    return "v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()


def _post_slack(stack: Stack, body: bytes, content_type: str, *, signed: bool) -> httpx.Response:
    stamp = str(int(time.time()))
    secret = stack.settings.slack_signing_secret.get_secret_value()  # type: ignore[union-attr]
    headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp,
               "X-Slack-Signature": _slack_signature(secret, body, stamp) if signed else "v0=" + "0" * 64}
    return stack.http.post("/slack/events", content=body, headers=headers)


HOSTILE_SLACK_BODIES = [
    (b"[]", JSON), (b"null", JSON), (b'"x"', JSON), (b"payload=%5B%5D", FORM), (b"payload=null", FORM),
    (b"payload=%22x%22", FORM), (DEEP_JSON.encode(), JSON), (DEEP_OBJECT.encode(), JSON),
    (b"payload=" + b"%5B" * 20_000, FORM), (b"\xff\xfe{\x80}", JSON), (b"{\"type\": \"\xc3\x28\"}", JSON),
    (b'{"type": "event_callback", "event": "x"}', JSON),
    (b'{"type": "event_callback", "event": {"type": "app_mention"}}', JSON),
    (b'{"type": "event_callback", "event": {"type": "message", "channel": 5, "ts": []}}', JSON),
    (b'{"authorizations": [5], "team": 7}', JSON),
    (b"payload=" + json.dumps({"type": "block_actions", "actions": "x"}).encode(), FORM),
    (b"payload=" + json.dumps({"type": "block_actions", "actions": [{"action_id": "x"}], "channel": "C1"}).encode(),
     FORM),
    (b"payload=" + json.dumps({"type": "block_actions", "actions": [{"action_id": "agent_feedback",
                                                                       "selected_option": "x"}],
                               "channel": {"id": "C1"}, "user": {"id": "U1"}}).encode(), FORM),
    (b'{"type": "view_submission", "view": null}', JSON),
    # Shapes Bolt itself cannot read.
    (b"payload=" + json.dumps({"type": "view_submission", "team": {"id": "T1"}, "user": {"id": "U1"},
                               "view": {"id": "V1", "callback_id": "x"}}).encode(), FORM),
    (b"payload=" + json.dumps({"type": "workflow_step_edit", "callback_id": "x", "team": {"id": "T1"},
                               "user": {"id": "U1"}}).encode(), FORM),
    (b'{"type": "event_callback", "event": {"type": "app_mention", "user": {"id": "U1"}, "channel": "C1", '
     b'"ts": "1.1", "text": "summarize Hooli"}}', JSON),
    (b"command=%2Facme&text=summary+Globex", FORM),  # no channel
]


def test_hostile_slack_bodies_are_401_unsigned_and_400_signed_never_500(stack_factory, logs) -> None:
    stack: Stack = stack_factory(worker=False)
    unsigned = [_post_slack(stack, body, kind, signed=False) for body, kind in HOSTILE_SLACK_BODIES]
    signed = [_post_slack(stack, body, kind, signed=True) for body, kind in HOSTILE_SLACK_BODIES]
    not_a_number = stack.http.post("/slack/events", content=b"[]", headers={
        "Content-Type": JSON, "X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=0"})
    too_large = stack.http.post("/slack/events", content=b"{}", headers={
        "Content-Type": JSON, "X-Slack-Request-Timestamp": "9" * 400, "X-Slack-Signature": "v0=0"})

    assert [r.status_code for r in unsigned] == [401] * len(HOSTILE_SLACK_BODIES)
    # Said, for a wrong SLACK_SIGNING_SECRET shows only so, but not once a request.
    said = [r for r in logs.records if "SLACK_SIGNING_SECRET is not this app's" in r.getMessage()]
    assert len(said) == 1 and said[0].levelname == "WARNING"
    assert [r.status_code for r in signed] == [400] * len(HOSTILE_SLACK_BODIES), [r.text for r in signed]
    assert all(r.text.startswith("malformed Slack request: ") for r in signed)
    assert not_a_number.status_code == 401 and too_large.status_code == 401
    assert _tracebacks(logs) == []
    # And a well-formed request is still served.
    assert stack.slash("help").status_code == 200


def _post_crm(stack: Stack, body: bytes) -> httpx.Response:
    stamp = str(int(time.time()))
    return stack.http.post("/webhooks/crm", content=body, headers={
        "Content-Type": JSON, "X-CRM-Timestamp": stamp, "X-CRM-Signature": crm_signature(CRM_SECRET, stamp, body)})


def test_hostile_crm_and_api_bodies_are_400_never_500(stack_factory, logs) -> None:
    stack: Stack = stack_factory(worker=False, crm_webhook_secret=CRM_SECRET)
    crm = [_post_crm(stack, body.encode()) for body in (DEEP_JSON, DEEP_OBJECT, "[]", "null", "{")]
    huge_timestamp = stack.http.post("/webhooks/crm", content=b"{}", headers={
        "Content-Type": JSON, "X-CRM-Timestamp": "9" * 400, "X-CRM-Signature": "sha256=0"})
    not_json = stack.http.post("/v1/workflows", content=b'{"name": ', headers={"Content-Type": JSON})
    deep = [stack.http.post("/v1/workflows", content=body.encode(), headers={"Content-Type": JSON})
            for body in (DEEP_JSON, DEEP_OBJECT)]
    nested_inside = stack.http.post("/v1/workflows", content=(
        '{"name": "deep", "steps": [{"id": "a", "tool": "crm.get_customer", "args": {"customer": '
        + "[" * 5_000 + "]" * 5_000 + "}}]}").encode(), headers={"Content-Type": JSON})

    assert [r.status_code for r in crm] == [400] * 5
    assert huge_timestamp.status_code == 401
    assert not_json.status_code == 400
    assert not_json.json()["error"]["code"] == "invalid_json"
    assert "not valid JSON" in not_json.json()["error"]["message"]
    assert [r.status_code for r in deep] == [400, 400]
    assert all(set(r.json()["error"]) == {"code", "message", "details"} for r in [not_json, *deep])
    assert nested_inside.status_code in (400, 422)
    assert _tracebacks(logs) == []


# --- oversized bodies ----------------------------------------------------------------------------------------

FIFTY_MB = 50 * 1024 * 1024
CHUNK = 64 * 1024


def _send_chunked(url: str, path: str, total: int) -> tuple[str, int]:
    """POST `total` bytes in chunks on a raw socket, stopping as soon as the server answers (or hangs up).
    Answers the status line and how many body bytes went out."""
    host, port = url.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n".encode())
        chunk = f"{CHUNK:x}\r\n".encode() + b"x" * CHUNK + b"\r\n"
        try:
            while sent < total:
                if select.select([connection], [], [], 0)[0]:
                    break  # the server has answered
                connection.sendall(chunk)
                sent += CHUNK
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = connection.recv(4096)
    return answer.split(b"\r\n", 1)[0].decode(), sent


def _declared(url: str, path: str, length: int) -> str:
    """Only the headers of a request declaring a `length`-byte body: the server must answer without it."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                           f"Content-Length: {length}\r\n\r\n".encode())
        try:
            return connection.recv(4096).split(b"\r\n", 1)[0].decode()
        except TimeoutError:
            return "no answer without the body"


def test_a_50_mb_body_is_refused_413_before_it_is_read(stack_factory) -> None:
    stack: Stack = stack_factory(worker=False, crm_webhook_secret=CRM_SECRET)
    url = stack.app.url

    for path in ("/slack/events", "/webhooks/crm", "/v1/workflows"):
        assert _declared(url, path, FIFTY_MB) == "HTTP/1.1 413 Request Entity Too Large", path
    for path in ("/slack/events", "/webhooks/crm", "/v1/workflows"):
        status, sent = _send_chunked(url, path, FIFTY_MB)
        assert status == "HTTP/1.1 413 Request Entity Too Large", path
        # The server stopped reading past its cap: what went out is what the socket buffers took.
        assert sent < FIFTY_MB // 4, f"{path}: {sent} bytes sent before the answer"
    # The API's cap is a setting (1 MiB by default): a 2 MiB workflow is refused, a small one is not.
    big = stack.http.post("/v1/workflows", json={"name": "big", "description": "x" * (2 * 1024 * 1024),
                                                 "steps": []})
    assert big.status_code == 413 and big.json()["error"]["code"] == "too_large"
    assert stack.http.get("/healthz").status_code == 200


# --- replays -------------------------------------------------------------------------------------------------

ANSWERING = ("chat.postMessage", "response_url")


def _summaries(calls: list, name: str) -> list:
    return [c for c in calls if c.method in ANSWERING and f"Summary of {name}" in c.text]


def test_a_replayed_slash_command_is_acked_but_acted_on_once(stack_factory) -> None:
    stack: Stack = stack_factory()
    body, headers = stack.signer.slash_command("summary Globex", channel=CHANNEL, user=USER)

    answers = [stack.http.post("/slack/events", content=body, headers=headers) for _ in range(3)]
    # The same command signed again (a new timestamp) is a new command, as when a user types it twice.
    again = stack.slash("summary Initech")

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.text for a in answers] == ["Working on it...", "", ""]
    assert again.text == "Working on it..."
    stack.slack.wait_for(lambda calls: _summaries(calls, "Globex") and _summaries(calls, "Initech"))
    time.sleep(0.5)  # room for a second summary, were one coming
    assert len(_summaries(stack.slack.calls, "Globex")) == 1


# --- the access log ------------------------------------------------------------------------------------------

def test_slack_and_crm_requests_are_in_the_access_log_without_their_bodies(stack_factory, logs) -> None:
    stack: Stack = stack_factory(worker=False, crm_webhook_secret=CRM_SECRET)
    stack.slash("help me with secret-ish words")
    _post_crm(stack, b'{"id": "evt_1", "type": "nothing.we.know", "data": {"x": 1}}')

    access = [r.getMessage() for r in logs.records if r.name == "app.access"]
    assert any(line.startswith("POST /slack/events 200 ") for line in access), access
    assert any(line.startswith("POST /webhooks/crm 202 ") for line in access), access
    assert not [line for line in access if "secret-ish" in line or "evt_1" in line]


def test_nul_characters_in_api_requests_are_4xx_on_every_database(stack_factory, any_db: str, logs) -> None:
    stack: Stack = stack_factory(worker=False, database_url=any_db)
    step = {"id": "a", "tool": "crm.get_customer", "args": {"customer": "Glo\u0000bex"}}
    answers = [
        stack.http.post("/v1/workflows", json={"name": "a\u0000b", "steps": [{**step, "args": {}}]}),
        stack.http.post("/v1/workflows", json={"name": "ok", "steps": [step]}),
        stack.http.post("/v1/agents", json={"name": "n\u0000", "instructions": "x"}),
        stack.http.get("/v1/runs/a%00b"),
        stack.http.get("/v1/runs?status=%00"),
    ]
    assert [a.status_code for a in answers] == [422, 422, 422, 400, 400], [a.text for a in answers]
    assert all("NUL" in a.text for a in answers)
    assert _tracebacks(logs) == []


def test_json_that_other_readers_refuse_is_a_422_at_the_api_and_recorded_readably_from_a_webhook(
        stack_factory, any_db: str, logs) -> None:
    # Python reads half a surrogate pair and NaN; PostgreSQL, and every page that lists the row, do not.
    stack: Stack = stack_factory(database_url=any_db, crm_webhook_secret="whsec", slack_notify_channel="C0NOTIFY")
    workflow = stack.http.post("/v1/workflows", json={"name": "w"}).json()
    sent = {"Content-Type": JSON}
    answers = [stack.http.post(path, content=body, headers=sent) for path, body in (
        (f"/v1/workflows/{workflow['id']}/run", '{"inputs": {"customer": "Glo\\udc00bex"}}'),
        (f"/v1/workflows/{workflow['id']}/run", '{"inputs": {"n": NaN}}'),
        (f"/v1/workflows/{workflow['id']}/context", '{"key": "k", "value": -Infinity}'),
        ("/v1/tools/crm.get_customer/invoke", '{"customer": "\\ud800"}'),
    )]
    assert [a.status_code for a in answers] == [422] * 4, [a.text for a in answers]
    assert "surrogate" in answers[0].text and "NaN" in answers[1].text

    event = ('{"id": "evt_odd", "type": "ticket.created", "created_at": "2026-11-21T10:00:00Z", "data": {'
             '"id": "tkt_1", "customer_id": "cus_001", "subject": "Down \\udc00", "priority": "urgent", '
             '"status": "open", "created_at": "2026-11-21T10:00:00Z", "score": NaN}}')
    stamp = str(int(time.time()))
    assert stack.http.post("/webhooks/crm", content=event, headers={
        **sent, "X-CRM-Timestamp": stamp, "X-CRM-Signature": crm_signature("whsec", stamp, event.encode())},
    ).status_code == 202
    deadline = time.monotonic() + 15
    while not (runs := stack.http.get("/v1/runs").json()["items"]) or runs[-1]["status"] != "succeeded":
        assert time.monotonic() < deadline, runs
        time.sleep(0.05)
    assert stack.http.get(f"/v1/runs/{runs[-1]['id']}").status_code == 200
    assert stack.http.post("/v1/tools/system.status/invoke").status_code == 202  # no arguments, no body
    assert _tracebacks(logs) == []


def test_values_nested_too_deeply_are_a_422_and_bodies_python_cannot_read_a_400_with_the_reason(
        stack_factory, any_db: str, logs) -> None:
    stack: Stack = stack_factory(worker=False, database_url=any_db)
    workflow = stack.http.post("/v1/workflows", json={"name": "w"}).json()
    sent = {"Content-Type": JSON}

    def nested(depth: int) -> str:
        return "[" * depth + "]" * depth

    deep = [stack.http.post(path, content=body, headers=sent) for path, body in (
        (f"/v1/workflows/{workflow['id']}/run", f'{{"inputs": {{"x": {nested(300)}}}}}'),
        (f"/v1/workflows/{workflow['id']}/run", f'{{"inputs": {{"x": {nested(600)}}}}}'),
        ("/v1/workflows", f'{{"name": "n", "steps": [{{"id": "a", "tool": "system.status", "args": {{"x": '
                          f'{nested(300)}}}}}]}}'),
        (f"/v1/workflows/{workflow['id']}/context", f'{{"key": "k", "value": {nested(300)}}}'),
        ("/v1/tools/crm.get_customer/invoke", f'{{"customer": {nested(300)}}}'),
    )]
    assert [a.status_code for a in deep] == [422] * 5, [a.text[:200] for a in deep]
    assert all("at most 64 levels" in a.text for a in deep[:4])
    within = stack.http.post(f"/v1/workflows/{workflow['id']}/run", content=f'{{"inputs": {{"x": {nested(40)}}}}}',
                             headers=sent)
    assert within.status_code == 202
    assert stack.http.get("/v1/runs").status_code == 200
    assert stack.http.get(f"/v1/runs/{within.json()['run_id']}").json()["inputs"]["x"] == json.loads(nested(40))

    unreadable = [stack.http.post("/v1/workflows", content=body, headers=headers) for body, headers in (
        (b'{"name": "caf\xe9"}', {"Content-Type": "application/json; charset=latin-1"}),
        (nested(20000).encode(), sent),
        (b'{"name": "n", "description": ' + b"9" * 5000 + b"}", sent),
    )]
    assert [a.status_code for a in unreadable] == [400] * 3, [a.text for a in unreadable]
    assert all(a.json()["error"]["code"] == "invalid_json" for a in unreadable)
    assert "not UTF-8" in unreadable[0].text and "nests too deeply" in unreadable[1].text
    assert "a number has more than 4300 digits" in unreadable[2].text and "sys." not in unreadable[2].text
    assert _tracebacks(logs) == []


def test_slack_events_answers_only_post_and_every_answer_carries_a_request_id(stack_factory) -> None:
    stack: Stack = stack_factory(worker=False)
    got = stack.http.get("/slack/events")
    acked = stack.slash("help")
    traced = stack.http.post("/slack/events", content=b"{}", headers={"X-Request-ID": "trace-1", "Content-Type": JSON})

    assert got.status_code == 405 and got.headers["allow"] == "POST"
    assert acked.status_code == 200 and len(acked.headers["x-request-id"]) == 32
    assert traced.status_code == 401 and traced.headers["x-request-id"] == "trace-1"
