"""Slack over Socket Mode: envelopes from our Socket Mode server → the same Bolt app → Redis → worker → fake Slack.

The app connects as `acme serve` does with SLACK_APP_TOKEN set: apps.connections.open on the Slack
Web API (here the Slack emulator with the Socket Mode routes mounted), then the WebSocket it names.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from app.embedded_redis import free_port
from app.http_server import BackgroundServer
from app.slack_emulator import SlackEmulator
from app.slack_request_signer import SlackRequestSigner
from app.socket_mode_emulator import SocketModeEmulator, envelope_of_http_request
from app.webhook_signature import crm_signature
from tests.conftest import CHANNEL, USER, FakeSlack, Stack

APP_TOKEN = f"xapp-1-A0ACME-1234-{secrets.token_hex(16)}"
NOTIFY = "C0NOTIFY"
WEBHOOK_SECRET = "whsec-socket"


@pytest.fixture()
def socket_slack() -> Iterator[SocketModeEmulator]:
    emulator = SocketModeEmulator().start()
    yield emulator
    emulator.stop()


@pytest.fixture()
def fake_slack(socket_slack: SocketModeEmulator) -> Iterator[FakeSlack]:
    """The Slack emulator, with apps.connections.open answered by the Socket Mode server."""
    api = SlackEmulator()
    routes = [*socket_slack.web_api_routes(), Mount("/", api.asgi_app())]
    server = BackgroundServer(Starlette(routes=routes), name="fake-slack").start()
    yield FakeSlack(api, server)
    server.stop()


@pytest.fixture()
def socket_stack(stack_factory, socket_slack: SocketModeEmulator) -> Stack:
    stack = stack_factory(slack_app_token=APP_TOKEN, slack_notify_channel=NOTIFY,
                          crm_webhook_secret=WEBHOOK_SECRET, slack_channel_interval_s=0.05)
    socket_slack.wait_connected()
    return stack


def _summaries(stack: Stack, name: str) -> list:
    return [c for c in stack.slack.calls if c.method in ("chat.postMessage", "chat.startStream", "chat.appendStream",
                                                         "chat.stopStream") and f"Summary of {name}" in c.text]


def test_a_slash_command_is_acked_with_working_on_it_and_its_summary_posted(
        socket_stack: Stack, socket_slack: SocketModeEmulator) -> None:
    envelope = socket_slack.deliver_http_request(*socket_stack.signer.slash_command(
        "summary Globex", channel=CHANNEL, user=USER))

    ack = socket_slack.wait_for_ack(envelope)
    assert ack.type == "slash_commands"
    assert ack.payload == {"text": "Working on it..."}
    summary = socket_stack.slack.wait_for(lambda calls: _summaries(socket_stack, "Globex"))[-1]
    assert summary.payload["channel"] == CHANNEL
    assert "Globex Corporation" in summary.visible_text
    # Slack came in over the socket only: the app was asked for one connection, and got it.
    assert socket_slack.connections_opened == 1


def test_an_answer_in_the_ack_comes_back_as_its_payload(socket_stack: Stack, socket_slack: SocketModeEmulator) -> None:
    envelope = socket_slack.deliver_http_request(*socket_stack.signer.slash_command(
        "help", channel=CHANNEL, user=USER))

    payload = socket_slack.wait_for_ack(envelope).payload
    assert payload is not None and "/acme summary <customer>" in payload["text"]
    assert payload["blocks"]


def test_a_mention_is_acked_and_answered_in_its_thread_once_whatever_the_redeliveries(
        socket_stack: Stack, socket_slack: SocketModeEmulator) -> None:
    body, headers = socket_stack.signer.app_mention("summarize Initech", channel=CHANNEL, user=USER,
                                                    event_id="Ev0SOCKET")
    first = socket_slack.deliver_http_request(body, headers)
    again = socket_slack.deliver_http_request(body, headers, retry_attempt=1, retry_reason="timeout")

    assert socket_slack.wait_for_ack(first).payload is None
    assert socket_slack.wait_for_ack(again).payload is None
    socket_stack.slack.wait_for(lambda calls: _summaries(socket_stack, "Initech"))
    event_ts = json.loads(body)["event"]["ts"]
    posts = [c for c in socket_stack.slack.calls if c.method in ("chat.postMessage", "chat.startStream")]
    assert {p.payload["thread_ts"] for p in posts} == {event_ts}
    time.sleep(0.5)  # room for a second answer, were one coming
    assert len([c for c in socket_stack.slack.calls if c.text == "Working on it..."]) == 1
    assert len(_summaries(socket_stack, "Initech")) == 1


def _new_customer_notification(stack: Stack) -> str:
    """A CRM webhook (over HTTP, still served) makes a notification with a Summarize button; its ts."""
    body = json.dumps({"id": "evt_socket", "type": "customer.created", "created_at": "2026-11-21T10:00:00Z",
                       "data": {"id": "cus_003", "name": "Initech", "plan": "pro"}})
    stamp = str(int(time.time()))
    stack.http.post("/webhooks/crm", content=body, headers={
        "Content-Type": "application/json", "X-CRM-Timestamp": stamp,
        "X-CRM-Signature": crm_signature(WEBHOOK_SECRET, stamp, body.encode())}).raise_for_status()
    stack.slack.wait_for(lambda calls: any(c.payload.get("channel") == NOTIFY for c in calls))
    ts = next(c.payload["ts"] for c in stack.slack.calls if c.payload.get("channel") == NOTIFY)
    deadline = time.monotonic() + 5
    while stack.collaborators.notifications.get(NOTIFY, ts) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return ts


def test_a_button_click_is_acked_and_acted_on_and_a_foreign_one_is_not_acked(
        socket_stack: Stack, socket_slack: SocketModeEmulator) -> None:
    ts = _new_customer_notification(socket_stack)
    message = socket_stack.slack.messages[ts]

    foreign = socket_slack.deliver_http_request(*socket_stack.signer.block_action(
        "summarize_new_customer", channel="C0ELSEWHERE", user=USER, message=message))
    click = socket_slack.deliver_http_request(*socket_stack.signer.block_action(
        "summarize_new_customer", channel=NOTIFY, user=USER, message=message))

    assert socket_slack.wait_for_ack(click).type == "interactive"
    summary = socket_stack.slack.wait_for(lambda calls: _summaries(socket_stack, "Initech"))[-1]
    assert summary.payload["thread_ts"] == ts
    # Refused (over HTTP, a 403): no ack, as Slack then tells the user the click failed.
    assert socket_slack.ack_of(foreign) is None


def _form(signed: tuple[str, dict[str, str]]) -> tuple[str, str]:
    body, headers = signed
    return body, headers["Content-Type"]


MALFORMED_ENVELOPES = [
    ("events_api", None), ("events_api", "x"), ("events_api", []),
    ("events_api", {"type": "event_callback", "event": {"type": "app_mention"}}),
    ("interactive", {"type": "block_actions", "actions": "x"}),
    ("interactive", {"type": "block_actions", "actions": [{"action_id": "x"}], "channel": "C1"}),
    ("slash_commands", {"command": "/acme", "text": "summary Globex"}),  # no channel
]


def test_a_malformed_envelope_is_refused_before_bolt_and_acked_and_the_next_one_handled(
        socket_stack: Stack, socket_slack: SocketModeEmulator, caplog: pytest.LogCaptureFixture) -> None:
    refused = [socket_slack.deliver(kind, payload) for kind, payload in MALFORMED_ENVELOPES]  # type: ignore[arg-type]
    for frame in ("not json", "[1, 2]", "{not json"):
        socket_slack.send_text(frame)
    envelope_type, payload = envelope_of_http_request(*_form(socket_stack.signer.slash_command("help", channel=CHANNEL,
                                                                                              user=USER)))
    socket_slack.send_text("\n" + json.dumps({"envelope_id": "e-spaced", "type": envelope_type, "payload": payload,
                                              "accepts_response_payload": True}), envelope=("e-spaced", envelope_type))
    good = socket_slack.deliver_http_request(*socket_stack.signer.slash_command("help", channel=CHANNEL, user=USER))

    assert all(not socket_slack.wait_for_ack(envelope).payload for envelope in refused)
    assert socket_slack.wait_for_ack(good).payload
    assert socket_slack.wait_for_ack("e-spaced").payload  # JSON after a newline is still JSON
    said = [r.getMessage() for r in caplog.records if "refused a" in r.getMessage()]
    assert len(said) == len(MALFORMED_ENVELOPES) + 3, said
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def test_an_envelope_larger_than_slack_sends_is_refused_and_acked_and_the_next_one_handled(
        socket_stack: Stack, socket_slack: SocketModeEmulator, caplog: pytest.LogCaptureFixture) -> None:
    envelope_type, payload = envelope_of_http_request(*_form(socket_stack.signer.slash_command(
        "summary Globex " + "x" * 300_000, channel=CHANNEL, user=USER)))
    socket_slack.send_text(json.dumps({"envelope_id": "e-large", "type": envelope_type, "payload": payload,
                                       "accepts_response_payload": True}), envelope=("e-large", envelope_type))
    good = socket_slack.deliver_http_request(*socket_stack.signer.slash_command("help", channel=CHANNEL, user=USER))

    assert not socket_slack.wait_for_ack("e-large").payload
    assert socket_slack.wait_for_ack(good).payload
    assert [r for r in caplog.records if "more than 256 KiB" in r.getMessage()]


def test_a_dropped_connection_is_replaced_and_the_next_envelope_handled(
        socket_stack: Stack, socket_slack: SocketModeEmulator, caplog: pytest.LogCaptureFixture) -> None:
    socket_slack.drop()
    socket_slack.wait_connected(greeted=2)

    envelope = socket_slack.deliver_http_request(*socket_stack.signer.slash_command(
        "summary Globex", channel=CHANNEL, user=USER))
    assert socket_slack.wait_for_ack(envelope).payload == {"text": "Working on it..."}
    socket_stack.slack.wait_for(lambda calls: _summaries(socket_stack, "Globex"))
    # A ticket opens one connection: the app asked Slack for a new URL.
    assert socket_slack.connections_opened == 2
    assert socket_slack.close_codes == [1006]
    # Said once, as what it is (a WARNING with the close code, and connecting again), not as an ERROR.
    assert [r.levelname for r in caplog.records if "connection ended (close code 1006)" in r.getMessage()] == \
        ["WARNING"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]


def test_slacks_disconnect_is_followed_by_a_new_connection_before_the_old_one_closes(
        socket_stack: Stack, socket_slack: SocketModeEmulator) -> None:
    socket_slack.ask_to_reconnect("refresh_requested")
    socket_slack.wait_connected(greeted=2)
    socket_slack.wait_for(lambda: socket_slack.open_connections == 1 and len(socket_slack.close_codes) == 1)

    assert socket_slack.close_codes == [1000]  # the old one, closed by the app once the new one was up
    envelope = socket_slack.deliver_http_request(*socket_stack.signer.app_mention(
        "summarize Globex", channel=CHANNEL, user=USER))
    socket_slack.wait_for_ack(envelope)
    socket_stack.slack.wait_for(lambda calls: _summaries(socket_stack, "Globex"))


def test_while_slack_refuses_to_open_a_connection_http_still_serves_and_the_app_keeps_trying(
        stack_factory, socket_slack: SocketModeEmulator) -> None:
    socket_slack.refuse_with = "internal_error"
    stack = stack_factory(slack_app_token=APP_TOKEN)
    socket_slack.wait_for(lambda: socket_slack.connections_refused >= 2, what="a second attempt")

    assert stack.slash("summary Globex").text == "Working on it..."
    socket_slack.refuse_with = None
    socket_slack.wait_connected()
    envelope = socket_slack.deliver_http_request(*stack.signer.slash_command("help", channel=CHANNEL, user=USER))
    assert socket_slack.wait_for_ack(envelope).payload


def test_a_refused_app_token_is_said_once_with_the_remedy_and_not_tried_again(
        stack_factory, socket_slack: SocketModeEmulator, caplog: pytest.LogCaptureFixture) -> None:
    socket_slack.refuse_with = "invalid_auth"
    stack = stack_factory(slack_app_token=APP_TOKEN)
    socket_slack.wait_for(lambda: socket_slack.connections_refused >= 1, what="the first attempt")
    time.sleep(2.5)  # past the first two retries' waits (1 s, then 2 s)

    assert socket_slack.connections_refused == 1
    said = [r for r in caplog.records
            if r.name == "app.integrations.slack_socket_mode" and r.levelno >= logging.WARNING]
    assert len(said) == 1 and said[0].levelno == logging.ERROR, [r.getMessage() for r in said]
    assert "invalid_auth" in said[0].getMessage() and "connections:write" in said[0].getMessage()
    assert stack.slash("summary Globex").text == "Working on it..."


def test_stopping_closes_the_connection_cleanly(socket_stack: Stack, socket_slack: SocketModeEmulator) -> None:
    assert socket_stack.socket_mode is not None
    socket_stack.socket_mode.stop()

    socket_slack.wait_for(lambda: socket_slack.open_connections == 0)
    assert socket_slack.close_codes == [1000]
    assert socket_slack.connections_opened == 1  # and it did not connect again


def test_the_app_token_and_the_tickets_never_reach_a_log(
        stack_factory, socket_slack: SocketModeEmulator, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        stack = stack_factory(slack_app_token=APP_TOKEN)
        socket_slack.wait_connected()
        socket_slack.drop()
        socket_slack.wait_connected(greeted=2)
        envelope = socket_slack.deliver_http_request(*stack.signer.slash_command(
            "summary Globex", channel=CHANNEL, user=USER))
        socket_slack.wait_for_ack(envelope)
        assert stack.socket_mode is not None
        stack.socket_mode.stop()

    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert len(socket_slack.tickets_issued) == 2
    for secret in (APP_TOKEN, *socket_slack.tickets_issued):
        assert secret not in logged
    # The libraries did write the URL and the token's call (at DEBUG), masked where they were made.
    assert "ticket=[redacted]" in logged
    assert "apps.connections.open" in logged


def _serve_env(redis_url: str, slack_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CRM_", "ACME_"))}
    env.update(SLACK_BOT_TOKEN="xoxb-1111-2222-socketmode", SLACK_SIGNING_SECRET="s1gning-secret-socket",
               SLACK_API_URL=f"{slack_url}/api/", REDIS_URL=redis_url, PORT=str(free_port()), LOG_LEVEL="DEBUG",
               DATABASE_URL=f"sqlite:///{tmp_path}/acme.db", **extra)
    return env


def test_acme_serve_connects_acks_and_closes_cleanly_on_sigterm_without_logging_a_secret(
        tmp_path: Path, redis_conn, redis_url: str, fake_slack: FakeSlack, socket_slack: SocketModeEmulator) -> None:
    log_file = tmp_path / "serve.log"
    env = _serve_env(redis_url, fake_slack.url, tmp_path, SLACK_APP_TOKEN=APP_TOKEN)
    with log_file.open("wb") as stderr:
        serve = subprocess.Popen([sys.executable, "-m", "app", "serve"], env=env, cwd=tmp_path, stderr=stderr)
        try:
            socket_slack.wait_connected(timeout_s=30)
            signer = SlackRequestSigner("s1gning-secret-socket", response_base_url=fake_slack.url)
            envelope = socket_slack.deliver_http_request(*signer.slash_command("summary Globex", channel=CHANNEL,
                                                                               user=USER))
            assert socket_slack.wait_for_ack(envelope).payload == {"text": "Working on it..."}
        finally:
            serve.terminate()
            serve.wait(timeout=20)

    # uvicorn's graceful shutdown, then ours: the socket closed with a close frame, SIGTERM's exit code.
    assert serve.returncode == 128 + signal.SIGTERM
    assert socket_slack.close_codes == [1000]
    logs = log_file.read_text()
    assert "ticket=[redacted]" in logs  # the DEBUG lines with the URL were written, masked
    for secret in (APP_TOKEN, *socket_slack.tickets_issued):
        assert secret not in logs


def test_acme_serve_refuses_a_slack_app_token_that_is_not_one(tmp_path: Path, redis_url: str) -> None:
    bot_token_by_mistake = "xoxb-3333-4444-notanapptoken"
    env = _serve_env(redis_url, "http://127.0.0.1:9", tmp_path, SLACK_APP_TOKEN=bot_token_by_mistake)
    result = subprocess.run([sys.executable, "-m", "app", "serve"], env=env, cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert "SLACK_APP_TOKEN must be an app-level token (xapp-...)" in result.stderr
    assert bot_token_by_mistake not in result.stderr and "Traceback" not in result.stderr
