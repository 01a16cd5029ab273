"""A Slack workspace for `acme demo` and the tests: the Slack Web API (and response_urls) on 127.0.0.1,
at the HTTP level so the product's code path is the production one. It records every call, keeps the
channel as it reads (streams and message metadata included, read back through conversations.history and
.replies), and can fail on demand (429, 5xx, not_in_channel, no streaming), also after taking the call: a
message posted and then answered with a 500, or answered too late for the caller's timeout.

What Slack sends us is built by app/slack_request_signer.py."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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
        """The message's text; for a stream's calls, the markdown they add."""
        if "text" in self.payload or self.method not in STREAM_METHODS:
            return str(self.payload.get("text", ""))
        return streamed_text(self.payload)

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
            elif block.get("type") == "context_actions":
                parts.append("  ".join(f"[ {e[side]['text']['text']} ]" for e in block.get("elements", [])
                                       for side in ("positive_button", "negative_button") if side in e))
        return unescape("\n".join(parts) if parts else self.text)


STREAM_METHODS = ("chat.startStream", "chat.appendStream", "chat.stopStream")


def _chunks(payload: dict[str, Any]) -> list[dict[str, Any]]:
    chunks = payload.get("chunks") or []
    return json.loads(chunks) if isinstance(chunks, str) else list(chunks)


def streamed_text(payload: dict[str, Any]) -> str:
    parts = [str(payload.get("markdown_text") or "")]
    parts += [str(c.get("text", "")) for c in _chunks(payload) if c.get("type") == "markdown_text"]
    return "".join(parts)


@dataclass
class _Failure:
    method: str
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    times: int
    # Taken (the message posted) before the failure is answered: the caller cannot know it went through.
    accepted: bool = False
    delay_s: float = 0.0
    channel: str | None = None  # only calls to this channel, when set


class SlackEmulator:
    def __init__(self, on_call: Callable[[SlackCall], None] | None = None) -> None:
        self.calls: list[SlackCall] = []
        # The channel as it now reads: ts -> the latest payload posted or updated at that ts.
        self.messages: dict[str, dict[str, Any]] = {}
        self.uploaded: dict[str, bytes] = {}
        self.file_names: dict[str, str] = {}  # file id -> the name it was uploaded under
        self.not_member_of: set[str] = set()
        # Conversations whose history the bot may not read (a scope it lacks): conversations.* answer missing_scope.
        self.not_readable: set[str] = set()
        # Streams: refused outright when False (as where Slack does not allow them), and stop taking appends
        # after `stream_ttl_s` (Slack's is a few minutes).
        self.streaming = True
        self.stream_ttl_s = 300.0
        self._streams: dict[str, float] = {}
        self._failures: list[_Failure] = []
        self.on_call = on_call
        self._ts = itertools.count(1)
        self._changed = threading.Condition()

    def fail_next(self, method: str, status: int = 500, *, error: str = "internal_error",
                  headers: dict[str, str] | None = None, times: int = 1, accepted: bool = False,
                  delay_s: float = 0.0, channel: str | None = None) -> None:
        """Answer the next `times` calls of `method` with `status` (a 200 with ok=false when status is 200).

        `accepted`: the call is carried out first (the message is in the channel), then the failure answered.
        `delay_s`: the answer comes that late (past the caller's timeout, it never reads it). `channel`: only
        calls to that channel fail."""
        self._failures.append(_Failure(method, status, {"ok": False, "error": error}, headers or {}, times,
                                       accepted, delay_s, channel))

    def stop_failing(self) -> None:
        """Slack is back: every failure still to come is forgotten."""
        self._failures.clear()

    def in_conversation(self, channel: str, thread_ts: str | None = None) -> list[dict[str, Any]]:
        """The messages of a channel (top level) or of a thread (its parent and replies), oldest first."""
        found = [m for ts, m in sorted(self.messages.items(), key=lambda item: float(item[0]))
                 if m.get("channel") == channel]
        if thread_ts is None:
            return [m for m in found if not m.get("thread_ts") or m.get("thread_ts") == m.get("ts")]
        return [m for m in found if m.get("ts") == thread_ts or m.get("thread_ts") == thread_ts]

    def _read_conversation(self, method: str, payload: dict[str, Any], answer: dict[str, Any]) -> str | None:
        """conversations.history (newest first) or conversations.replies (oldest first), as Slack answers them."""
        channel = str(payload.get("channel", ""))
        if channel in self.not_readable:
            return "missing_scope"
        replies = method == "conversations.replies"
        messages = self.in_conversation(channel, str(payload["ts"]) if replies else None)
        if replies and not messages:
            return "thread_not_found"
        oldest = float(payload.get("oldest") or 0)
        with_metadata = str(payload.get("include_all_metadata", "")).lower() in ("1", "true")
        shown = [{k: v for k, v in m.items() if k != "metadata" or with_metadata} for m in messages
                 if float(m["ts"]) > oldest or (replies and m["ts"] == payload["ts"])]
        limit = int(payload.get("limit") or 100)
        answer["messages"] = (shown if replies else shown[::-1])[:limit]
        answer["has_more"] = len(shown) > limit
        return None

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

    def _injected_failure(self, method: str, channel: object = None) -> _Failure | None:
        for failure in self._failures:
            if failure.method == method and failure.times > 0 and failure.channel in (None, channel):
                failure.times -= 1
                return failure
        return None

    def _stream(self, method: str, payload: dict[str, Any], answer: dict[str, Any]) -> str | None:
        """A stream's call, as Slack answers it; the error code when it refuses."""
        if method == "chat.startStream":
            if not self.streaming:
                return "feature_not_enabled"
            if str(payload.get("channel", "")).startswith(("C", "G")) and not payload.get("recipient_user_id"):
                return "missing_recipient_user_id"
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            answer["ts"] = payload["ts"] = ts
            self._streams[ts] = time.monotonic()
            self.messages[ts] = {**payload, "text": streamed_text(payload)}
            return None
        ts = str(payload.get("ts", ""))
        started = self._streams.get(ts)
        if started is None or time.monotonic() - started > self.stream_ttl_s:
            return "message_not_in_streaming_state"
        answer["ts"] = ts
        message = self.messages[ts]
        message["text"] = str(message.get("text", "")) + streamed_text(payload)
        if method == "chat.stopStream":
            del self._streams[ts]
            if payload.get("blocks"):
                message["blocks"] = payload["blocks"]
        return None

    def _carry_out(self, method: str, payload: dict[str, Any], answer: dict[str, Any],
                   base_url: str) -> Response | None:
        """Do what the call asks, filling `answer`; a refusal is answered at once (the response returned)."""
        if method == "chat.postMessage":
            answer["ts"] = f"{int(time.time())}.{next(self._ts):06d}"
            payload["ts"] = answer["ts"]
            self.messages[answer["ts"]] = payload
        elif method == "chat.update":
            if payload.get("ts") not in self.messages:
                return JSONResponse({"ok": False, "error": "message_not_found"})
            answer["ts"] = payload["ts"]
            self.messages[payload["ts"]] = {**self.messages[payload["ts"]], **payload}
        elif method in ("conversations.history", "conversations.replies"):
            refused = self._read_conversation(method, payload, answer)
            if refused:
                return JSONResponse({"ok": False, "error": refused})
        elif method in STREAM_METHODS:
            refused = self._stream(method, payload, answer)
            if refused:
                return JSONResponse({"ok": False, "error": refused})
        elif method == "files.getUploadURLExternal":
            file_id = f"F{next(self._ts):08d}"
            self.file_names[file_id] = str(payload.get("filename") or file_id)
            answer.update(file_id=file_id, upload_url=f"{base_url.rstrip('/')}/upload/{file_id}")
        elif method == "files.completeUploadExternal":
            files = json.loads(payload["files"]) if isinstance(payload.get("files"), str) else payload["files"]
            payload["files"] = files
            answer["files"] = [{"id": f["id"], "title": f.get("title"),
                                "permalink": f"https://acme.slack.example/files/{f['id']}"} for f in files]
        answer.setdefault("channel", payload.get("channel") or payload.get("channel_id"))
        self._record(SlackCall(method, payload))
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
            payload.update({k: v for k, v in request.query_params.items() if k not in payload})
            failure = self._injected_failure(method, payload.get("channel"))
            if failure and not failure.accepted:
                await asyncio.sleep(failure.delay_s)
                return JSONResponse(failure.body, status_code=failure.status, headers=failure.headers)
            if payload.get("channel") in self.not_member_of:
                return JSONResponse({"ok": False, "error": "not_in_channel"})
            answer: dict[str, Any] = {"ok": True}
            answered = self._carry_out(method, payload, answer, str(request.base_url))
            if answered is not None:
                return answered
            if failure:
                await asyncio.sleep(failure.delay_s)
                return JSONResponse(failure.body, status_code=failure.status, headers=failure.headers)
            return JSONResponse(answer)

        async def upload(request: Request) -> Response:
            self.uploaded[request.path_params["file_id"]] = await request.body()
            return Response("OK")

        async def response_url(request: Request) -> Response:
            failure = self._injected_failure("response_url", request.path_params["channel"])
            if failure and not failure.accepted:
                await asyncio.sleep(failure.delay_s)
                return Response(failure.body["error"], status_code=failure.status, headers=failure.headers)
            payload = json.loads(await request.body() or b"{}")
            payload["channel"] = request.path_params["channel"]
            self._record(SlackCall("response_url", payload))
            if failure:
                await asyncio.sleep(failure.delay_s)
                return Response(failure.body["error"], status_code=failure.status, headers=failure.headers)
            return Response("ok")

        return Starlette(routes=[
            # slack-sdk reads (conversations.history, .replies) with GET and query parameters.
            Route("/api/{method}", web_api, methods=["GET", "POST"]),
            Route("/upload/{file_id}", upload, methods=["POST"]),
            Route("/response/{channel}/{request}", response_url, methods=["POST"]),
        ])
