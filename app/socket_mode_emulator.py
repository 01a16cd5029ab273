"""Slack's side of Socket Mode on 127.0.0.1, for `acme demo`, the tests and the benchmark.

`apps.connections.open` (a Web API route, mounted beside the Slack emulator's) hands out a
single-use `ws://` URL with a ticket; the WebSocket server behind it greets each connection with
`hello`, delivers envelopes as Slack does (`envelope_id`, `type`, `payload`,
`accepts_response_payload`, and for events `retry_attempt`/`retry_reason`), records every ack
with the time the envelope went out and the time its ack came back, and can drop a connection
(no close frame, as a network failure does) or ask the app to reconnect (`disconnect`).

The WebSocket server runs its own event loop in a thread; every method here is safe to call
from any other thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request as HandshakeRequest
from websockets.http11 import Response as HandshakeResponse

from app.logs import mask_records_of

ENVELOPE_TYPES = ("slash_commands", "events_api", "interactive")


@dataclass(frozen=True)
class Ack:
    envelope_id: str
    type: str
    payload: dict[str, Any] | None
    sent_at: float  # time.monotonic() when the envelope went out
    acked_at: float  # ... and when its ack came back

    @property
    def latency_s(self) -> float:
        return self.acked_at - self.sent_at


def envelope_of_http_request(body: str, content_type: str) -> tuple[str, dict[str, Any]]:
    """The (type, payload) Slack sends over Socket Mode for what it would POST to a Request URL."""
    if content_type.startswith("application/json"):
        return "events_api", json.loads(body)
    form = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
    if "payload" in form:
        return "interactive", json.loads(form["payload"])
    return "slash_commands", form


def _envelope(envelope_type: str, payload: dict[str, Any], retry_attempt: int = 0,
              retry_reason: str = "") -> tuple[str, str]:
    """A new envelope id, and the envelope as Slack sends it."""
    if envelope_type not in ENVELOPE_TYPES:
        raise ValueError(f"envelope type must be one of {ENVELOPE_TYPES}")
    envelope_id = str(uuid.uuid4())
    envelope: dict[str, Any] = {"envelope_id": envelope_id, "payload": payload, "type": envelope_type,
                                # Only a slash command's ack can carry the answer (the ephemeral text).
                                "accepts_response_payload": envelope_type == "slash_commands"}
    if envelope_type == "events_api":
        envelope.update(retry_attempt=retry_attempt, retry_reason=retry_reason)
    return envelope_id, json.dumps(envelope)


class SocketModeEmulator:
    def __init__(self, app_id: str = "A0ACME") -> None:
        self.app_id = app_id
        self.acks: list[Ack] = []
        self._acks_by_id: dict[str, Ack] = {}
        self.connections_opened = 0  # answered apps.connections.open calls
        self.connections_refused = 0
        # Set to an error code ("invalid_auth", "internal_error") to refuse apps.connections.open with it.
        self.refuse_with: str | None = None
        self.greeted = 0  # WebSocket connections that got their `hello`
        self.tickets_issued: list[str] = []  # secrets: a test checks that none reaches a log
        # How each connection ended: 1000 when the app closed it cleanly, 1006 when the TCP connection just ended.
        self.close_codes: list[int | None] = []
        self._tickets: set[str] = set()
        self._sent: dict[str, tuple[str, float]] = {}
        self._live: list[ServerConnection] = []
        self._changed = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="socket-mode-emulator", daemon=True)
        self._server: Server | None = None
        self.port = 0

    # --- lifetime ------------------------------------------------------------------------------------

    def start(self) -> SocketModeEmulator:
        self._thread.start()
        self._server = self._run(self._serve())
        self.port = self._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def _serve(self) -> Server:
        # At DEBUG, websockets logs each handshake's request line: its ticket is as secret here as at Slack.
        mask_records_of(logging.getLogger("websockets.server"))
        # No compression: Slack's own clients (slack-sdk's built-in one) do not ask for it either.
        return await serve(self._connection, "127.0.0.1", 0, process_request=self._check_ticket,
                           compression=None, ping_interval=None)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        if self._server is not None:
            self._server.close()
            self._run(self._server.wait_closed())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def _run(self, coroutine: Any, timeout_s: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout_s)

    # --- the Web API half: apps.connections.open ------------------------------------------------------

    def web_api_routes(self) -> list[Route]:
        """`POST /api/apps.connections.open`: put these before the Slack emulator's own routes."""

        async def connections_open(request: Request) -> Response:
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            if not token.startswith("xapp-"):
                # What Slack answers a bot token, or none, on this method.
                return JSONResponse({"ok": False, "error": "not_allowed_token_type" if token else "not_authed"})
            if self.refuse_with:
                with self._changed:
                    self.connections_refused += 1
                    self._changed.notify_all()
                return JSONResponse({"ok": False, "error": self.refuse_with})
            ticket = str(uuid.uuid4())
            with self._changed:
                self._tickets.add(ticket)
                self.tickets_issued.append(ticket)
                self.connections_opened += 1
            return JSONResponse({"ok": True, "url": f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}"
                                                    f"&app_id={secrets.token_hex(32)}"})

        return [Route("/api/apps.connections.open", connections_open, methods=["POST"])]

    # --- the WebSocket half ---------------------------------------------------------------------------

    def _check_ticket(self, connection: ServerConnection, request: HandshakeRequest) -> HandshakeResponse | None:
        ticket = urllib.parse.parse_qs(urllib.parse.urlsplit(request.path).query).get("ticket", [""])[0]
        with self._changed:
            if ticket in self._tickets:
                self._tickets.discard(ticket)  # a ticket opens one connection, once
                return None
        return HandshakeResponse(401, "Unauthorized", Headers(), b"invalid or used ticket\n")

    async def _connection(self, connection: ServerConnection) -> None:
        await connection.send(json.dumps({
            "type": "hello", "num_connections": len(self._live) + 1,
            "debug_info": {"host": "applink-emulator", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        }))
        with self._changed:
            self._live.append(connection)
            self.greeted += 1
            self._changed.notify_all()
        try:
            async for message in connection:
                self._record_ack(message)
        except ConnectionClosed:
            pass
        finally:
            with self._changed:
                if connection in self._live:
                    self._live.remove(connection)
                self.close_codes.append(connection.close_code)
                self._changed.notify_all()

    def _record_ack(self, message: str | bytes) -> None:
        acked_at = time.monotonic()
        try:
            answer = json.loads(message)
        except ValueError:
            return
        envelope_id = str(answer.get("envelope_id", "")) if isinstance(answer, dict) else ""
        with self._changed:
            sent = self._sent.pop(envelope_id, None)
            if sent is None:
                return  # not an envelope we sent, or acked twice: Slack ignores those as well
            ack = Ack(envelope_id, sent[0], answer.get("payload"), sent[1], acked_at)
            self.acks.append(ack)
            self._acks_by_id[envelope_id] = ack
            self._changed.notify_all()

    # --- what a test or the demo does -------------------------------------------------------------------

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 10.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"Socket Mode: waited {timeout_s} s for {what or predicate}")
                self._changed.wait(remaining)

    def wait_connected(self, greeted: int = 1, timeout_s: float = 10.0) -> None:
        """Until `greeted` connections in all have had their `hello` and one of them is open."""
        self.wait_for(lambda: self.greeted >= greeted and bool(self._live), timeout_s,
                      f"{greeted} connection(s) to be greeted")

    @property
    def open_connections(self) -> int:
        with self._changed:
            return len(self._live)

    def deliver(self, envelope_type: str, payload: dict[str, Any], *, retry_attempt: int = 0,
                retry_reason: str = "", timeout_s: float = 10.0) -> str:
        """Send one envelope on the newest open connection (waiting for one), as Slack does; its envelope id."""
        envelope_id, text = _envelope(envelope_type, payload, retry_attempt, retry_reason)
        self.wait_for(lambda: bool(self._live), timeout_s, "an open connection to deliver on")
        self._run(self._send(envelope_id, envelope_type, text), timeout_s)
        return envelope_id

    def deliver_on_schedule(self, schedule: list[tuple[float, str, dict[str, Any]]]) -> list[str]:
        """Send (time.monotonic() time, type, payload) envelopes each at its time, from the server's own loop
        (an open-loop load, with no hand-off between threads per envelope); their envelope ids."""
        envelopes = [(at, kind, *_envelope(kind, payload)) for at, kind, payload in schedule]

        async def send_all() -> None:
            for at, kind, envelope_id, text in envelopes:
                await asyncio.sleep(max(0.0, at - time.monotonic()))
                await self._send(envelope_id, kind, text)

        self.wait_for(lambda: bool(self._live), 10.0, "an open connection to deliver on")
        self._run(send_all(), timeout_s=max((at for at, *_ in schedule), default=0) - time.monotonic() + 30)
        return [envelope_id for _, _, envelope_id, _ in envelopes]

    def deliver_http_request(self, body: str, headers: dict[str, str], **kwargs: Any) -> str:
        """Deliver over the socket what Slack would have POSTed to /slack/events (as the request signer builds it)."""
        envelope_type, payload = envelope_of_http_request(body, headers.get("Content-Type", ""))
        return self.deliver(envelope_type, payload, **kwargs)

    def send_text(self, text: str, envelope: tuple[str, str] | None = None, timeout_s: float = 10.0) -> None:
        """A text frame as given (what Slack would never send), on the newest open connection; with
        `envelope` (its id and type), an ack of it is recorded as any envelope's."""
        self.wait_for(lambda: bool(self._live), timeout_s, "an open connection to send on")
        if envelope is None:
            self._run(self._live[-1].send(text), timeout_s)
        else:
            self._run(self._send(*envelope, text), timeout_s)

    async def _send(self, envelope_id: str, envelope_type: str, text: str) -> None:
        connection = self._live[-1]
        with self._changed:
            self._sent[envelope_id] = (envelope_type, time.monotonic())
        await connection.send(text)

    def wait_for_ack(self, envelope_id: str, timeout_s: float = 5.0) -> Ack:
        self.wait_for(lambda: envelope_id in self._acks_by_id, timeout_s, f"the ack of envelope {envelope_id}")
        with self._changed:
            return self._acks_by_id[envelope_id]

    def ack_of(self, envelope_id: str) -> Ack | None:
        with self._changed:
            return self._acks_by_id.get(envelope_id)

    def drop(self) -> None:
        """Cut every open connection as a network failure does: no close frame, the TCP connection just ends."""
        async def cut() -> None:
            for connection in list(self._live):
                connection.transport.abort()

        self._run(cut())

    def ask_to_reconnect(self, reason: str = "refresh_requested") -> None:
        """Send `disconnect` on every open connection, as Slack does before it recycles one."""
        message = json.dumps({"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-emulator"}})

        async def send() -> None:
            for connection in list(self._live):
                await connection.send(message)

        self._run(send())
