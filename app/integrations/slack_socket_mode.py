"""Slack over Socket Mode: `apps.connections.open`, then the WebSocket URL it returns, kept open.

slack-sdk's asyncio client (`slack_sdk.socket_mode.websockets`) speaks the protocol. Of slack-sdk's
four clients it acks as fast as any (one event loop: no hand-offs between threads before the
listener runs), opens the new connection before closing the old one when Slack sends `disconnect`,
pings with a timeout (a half-open connection is noticed), and closes at once, with a close frame.
What it lacks, added here: a connection that ends without `disconnect` (dropped, or closed by
Slack) is replaced as soon as it ends, where the client's own monitor looks only every ping
interval; connecting again backs off while Slack cannot be reached; and its log records (and
websockets') are masked where they are made, since the URL carries a single-use ticket.

The connection runs on an event loop of its own, in a thread, beside the web server's: an
envelope's handler (Bolt, parsing and enqueueing) runs in a thread beside that loop, so that a hung
Redis delays that envelope's ack and nothing else, and its ack goes out as soon as it returns.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.socket_mode.websockets import SocketModeClient
from slack_sdk.web.async_client import AsyncWebClient
from websockets.asyncio.client import ClientConnection

from app.logs import drop_lines_saying, mask_records_of

log = logging.getLogger(__name__)
FIRST_RETRY_S = 1.0
MAX_RETRY_S = 30.0
# What the app does with one envelope: the ack to send, or None to send none (Slack delivers an event
# again, and tells the user that a command or a click failed).
EnvelopeHandler = Callable[[SocketModeRequest], SocketModeResponse | None]
# apps.connections.open's answers that no retry changes: the token (or its scopes) must be.
# As Slack's requests over HTTP (app/web/body_limit.py): Slack sends nothing larger, so a larger envelope is refused
# before any of the app reads it (the WebSocket's own cap, 1 MiB, bounds what is held meanwhile).
MAX_ENVELOPE_BYTES = 256 * 1024
TOKEN_REFUSALS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
                            "not_allowed_token_type", "missing_scope", "no_permission"})


class _Client(SocketModeClient):
    """slack-sdk's client, telling its owner of each connection it opens, and refusing a message it would fail on
    with a traceback or drops without a word (not a JSON object, an envelope whose payload is not an object)."""

    def __init__(self, *, on_connected: Callable[[ClientConnection], None], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._on_connected = on_connected
        self._tasks: set[asyncio.Future[None]] = set()

    async def connect(self) -> None:
        await super().connect()
        assert self.current_session is not None
        self._on_connected(self.current_session)

    async def process_message(self) -> None:
        raw_message = await self.message_queue.get()
        if raw_message is None:
            return
        try:
            # slack-sdk parses only text that starts with "{", and drops the rest without a word.
            message = json.loads(raw_message)
        except ValueError as exc:
            log.warning("refused a Socket Mode message that is not JSON: %s", exc)
            return
        if not isinstance(message, dict):
            log.warning("refused a Socket Mode message that is not a JSON object")
            return
        envelope_id = message.get("envelope_id")
        if len(raw_message) > MAX_ENVELOPE_BYTES:
            log.warning("refused a %s envelope of %d bytes: more than %d KiB", message.get("type"), len(raw_message),
                        MAX_ENVELOPE_BYTES // 1024)
            if isinstance(envelope_id, str):
                # Acked: delivered again, it would be just as large.
                await self.send_socket_mode_response(SocketModeResponse(envelope_id=envelope_id))
            return
        if isinstance(envelope_id, str) and not isinstance(message.get("payload"), dict):
            # slack-sdk would raise on most such with a traceback (and take a string for `{"text": ...}`), never
            # acking it: Slack would deliver it again.
            log.warning("refused a malformed %s envelope: its payload is not an object", message.get("type"))
            await self.send_socket_mode_response(SocketModeResponse(envelope_id=envelope_id))
            return
        self._tasks.add(task := asyncio.ensure_future(self.run_message_listeners(message, raw_message)))
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        # The receiver would otherwise see our own close first and log it as an error.
        if self.message_receiver is not None:
            self.message_receiver.cancel()
        await super().close()


class SocketModeConnection:
    def __init__(self, *, app_token: str, api_url: str, handle: EnvelopeHandler, timeout_s: float = 10.0,
                 ping_interval_s: float = 10.0) -> None:
        self._app_token = app_token
        self._api_url = api_url
        self._handle = handle
        self._timeout_s = timeout_s
        self._ping_interval_s = ping_interval_s
        self._thread = threading.Thread(target=self._run, name="slack-socket-mode", daemon=True)
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._client: _Client | None = None
        self._watchers: set[asyncio.Task[None]] = set()
        mask_records_of(log)
        mask_records_of(logging.getLogger("websockets.client"))
        # slack-sdk logs its own ERROR before it raises a refusal of apps.connections.open; the attempt's own
        # line (in _connect) says it with what comes next.
        drop_lines_saying(log, "Failed to retrieve WSS URL")
        # Its ERROR for a connection that dropped: _reconnect_when_closed says it, with the close code, as a WARNING,
        # and connects again.
        drop_lines_saying(log, "Failed to receive or enqueue a message: ConnectionClosed")

    def start(self) -> SocketModeConnection:
        """Connect in the background (retrying until Slack answers); the web server need not wait."""
        self._thread.start()
        self._ready.wait(self._timeout_s)
        return self

    def stop(self) -> None:
        """Close the connection (with a close frame) and end its thread."""
        if self._loop is not None and self._stopping is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=self._timeout_s + 5)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._client = _Client(
            app_token=self._app_token,
            # Only apps.connections.open goes through it; its logger masks the URL it answers.
            web_client=AsyncWebClient(base_url=self._api_url, timeout=int(self._timeout_s), logger=log),
            logger=log,
            ping_interval=self._ping_interval_s,
            on_connected=self._watch,
        )
        self._client.socket_mode_request_listeners.append(self._on_envelope)
        self._ready.set()
        try:
            await self._connect()
            await self._stopping.wait()
        finally:
            await self._client.close()
            for watcher in self._watchers:
                watcher.cancel()
            log.info("Socket Mode connection closed")

    async def _on_envelope(self, client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        # The handler blocks (Bolt's dispatch, Redis): in a thread, the loop keeps pinging and reading.
        ack = await asyncio.to_thread(self._handle, request)
        if ack is not None:
            await client.send_socket_mode_response(ack)

    def _watch(self, session: ClientConnection) -> None:
        log.info("connected to Slack over Socket Mode")
        watcher = asyncio.ensure_future(self._reconnect_when_closed(session))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)

    async def _reconnect_when_closed(self, session: ClientConnection) -> None:
        await session.wait_closed()
        assert self._client is not None
        if self._client.closed or session is not self._client.current_session:
            return  # stopping, or replaced after Slack's `disconnect`
        log.warning("the Socket Mode connection ended (close code %s); connecting again", session.close_code)
        await self._connect()

    async def _connect(self) -> None:
        """Until connected, or stopping: the first connection, and each after one ends."""
        assert self._client is not None and self._stopping is not None
        wait_s = FIRST_RETRY_S
        while not self._stopping.is_set():
            try:
                # Does nothing when another connection came up meanwhile (the client's monitor, `disconnect`).
                await self._client.connect_to_new_endpoint()
            except SlackApiError as exc:
                error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
                if error in TOKEN_REFUSALS:
                    log.error("Slack refused SLACK_APP_TOKEN for Socket Mode (%s): it must be the app-level token "
                              "(xapp-...) of this app with the connections:write scope. Socket Mode stays off until "
                              "the token is fixed and acme serve restarted; Slack over HTTP still works.", error)
                    return
                log.warning("could not connect to Slack over Socket Mode: %s; trying again in %.0f s", error or exc,
                            wait_s)
            except Exception as exc:  # Slack unreachable, the WebSocket refused
                log.warning("could not connect to Slack over Socket Mode: %s: %s; trying again in %.0f s",
                            type(exc).__name__, exc, wait_s)
            if await self._client.is_connected():
                return
            try:
                await asyncio.wait_for(self._stopping.wait(), wait_s)
            except TimeoutError:
                wait_s = min(wait_s * 2, MAX_RETRY_S)
