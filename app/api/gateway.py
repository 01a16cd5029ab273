"""The REST API's gateway, as plain ASGI middleware: keys, rate limits, idempotency.

Their Redis calls block, so they run in threads of the gateway's own (capped) pool: a hung Redis
holds those threads, not the event loop, and not the threads Slack's acks run in.

Only API paths (`/v1/...` and their unversioned twins) pass the key, rate and idempotency
checks; Slack's and the CRM's endpoints have signatures of their own, and health and
metrics are open.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs

import anyio
import anyio.to_thread
import redis
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.backend import REQUEST_KEY
from app.api.errors import error_response
from app.integrations.pacing import RateGate
from app.runs.control import REQUEST_KEYS_KEPT_S

log = logging.getLogger(__name__)
T = TypeVar("T")
UNVERSIONED = ("/workflows", "/runs", "/agents", "/tasks", "/tools", "/ws")
IDEMPOTENCY_TTL_S = REQUEST_KEYS_KEPT_S
IN_PROGRESS_TTL_S = 60
# Threads for each middleware's Redis calls (of its own, so that a hung Redis cannot take Slack's).
GATEWAY_THREADS = 16
# What a 503 for want of Redis tells the client to wait before it tries again (seconds).
REDIS_RETRY_AFTER_S = "5"


async def off_the_loop(threads: anyio.CapacityLimiter, func: Callable[..., T], *args: object) -> T:
    return await anyio.to_thread.run_sync(func, *args, limiter=threads)


def is_api_path(path: str) -> bool:
    return path == "/v1" or path.startswith("/v1/") or any(path == p or path.startswith(p + "/") for p in UNVERSIONED)


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


async def _send_error(scope: Scope, send: Send, receive: Receive, status: int, message: str,
                      headers: dict[str, str] | None = None, code: str | None = None) -> None:
    if scope["type"] == "websocket":
        if status in (429, 503):
            # Not the client's fault: opened, then closed as "try again later" (1013) with the reason, so that it
            # can tell this from a refused key (a browser sees a refused handshake only as a failure).
            if (await receive())["type"] == "websocket.connect":
                await send({"type": "websocket.accept"})
                await send({"type": "websocket.close", "code": 1013, "reason": message[:120]})
            return
        # Refused at the handshake: the client sees HTTP 403 and no socket opens.
        await send({"type": "websocket.close", "code": 4000 + status, "reason": message[:120]})
        return
    await error_response(status, message, headers=headers, code=code)(scope, receive, send)


def _not_json(scope: Scope) -> str | None:
    """The media type of a request body the API cannot read (a form, text, none given), or None."""
    if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
        return None
    if header(scope, b"content-length") in ("0", None) and header(scope, b"transfer-encoding") is None:
        return None
    media_type = (header(scope, b"content-type") or "").split(";", 1)[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        return None
    return media_type or "a body with no Content-Type"


class ApiGate:
    """API keys (constant-time), then a per-key rate limit shared by every server process through Redis."""

    def __init__(self, app: ASGIApp, keys: list[str], rate_per_s: float, connection: redis.Redis) -> None:
        self.app = app
        self.keys = [k.encode() for k in keys]
        # A second's worth of requests may come at once; past that, they are spaced at the rate.
        self._gate = RateGate(connection, 1 / rate_per_s, max(1, math.ceil(rate_per_s)))
        self._threads = anyio.CapacityLimiter(GATEWAY_THREADS)
        self._redis_down = False

    def _caller(self, scope: Scope) -> str | None:
        """A stable name for the caller: a hash of its key, or its address when the API is open."""
        if not self.keys:
            client = scope.get("client")
            return f"addr:{client[0] if client else 'unknown'}"
        given = ""
        authorization = header(scope, b"authorization") or ""
        if authorization.lower().startswith("bearer "):
            given = authorization[7:].strip()
        elif scope["type"] == "websocket":
            # Browsers cannot set headers on a WebSocket, so the key may come as ?api_key=.
            query = parse_qs(scope.get("query_string", b"").decode())
            given = (query.get("api_key") or [""])[0]
        matched = False
        for key in self.keys:
            matched |= hmac.compare_digest(key, given.encode())
        return f"key:{hashlib.sha256(given.encode()).hexdigest()[:16]}" if matched else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not is_api_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            # No id, name or filter holds a NUL; PostgreSQL would refuse it deep in a query, as a 500.
            await _send_error(scope, send, receive, 400, "the path or query holds a NUL (%00) character")
            return
        caller = self._caller(scope)
        if caller is None:
            await _send_error(scope, send, receive, 401, "a valid API key is required: Authorization: Bearer KEY",
                              headers={"WWW-Authenticate": "Bearer"})
            return
        try:
            wait_s = await off_the_loop(self._threads, self._gate.try_take, f"acme:rate:{caller}")
        except redis.RedisError as exc:
            # Open, as the channels' pacing is: what needs only the database (reading runs, workflows) is still
            # served, and what needs Redis says so itself (a 503 with Retry-After). Said once an outage, not once
            # a request (a client retrying would fill the log).
            log.log(logging.DEBUG if self._redis_down else logging.ERROR,
                    "rate limiter unavailable: API requests are served without a rate limit until Redis answers: %s",
                    exc)
            self._redis_down = True
            wait_s = 0
        else:
            if self._redis_down:
                self._redis_down = False
                log.info("rate limiter available again: API requests are rate limited again")
        if wait_s > 0:
            retry_after = str(max(1, math.ceil(wait_s)))
            await _send_error(scope, send, receive, 429, "too many requests for this key",
                              headers={"Retry-After": retry_after}, code="rate_limited")
            return
        scope.setdefault("state", {})["caller"] = caller
        refused_type = _not_json(scope)
        if refused_type:
            await _send_error(scope, send, receive, 415, f"the body must be JSON (Content-Type: application/json), "
                                                          f"not {refused_type[:100]}")
            return
        await self.app(scope, receive, send)


def _canonical(body: bytes) -> bytes:
    """The same JSON however it is spaced or its keys ordered (a client that re-serialises on retry); other bytes
    as they are."""
    try:
        return json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, RecursionError):
        return body


class Idempotency:
    """`Idempotency-Key` on a POST: the same key and body answer the first answer again for 24 h."""

    def __init__(self, app: ASGIApp, connection: redis.Redis) -> None:
        self.app = app
        self.redis = connection
        self._threads = anyio.CapacityLimiter(GATEWAY_THREADS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = header(scope, b"idempotency-key") if scope["type"] == "http" else None
        if key is None or scope["method"] != "POST" or not is_api_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        if not 1 <= len(key) <= 200:
            await _send_error(scope, send, receive, 400, "Idempotency-Key must be 1 to 200 characters")
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        fingerprint = hashlib.sha256(scope["path"].encode() + b"\n" + _canonical(body)).hexdigest()
        caller = scope.get("state", {}).get("caller", "anonymous")
        record_key = f"acme:idem:{caller}:{hashlib.sha256(key.encode()).hexdigest()}"
        try:
            record = await off_the_loop(self._threads, self._claim, record_key, fingerprint)
        except redis.RedisError:
            await _send_error(scope, send, receive, 503, "idempotency records (Redis) are unavailable; try again later",
                              headers={"Retry-After": REDIS_RETRY_AFTER_S})
            return
        if record is not None:
            await self._replay(scope, receive, send, record, fingerprint)
            return
        # A route that starts a run keeps this with it: if this process dies before the answer is remembered,
        # the request again, once the claim lapses, finds that run rather than starting another.
        scope.setdefault("state", {})[REQUEST_KEY] = hashlib.sha256(f"{record_key}\n{fingerprint}".encode()).hexdigest()
        replayed = False

        async def replay_body() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        answer: dict[str, Any] = {"status": 500, "headers": [], "body": b""}
        remembered = False

        async def capture(message: Message) -> None:
            nonlocal remembered
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                answer["headers"] = [(k.decode(), v.decode()) for k, v in message.get("headers", [])
                                     if k.lower() in (b"content-type", b"location")]
            elif message["type"] == "http.response.body":
                answer["body"] += message.get("body", b"")
                if not message.get("more_body", False):
                    # Remembered before the answer's end goes out: a caller that has the answer and asks again
                    # at once is answered the same, not "still in progress".
                    remembered = True
                    await off_the_loop(self._threads, self._remember, record_key, fingerprint, answer)
            await send(message)

        try:
            await self.app(scope, replay_body, capture)
        finally:
            if not remembered:
                await off_the_loop(self._threads, self._remember, record_key, fingerprint, answer)

    def _claim(self, record_key: str, fingerprint: str) -> dict[str, Any] | None:
        """None when this request is the key's first; else the record the first one left."""
        claimed = self.redis.set(record_key, json.dumps({"state": "in_progress", "fingerprint": fingerprint}),
                                 nx=True, ex=IN_PROGRESS_TTL_S)
        return None if claimed else json.loads(self.redis.get(record_key) or "null")

    def _remember(self, record_key: str, fingerprint: str, answer: dict[str, Any]) -> None:
        try:
            if answer["status"] >= 400:
                # Nothing was done (a refusal, or a failure): not an answer to remember, so that the caller may
                # try again with the same key, the request mended.
                self.redis.delete(record_key)
            else:
                self.redis.set(record_key, json.dumps({
                    "state": "done", "fingerprint": fingerprint, "status": answer["status"],
                    "headers": answer["headers"], "body": answer["body"].decode("utf-8", "replace")}),
                    ex=IDEMPOTENCY_TTL_S)
        except redis.RedisError as exc:
            # The answer went out; a retry with this key meets "in progress" until the claim lapses (60 s).
            log.warning("could not record the answer for an Idempotency-Key: %s", exc)

    async def _replay(self, scope: Scope, receive: Receive, send: Send, record: dict[str, Any],
                      fingerprint: str) -> None:
        if record.get("fingerprint") != fingerprint:
            await _send_error(scope, send, receive, 422, "this Idempotency-Key was used with another request",
                              code="idempotency_key_reused")
            return
        if record.get("state") != "done":
            await _send_error(scope, send, receive, 409, "a request with this Idempotency-Key is still in progress",
                              headers={"Retry-After": "1"})
            return
        headers = [(k.encode(), v.encode()) for k, v in record["headers"]] + [(b"idempotent-replayed", b"true")]
        body = record["body"].encode()
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": record["status"], "headers": headers})
        await send({"type": "http.response.body", "body": body})
