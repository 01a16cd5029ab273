"""The WebClient's requests on kept-alive connections, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from slack_sdk.errors import SlackApiError

from app.integrations.slack_web_client import KeepAliveWebClient


class _SlackLike(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[int, str, str, bytes]] = []
    answer: tuple[int, dict[str, str], dict] = (200, {}, {"ok": True})
    stall_s = 0.0

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.seen.append((self.client_address[1], self.path, self.headers.get("Authorization", ""), body))
        time.sleep(self.stall_s)
        status, headers, payload = self.answer
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def slack_like() -> Iterator[tuple[str, type[_SlackLike]]]:
    handler = type("Handler", (_SlackLike,), {"seen": [], "answer": (200, {}, {"ok": True}), "stall_s": 0.0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/", handler
    server.shutdown()
    server.server_close()


def test_calls_share_one_connection_and_keep_slack_sdks_answers(slack_like) -> None:
    url, handler = slack_like
    client = KeepAliveWebClient(token="xoxb-test", base_url=url, timeout=5, retry_handlers=[])
    handler.answer = (200, {}, {"ok": True, "ts": "1.000100"})
    first = client.chat_postMessage(channel="C1", text="one")
    second = client.chat_postMessage(channel="C1", text="two")
    assert first["ts"] == second["ts"] == "1.000100" and first.status_code == 200
    assert [path for _, path, _, _ in handler.seen] == ["/api/chat.postMessage"] * 2
    assert handler.seen[0][2] == "Bearer xoxb-test" and b'"text": "two"' in handler.seen[1][3]
    assert len({port for port, _, _, _ in handler.seen}) == 1, "each call opened a connection of its own"
    client.close()


def test_an_error_status_is_slack_sdks_error_with_its_headers(slack_like) -> None:
    url, handler = slack_like
    client = KeepAliveWebClient(token="xoxb-test", base_url=url, timeout=5, retry_handlers=[])
    handler.answer = (429, {"Retry-After": "7"}, {"ok": False, "error": "ratelimited"})
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C1", text="one")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["retry-after"] == "7"
    handler.answer = (200, {"Connection": "close"}, {"ok": True})
    assert client.chat_postMessage(channel="C1", text="two")["ok"]
    assert client.chat_postMessage(channel="C1", text="three")["ok"]  # on a new connection: the last was closed
    client.close()


def test_a_stalled_answer_is_a_timeout_as_urlopen_raises_it_and_no_error_line(slack_like, caplog) -> None:
    url, handler = slack_like
    client = KeepAliveWebClient(token="xoxb-test", base_url=url, timeout=1, retry_handlers=[])
    handler.stall_s = 2.0
    with caplog.at_level(logging.INFO), pytest.raises(TimeoutError):
        client.chat_postMessage(channel="C1", text="one")
    # The caller says it (the integration layer's WARNING, with its retry): slack-sdk's ERROR line said it twice.
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    client.close()
