"""`acme demo`: the whole product offline, in one process tree.

A real redis-server, the mock CRM, the Slack emulator, `acme serve`'s app under
uvicorn and a worker all start here; lines typed on stdin become signed Slack
requests to /slack/events, exactly as Slack would send them.
"""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Iterable
from typing import TextIO

import httpx

from app.config import load_settings
from app.console_slack import SlackCall, SlackEmulator, SlackRequestSigner
from app.embedded_redis import EmbeddedRedis
from app.http_server import BackgroundServer
from app.jobs.worker import WorkerThread
from app.logs import configure_logging
from app.services import Services, build_services
from app.slack.mrkdwn import unescape
from app.web import create_web_app
from mock_crm.server import create_crm_app

CHANNEL = "C0DEMO"
CHANNEL_NAME = "#demo"
USER = "U0YOU"
BOT_NAME = "acme"
INTRO = """ACME Assistant demo: everything runs here, offline. Try:
  /acme summary Globex        /acme summary cus_003        /acme summary Acme
  @acme summarize Initech     /acme help                   (Ctrl-D to quit)
"""


# Slack draws these emoji codes as pictures; a terminal shows the same characters.
EMOJI = {":red_circle:": "\U0001f534", ":large_orange_circle:": "\U0001f7e0", ":large_blue_circle:": "\U0001f535",
         ":white_circle:": "\u26aa", ":mag:": "\U0001f50d", ":warning:": "\u26a0\ufe0f",
         ":large_green_circle:": "\U0001f7e2", ":large_yellow_circle:": "\U0001f7e1"}


def _as_shown(text: str) -> str:
    for code, picture in EMOJI.items():
        text = text.replace(code, picture)
    return text


class ChannelPrinter:
    """Prints each message the bot sends as a person in the channel would see it."""

    def __init__(self, out: TextIO, uploaded: dict[str, bytes] | None = None) -> None:
        self._out = out
        self._uploaded = uploaded if uploaded is not None else {}

    def __call__(self, call: SlackCall) -> None:
        channel = call.payload.get("channel") or call.payload.get("channel_id")
        where = CHANNEL_NAME if channel == CHANNEL else str(channel)
        thread = call.payload.get("thread_ts")
        in_thread = f" in thread {thread}" if thread else ""
        if call.method == "files.getUploadURLExternal":
            return
        if call.method == "files.completeUploadExternal":
            files = ", ".join(f"{f.get('title')} ({len(self._uploaded.get(f['id'], b''))} bytes)"
                              for f in call.payload.get("files", []))
            header = f"[{where}] {BOT_NAME} uploaded {files}{in_thread}:"
            text = _as_shown(unescape(str(call.payload.get("initial_comment", ""))))
        else:
            if call.method == "response_url" and call.payload.get("response_type") != "in_channel":
                header = f"[{where}] {BOT_NAME} (only visible to you):"
            elif call.method == "chat.update":
                header = f"[{where}] {BOT_NAME} edited its message {call.payload.get('ts')}:"
            else:
                header = f"[{where}] {BOT_NAME}{in_thread}:"
            text = _as_shown(call.visible_text)
        body = "\n".join("    " + line for line in text.splitlines())
        self._out.write(f"{header}\n{body}\n")
        self._out.flush()


class Demo:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.redis = EmbeddedRedis()
        self.slack = SlackEmulator()
        self.slack.on_call = ChannelPrinter(out, self.slack.uploaded)
        self._servers: list[BackgroundServer] = []
        self._worker: WorkerThread | None = None
        self.services: Services | None = None

    def start(self) -> Demo:
        self.redis.start()
        crm = self._serve(create_crm_app(), "mock-crm")
        slack = self._serve(self.slack.asgi_app(), "slack-emulator")
        signing_secret = secrets.token_hex(16)
        settings = load_settings(
            redis_url=self.redis.url,
            crm_base_url=crm.url,
            slack_api_url=f"{slack.url}/api/",
            slack_bot_token=f"xoxb-demo-{secrets.token_hex(8)}",
            slack_signing_secret=signing_secret,
        )
        self.services = build_services(settings)
        self.app = self._serve(create_web_app(self.services), "acme-serve")
        self._worker = WorkerThread(self.services).start()
        self.signer = SlackRequestSigner(signing_secret, response_base_url=slack.url)
        self.http = httpx.Client(base_url=self.app.url, timeout=5)
        return self

    def _serve(self, asgi_app: object, name: str) -> BackgroundServer:
        server = BackgroundServer(asgi_app, name=name).start()  # type: ignore[arg-type]
        self._servers.append(server)
        return server

    def send(self, line: str) -> None:
        """One line as a person would type it in Slack: `/acme ...` or `@acme ...`."""
        line = line.strip()
        if not line or line.startswith("#"):
            return
        self.out.write(f"\nyou in {CHANNEL_NAME}: {line}\n")
        if line.startswith("/acme"):
            body, headers = self.signer.slash_command(line[len("/acme"):].strip(), channel=CHANNEL, user=USER)
            response = self.http.post("/slack/events", content=body, headers=headers)
            if response.status_code == 200 and response.text:
                text = response.json().get("text", "") if response.headers.get("content-type", "").startswith(
                    "application/json") else response.text
                indented = "\n".join("    " + part for part in text.splitlines())
                self.out.write(f"[{CHANNEL_NAME}] {BOT_NAME} (only visible to you):\n{indented}\n")
            elif response.status_code != 200:
                self.out.write(f"(Slack got HTTP {response.status_code} from the app)\n")
        elif line.startswith("@acme"):
            body, headers = self.signer.app_mention(line[len("@acme"):].strip(), channel=CHANNEL, user=USER)
            response = self.http.post("/slack/events", content=body, headers=headers)
            if response.status_code != 200:
                self.out.write(f"(Slack got HTTP {response.status_code} from the app)\n")
        else:
            self.out.write("(type a slash command, /acme summary Globex, or a mention, @acme summarize Globex)\n")
        self.out.flush()

    def wait_until_idle(self, timeout_s: float = 60.0, quiet_s: float = 0.3) -> None:
        """Until no job waits or runs and Slack has heard nothing for `quiet_s`."""
        assert self.services is not None
        # A job is in neither the queue nor the started registry for a moment after it is dequeued.
        time.sleep(quiet_s)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            queues = self.services.jobs.queues
            busy = any(q.count or q.started_job_registry.count for q in queues)
            last = self.slack.calls[-1].at if self.slack.calls else 0.0
            if not busy and time.monotonic() - last >= quiet_s:
                return
            time.sleep(0.05)

    def stop(self) -> None:
        if self._worker:
            self._worker.stop()
        for server in reversed(self._servers):
            server.stop()
        if self.services:
            self.services.close()
        self.redis.stop()


def run_demo(lines: Iterable[str], out: TextIO = sys.stdout, interactive: bool = False) -> None:
    configure_logging(level="WARNING")
    demo = Demo(out).start()
    try:
        if interactive:
            out.write(INTRO)
            out.flush()
        for line in lines:
            demo.send(line)
            demo.wait_until_idle()
        demo.wait_until_idle()
    finally:
        demo.stop()
