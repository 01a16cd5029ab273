"""`acme demo`: the whole product offline, in one process tree.

A real redis-server, the mock CRM, the Slack emulator with its Socket Mode server,
`acme serve`'s app under uvicorn (connected over Socket Mode, as with SLACK_APP_TOKEN)
and a worker all start here; lines typed on stdin become what Slack would send, as
envelopes over the WebSocket, and the CRM's webhooks come in over HTTP.
"""

from __future__ import annotations

import secrets
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

from app.composition import Collaborators, build_collaborators
from app.config import load_settings
from app.demo_printer import BOT_NAME, CHANNELS, ChannelPrinter, as_shown, linked
from app.domain.customers import Customer, Matched, resolve_customer
from app.embedded_redis import EmbeddedRedis, free_port
from app.http_server import BackgroundServer
from app.integrations.slack_socket_mode import SocketModeConnection
from app.logs import configure_logging
from app.slack_emulator import SlackEmulator
from app.slack_request_signer import SlackRequestSigner
from app.socket_mode_emulator import Ack, SocketModeEmulator
from app.store.db import upgrade
from app.web.app import create_web_app
from app.web.socket_mode import start_socket_mode
from app.worker.runner import WorkerThread
from mock_crm.server import create_crm_app
from mock_crm.webhooks import WebhookSender

CHANNEL = CHANNELS["demo"]
CHANNEL_NAME = "#demo"
DM_CHANNEL = "D0YOU"
USER = "U0YOU"
INTRO = """ACME Assistant demo: everything runs here, offline. Try:
  /acme summary Globex        /acme summary Acme           @acme summarize Initech
  /acme report Globex         /acme status                 /acme help
  @acme can you give me the lowdown on Globex and drop it in #sales?     then: click Approve
  @acme any open tickets for Initech?            dm is the CRM up?       /acme ask what can you do?
  crm ticket Globex urgent Checkout is down      then: click Draft response
  crm customer Newco pro                         then: click Summarize
  Reports and their charts are saved in ./acme-demo-output/, to open when they are posted.
  (Ctrl-D to quit; Slack reaches the app over Socket Mode here, as it does where it has no public URL)
"""


# Where the files the bot uploads (a report, its chart) are saved for the user to open; it outlives the demo.
OUTPUT_DIR = "acme-demo-output"
# Slack waits this long for an ack before it tells the user that a command or a click failed.
ACK_TIMEOUT_S = 3.0
PRIORITY_WORDS = ("low", "normal", "high", "urgent")
PLAN_WORDS = ("free", "starter", "pro", "enterprise")


def _buttons(message: dict[str, Any]) -> list[tuple[str, str, str]]:
    """A message's buttons: (action id, label, value), feedback buttons included."""
    found = []
    for block in message.get("blocks") or []:
        for element in block.get("elements", []) if block.get("type") in ("actions", "context_actions") else []:
            if element.get("type") == "feedback_buttons":
                found += [(element["action_id"], element[side]["text"]["text"], element[side]["value"])
                          for side in ("positive_button", "negative_button")]
            elif "text" in element:
                found.append((element["action_id"], element["text"]["text"], element.get("value", "")))
    return found


class Demo:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.redis = EmbeddedRedis()
        self._files = tempfile.TemporaryDirectory(prefix="acme-demo-")
        self.database_url = f"sqlite:///{self._files.name}/acme.db"
        self.slack = SlackEmulator()
        self.slack.on_call = ChannelPrinter(out, self.slack.uploaded, self.slack.messages, self.slack.file_names,
                                            save_files_in=Path.cwd() / OUTPUT_DIR)
        self.socket = SocketModeEmulator()
        self._servers: list[BackgroundServer] = []
        self._worker: WorkerThread | None = None
        self._webhooks: WebhookSender | None = None
        self.collaborators: Collaborators | None = None
        self._socket_mode: SocketModeConnection | None = None

    def start(self) -> Demo:
        self.redis.start()
        signing_secret, webhook_secret = secrets.token_hex(16), secrets.token_hex(16)
        app_port = free_port()
        # The mock CRM tells the app about new tickets and customers, as a real CRM would.
        self._webhooks = WebhookSender(f"http://127.0.0.1:{app_port}/webhooks/crm", webhook_secret)
        self.crm = self._serve(create_crm_app(webhooks=self._webhooks), "mock-crm")
        self.socket.start()
        slack = self._serve(Starlette(routes=[*self.socket.web_api_routes(), Mount("/", self.slack.asgi_app())]),
                            "slack-emulator")
        upgrade(self.database_url)
        settings = load_settings(
            database_url=self.database_url,
            redis_url=self.redis.url,
            crm_base_url=self.crm.url,
            crm_webhook_secret=webhook_secret,
            slack_api_url=f"{slack.url}/api/",
            slack_bot_token=f"xoxb-demo-{secrets.token_hex(8)}",
            slack_app_token=f"xapp-1-A0ACME-demo-{secrets.token_hex(8)}",
            slack_signing_secret=signing_secret,
            slack_notify_channel=CHANNEL,
        )
        self.collaborators = build_collaborators(settings)
        web_app = create_web_app(self.collaborators)
        self.app = self._serve(web_app, "acme-serve", port=app_port)
        self._socket_mode = start_socket_mode(web_app.state.slack_bolt, settings)
        self.socket.wait_connected()
        self._worker = WorkerThread(self.collaborators).start()
        self.signer = SlackRequestSigner(signing_secret, response_base_url=slack.url)
        self.http = httpx.Client(base_url=self.app.url, timeout=5)
        return self

    def _serve(self, asgi_app: object, name: str, port: int = 0) -> BackgroundServer:
        server = BackgroundServer(asgi_app, port=port, name=name).start()  # type: ignore[arg-type]
        self._servers.append(server)
        return server

    def send(self, line: str) -> None:
        """One line as a person would type it: `/acme ...`, `@acme ...`, `click ...`, or `crm ...` for the CRM."""
        line = line.strip()
        if not line or line.startswith("#"):
            return
        verb = line.split(" ", 1)[0]
        where = {"crm": "CRM", "dm": f"you, in a direct message to {BOT_NAME}"}.get(verb, f"you in {CHANNEL_NAME}")
        self.out.write(f"\n{where}: {line}\n")
        handler = {"/acme": self._slash, "@acme": self._mention, "dm": self._direct_message, "click": self._click,
                   "crm": self._crm}.get(verb)
        if handler is None:
            self._say("type /acme summary Globex, @acme summarize Globex, crm ticket Globex urgent <subject>, "
                      "crm customer <name>, or click <button>")
        else:
            handler(line[len(verb):].strip())
        self.out.flush()

    def _say(self, text: str) -> None:
        self.out.write(f"({text})\n")

    def _deliver(self, body: str, headers: dict[str, str]) -> Ack | None:
        """What Slack would POST to /slack/events, sent over Socket Mode instead; the app's ack."""
        envelope = self.socket.deliver_http_request(body, headers)
        try:
            return self.socket.wait_for_ack(envelope, timeout_s=ACK_TIMEOUT_S)
        except TimeoutError:
            self._say(f"the app did not ack within {ACK_TIMEOUT_S:.0f} s; Slack would tell you it failed")
            return None

    def _slash(self, text: str) -> None:
        ack = self._deliver(*self.signer.slash_command(text, channel=CHANNEL, user=USER))
        if ack is not None and ack.payload and ack.payload.get("text"):
            answer = as_shown(str(ack.payload["text"]))
            indented = "\n".join("    " + part for part in answer.splitlines())
            self.out.write(f"[{CHANNEL_NAME}] {BOT_NAME} (only visible to you):\n{indented}\n")

    def _mention(self, text: str) -> None:
        self._deliver(*self.signer.app_mention(linked(text), channel=CHANNEL, user=USER))

    def _direct_message(self, text: str) -> None:
        self._deliver(*self.signer.message_event(linked(text), channel=DM_CHANNEL, user=USER, channel_type="im"))

    def _click(self, button_text: str) -> None:
        """Click the button so labelled on the newest message that has one."""
        for message in reversed(list(self.slack.messages.values())):
            for action_id, label, value in _buttons(message):
                if label.lower() == button_text.lower():
                    channel = str(message.get("channel", CHANNEL))
                    self._deliver(*self.signer.block_action(action_id, channel=channel, user=USER, message=message,
                                                            value=value))
                    return
        self._say(f"no message here has a button \u201c{button_text}\u201d")

    def _crm(self, text: str) -> None:
        """`ticket <customer> <priority> <subject>` or `customer <name> [plan]`: done in the mock CRM."""
        kind, _, rest = text.partition(" ")
        words = rest.split()
        if kind == "ticket" and any(w in PRIORITY_WORDS for w in words):
            at = next(i for i, w in enumerate(words) if w in PRIORITY_WORDS)
            query, priority, subject = " ".join(words[:at]), words[at], " ".join(words[at + 1:]) or "(no subject)"
            found = [Customer.from_crm(c) for c in
                     self.http.get(f"{self.crm.url}/customers", params={"q": query}).json()["customers"]]
            match = resolve_customer(query, found)
            if not isinstance(match, Matched):
                self._say(f"the CRM has no single customer \u201c{query}\u201d")
                return
            ticket = self.http.post(f"{self.crm.url}/tickets", json={
                "customer_id": match.customer.id, "subject": subject, "priority": priority}).json()
            self._say(f"the CRM created {ticket['id']} for {match.customer.name} and sent a webhook")
        elif kind == "customer" and words:
            plan = words.pop() if len(words) > 1 and words[-1] in PLAN_WORDS else "starter"
            customer = self.http.post(f"{self.crm.url}/customers", json={"name": " ".join(words), "plan": plan}).json()
            self._say(f"the CRM created {customer['id']} and sent a webhook")
        else:
            self._say("try: crm ticket Globex urgent Checkout is down, or: crm customer Newco pro")

    def wait_until_idle(self, timeout_s: float = 60.0, quiet_s: float = 0.3) -> None:
        """Until, for `quiet_s` together, no webhook is in flight, no job waits or runs, and Slack hears nothing."""
        assert self.collaborators is not None
        deadline = time.monotonic() + timeout_s
        busy_until = time.monotonic()
        while (now := time.monotonic()) < deadline:
            queues = self.collaborators.jobs.queues
            # A job put off for Slack's pacing waits in the scheduled registry (one due after the deadline, such as
            # an approval's expiry, is not what the next line waits for). Between the registries a job is in none
            # for a moment, as RQ hands it on: the quiet must last, not be seen once.
            due_by = int(time.time() + deadline - now) + 1
            if (any(q.count or q.started_job_registry.count or q.scheduled_job_registry.get_jobs_to_schedule(
                    due_by, chunk_size=1) for q in queues) or (self._webhooks is not None and not self._webhooks.idle)):
                busy_until = now
            last_heard = self.slack.calls[-1].at if self.slack.calls else 0.0
            if now - max(busy_until, last_heard) >= quiet_s:
                return
            time.sleep(0.05)

    def stop(self) -> None:
        if self._worker:
            self._worker.stop()
        if self._socket_mode:
            self._socket_mode.stop()
        for server in reversed(self._servers):
            server.stop()
        self.socket.stop()
        if self._webhooks:
            self._webhooks.close()
        if self.collaborators:
            self.collaborators.close()
        self.redis.stop()
        self._files.cleanup()


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
