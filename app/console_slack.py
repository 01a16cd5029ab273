"""A Slack workspace in the terminal: what `acme demo` talks to, and what the tests fake Slack with.

Two halves, both at the HTTP level so the product's code path is the production one:
- `SlackEmulator` serves the Slack Web API (and response_urls) on 127.0.0.1, records
  every call, and can fail on demand (429, 5xx, not_in_channel);
- `SlackRequestSigner` builds what Slack sends us: slash commands and app_mention
  events, signed with the signing secret exactly as Slack signs them.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.messages.mrkdwn import unescape


@dataclass(frozen=True)
class SlackCall:
    method: str
    payload: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    received_at: float = field(default_factory=time.time)

    @property
    def text(self) -> str:
        return str(self.payload.get("text", ""))

    @property
    def visible_text(self) -> str:
        """What a person sees: the blocks if any, else the fallback text, unescaped."""
        blocks = self.payload.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        parts = []
        for block in blocks or []:
            if isinstance(block.get("text"), dict):
                parts.append(block["text"]["text"])
            elif block.get("type") == "context":
                parts.append(" ".join(e.get("text", "") for e in block.get("elements", [])))
            elif block.get("type") == "actions":
                parts.append("  ".join(f"[ {e['text']['text']} ]" for e in block.get("elements", [])))
        return unescape("\n".join(parts) if parts else self.text)


@dataclass
class _Failure:
    method: str
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    times: int


class SlackEmulator:
    def __init__(self, on_call: Callable[[SlackCall], None] | None = None) -> None:
        self.calls: list[SlackCall] = []
        # The channel as it now reads: ts -> the latest payload posted or updated at that ts.
        self.messages: dict[str, dict[str, Any]] = {}
        self.uploaded: dict[str, bytes] = {}
        self.not_member_of: set[str] = set()
        self._failures: list[_Failure] = []
        self.on_call = on_call
        self._ts = itertools.count(1)
        self._changed = threading.Condition()

    def fail_next(self, method: str, status: int = 500, *, error: str = "internal_error",
                  headers: dict[str, str] | None = None, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with `status` (a 200 with ok=false when status is 200)."""
        self._failures.append(_Failure(method, status, {"ok": False, "error": error}, headers or {}, times))

    def wait_for(self, predicate: Callable[[list[SlackCall]], bool], timeout_s: float = 10.0) -> list[SlackCall]:
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not predicate(self.calls):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"Slack did not see the expected calls; it saw {self.calls!r}")
                self._changed.wait(remaining)
        return list(self.calls)

    def _record(self, call: SlackCall) -> None:
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()
        if self.on_call:
            self.on_call(call)

    def _injected_failure(self, method: str) -> _Failure | None:
        for failure in self._failures:
            if failure.method == method and failure.times > 0:
                failure.times -= 1
                return failure
        return None

    def asgi_app(self) -> Starlette:
        async def web_api(request: Request) -> Response:
            method = request.path_params["method"]
            if not request.headers.get("authorization", "").startswith("Bearer xox"):
                return JSONResponse({"ok": False, "error": "not_authed"})
            raw = await request.body()
            if request.headers.get("content-type", "").startswith("application/json"):
                payload = json.loads(raw or b"{}")
            else:
                payload = dict(urllib.parse.parse_qsl(raw.decode()))
            failure = self._injected_failure(method)
            if failure:
                return JSONResponse(failure.body, status_code=failure.status, headers=failure.headers)
            if payload.get("channel") in self.not_member_of:
                return JSONResponse({"ok": False, "error": "not_in_channel"})
            payload.update({k: v for k, v in request.query_params.items() if k not in payload})
            answer: dict[str, Any] = {"ok": True}
            if method == "chat.postMessage":
                answer["ts"] = f"{int(time.time())}.{next(self._ts):06d}"
                payload["ts"] = answer["ts"]
                self.messages[answer["ts"]] = payload
            elif method == "chat.update":
                if payload.get("ts") not in self.messages:
                    return JSONResponse({"ok": False, "error": "message_not_found"})
                answer["ts"] = payload["ts"]
                self.messages[payload["ts"]] = {**self.messages[payload["ts"]], **payload}
            elif method == "files.getUploadURLExternal":
                file_id = f"F{next(self._ts):08d}"
                answer.update(file_id=file_id, upload_url=f"{str(request.base_url).rstrip('/')}/upload/{file_id}")
            elif method == "files.completeUploadExternal":
                files = json.loads(payload["files"]) if isinstance(payload.get("files"), str) else payload["files"]
                payload["files"] = files
                answer["files"] = [{"id": f["id"], "title": f.get("title"),
                                    "permalink": f"https://acme.slack.example/files/{f['id']}"} for f in files]
            answer.setdefault("channel", payload.get("channel") or payload.get("channel_id"))
            self._record(SlackCall(method, payload))
            return JSONResponse(answer)

        async def upload(request: Request) -> Response:
            self.uploaded[request.path_params["file_id"]] = await request.body()
            return Response("OK")

        async def response_url(request: Request) -> Response:
            failure = self._injected_failure("response_url")
            if failure:
                return Response(failure.body["error"], status_code=failure.status, headers=failure.headers)
            payload = json.loads(await request.body() or b"{}")
            payload["channel"] = request.path_params["channel"]
            self._record(SlackCall("response_url", payload))
            return Response("ok")

        return Starlette(routes=[
            Route("/api/{method}", web_api, methods=["POST"]),
            Route("/upload/{file_id}", upload, methods=["POST"]),
            Route("/response/{channel}/{request}", response_url, methods=["POST"]),
        ])


class SlackRequestSigner:
    """Builds the requests Slack would send to /slack/events, signed with `signing_secret`."""

    def __init__(self, signing_secret: str, response_base_url: str, team_id: str = "T0ACME") -> None:
        self._verifier = SignatureVerifier(signing_secret)
        self._response_base_url = response_base_url.rstrip("/")
        self.team_id = team_id
        self._ids = itertools.count(1)

    def signed(self, body: str, *, timestamp: int | None = None, content_type: str) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        return {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": self._verifier.generate_signature(timestamp=stamp, body=body) or "",
        }

    def slash_command(self, text: str, *, channel: str, user: str, timestamp: int | None = None,
                      command: str = "/acme") -> tuple[str, dict[str, str]]:
        n = next(self._ids)
        body = urllib.parse.urlencode({
            "token": "deprecated-verification-token", "team_id": self.team_id, "team_domain": "acme",
            "channel_id": channel, "channel_name": "demo", "user_id": user, "user_name": "you",
            "command": command, "text": text, "api_app_id": "A0ACME",
            "response_url": f"{self._response_base_url}/response/{channel}/{n}",
            "trigger_id": f"trigger.{n}",
        })
        return body, self.signed(body, timestamp=timestamp, content_type="application/x-www-form-urlencoded")

    def app_mention(self, text: str, *, channel: str, user: str, bot_user: str = "U0ACMEBOT",
                    event_id: str | None = None, thread_ts: str | None = None,
                    timestamp: int | None = None) -> tuple[str, dict[str, str]]:
        n = next(self._ids)
        ts = f"{int(time.time())}.{n:06d}"
        event: dict[str, Any] = {"type": "app_mention", "user": user, "text": f"<@{bot_user}> {text}",
                                 "ts": ts, "channel": channel, "event_ts": ts}
        if thread_ts:
            event["thread_ts"] = thread_ts
        body = json.dumps({
            "token": "deprecated-verification-token", "team_id": self.team_id, "api_app_id": "A0ACME",
            "event": event, "type": "event_callback", "event_id": event_id or f"Ev{n:08d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": self.team_id, "user_id": bot_user, "is_bot": True}],
        })
        return body, self.signed(body, timestamp=timestamp, content_type="application/json")

    def block_action(self, action_id: str, *, channel: str, user: str, message: dict[str, Any],
                     value: str = "", timestamp: int | None = None) -> tuple[str, dict[str, str]]:
        """A click on a button of `message` (as the Slack emulator stored it), as Slack posts it."""
        n = next(self._ids)
        payload = {
            "type": "block_actions", "team": {"id": self.team_id}, "user": {"id": user, "name": "you"},
            "api_app_id": "A0ACME", "token": "deprecated-verification-token", "trigger_id": f"trigger.{n}",
            "container": {"type": "message", "message_ts": message.get("ts"), "channel_id": channel},
            "channel": {"id": channel, "name": "demo"}, "message": message,
            "response_url": f"{self._response_base_url}/response/{channel}/{n}",
            "actions": [{"action_id": action_id, "block_id": "notification_actions", "value": value,
                         "type": "button", "action_ts": f"{int(time.time())}.{n:06d}"}],
        }
        body = urllib.parse.urlencode({"payload": json.dumps(payload)})
        return body, self.signed(body, timestamp=timestamp, content_type="application/x-www-form-urlencoded")
