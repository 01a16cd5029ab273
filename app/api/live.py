"""WebSocket /v1/ws: run and step events as they happen, from any process, relayed from Redis.

One Redis subscription per server process (LiveEvents), not one per socket: a task started with the
first socket reads the channel and hands each event to every socket that wants it, through a queue
of the socket's own. A socket that lets its queue fill up (it reads too slowly) is closed rather than
sent a stream with holes in it; its client reconnects and reads what it missed from /v1/runs. When
Redis drops the subscription, what is published until it is back is lost to it: every socket is closed
the same way (1013), and the task connects again, backing off, for the sockets that come back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketDisconnect

from app.runs.events import CHANNEL

log = logging.getLogger(__name__)
QUEUE_SIZE = 1000  # events waiting for one socket before it is closed as too slow
FIRST_BACKOFF_S, MAX_BACKOFF_S = 0.1, 5.0
SUBSCRIBE_TIMEOUT_S = 2.0
# Close codes: 1013 (try again later) for a socket whose stream has a hole (it read too slowly, or Redis dropped
# the subscription); 4429 for one over a cap, as the gateway's 4000 + HTTP status.
TOO_SLOW, TOO_MANY = 1013, 4429
INTERRUPTED = TOO_SLOW
_READ_WHAT_YOU_MISSED = "reconnect, and read what you missed from /v1/runs"


def _wanted(event: dict[str, Any], subscription: dict[str, str]) -> bool:
    return all(event.get(key) == value for key, value in subscription.items())


@dataclass(eq=False)
class _Listener:
    subscription: dict[str, str]
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    cut_off: asyncio.Event = field(default_factory=asyncio.Event)
    why: str = ""

    def cut(self, why: str) -> None:
        """Its stream has a hole from now on: the socket is closed, saying `why`."""
        if not self.cut_off.is_set():
            self.why = why
            self.cut_off.set()


class LiveEvents:
    """The process's one subscription to the run-event channel, and the sockets it feeds (one event loop's)."""

    def __init__(self, redis_url: str, max_per_caller: int, max_total: int,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._redis_url = redis_url
        self._max_per_caller = max_per_caller
        self._max_total = max_total
        self._sleep = sleep
        self._listeners: set[_Listener] = set()
        self._per_caller: Counter[str] = Counter()
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    def refusal(self, caller: str) -> str | None:
        """Why one more socket of `caller` is refused, or None."""
        if self._per_caller[caller] >= self._max_per_caller:
            return f"too many live sockets for this API key (at most {self._max_per_caller}); close one first"
        if len(self._listeners) >= self._max_total:
            return f"too many live sockets on this server (at most {self._max_total}); try again later"
        return None

    async def join(self, caller: str, subscription: dict[str, str]) -> _Listener | None:
        """A listener fed from the shared subscription; None when Redis cannot be subscribed to."""
        listener = _Listener(subscription)
        self._listeners.add(listener)
        self._per_caller[caller] += 1
        if self._task is None or self._task.done():
            self._subscribed.clear()
            self._task = asyncio.create_task(self._relay(), name="live-events")
        try:
            await asyncio.wait_for(self._subscribed.wait(), SUBSCRIBE_TIMEOUT_S)
        except TimeoutError:
            self.leave(caller, listener)
            return None
        return listener

    def leave(self, caller: str, listener: _Listener) -> None:
        self._listeners.discard(listener)
        self._per_caller[caller] -= 1
        if self._per_caller[caller] <= 0:
            del self._per_caller[caller]
        if not self._listeners and self._task is not None:
            # The last socket has gone: so does the subscription, until the next socket.
            self._task.cancel()
            self._task = None

    async def _relay(self) -> None:
        backoff_s = FIRST_BACKOFF_S
        while True:
            # The health check pings a quiet subscription, so that a connection Redis dropped is noticed.
            connection = aioredis.Redis.from_url(self._redis_url, socket_connect_timeout=2, health_check_interval=30)
            pubsub = connection.pubsub()
            try:
                await pubsub.subscribe(CHANNEL)
                self._subscribed.set()
                if backoff_s > FIRST_BACKOFF_S:
                    log.info("live events: subscribed to Redis again")
                backoff_s = FIRST_BACKOFF_S
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._fan_out(message["data"])
            except RedisError as exc:
                self._subscribed.clear()
                log.warning("live events: Redis dropped the subscription (%s); again in %.1f s", exc, backoff_s)
                for listener in list(self._listeners):
                    listener.cut(f"live updates were interrupted (Redis dropped them); {_READ_WHAT_YOU_MISSED}")
            finally:
                await pubsub.aclose()
                await connection.aclose()
            await self._sleep(backoff_s)
            backoff_s = min(backoff_s * 2, MAX_BACKOFF_S)

    def _fan_out(self, data: bytes) -> None:
        try:
            published = json.loads(data)
        except ValueError:
            log.warning("live events: not JSON on %s, skipped", CHANNEL)
            return
        events = published if isinstance(published, list) else [published]
        for listener in list(self._listeners):
            if listener.cut_off.is_set():
                continue
            for event in events:
                if not _wanted(event, listener.subscription):
                    continue
                try:
                    listener.queue.put_nowait(event)
                except asyncio.QueueFull:
                    log.warning("WebSocket closed: it read events too slowly (%d waiting)", listener.queue.qsize())
                    listener.cut(f"events came faster than this socket read them; {_READ_WHAT_YOU_MISSED}")
                    break


def live_events_endpoint(live: LiveEvents) -> Any:
    async def live_events(websocket: WebSocket) -> None:
        """Subscribe with ?run_id= or ?workflow_id= (none: every run), or send {"subscribe": {...}}."""
        subscription = {k: v for k, v in websocket.query_params.items() if k in ("run_id", "workflow_id")}
        # Set by the gateway (app/api/gateway.py): a hash of the API key, or the client's address.
        caller = str(websocket.scope.get("state", {}).get("caller", "anonymous"))
        refused = live.refusal(caller)
        if refused:
            # Accepted, then closed: a browser sees a close code and reason, never a refused handshake's.
            await websocket.accept()
            await websocket.close(code=TOO_MANY, reason=refused)
            return
        listener = await live.join(caller, subscription)
        if listener is None:
            log.error("WebSocket refused: Redis does not answer")
            await websocket.accept()  # then closed: a refused handshake would read as a 403, with no reason
            await websocket.close(code=INTERRUPTED, reason="live updates (Redis) are unavailable; try again later")
            return
        try:
            await websocket.accept()
            await _serve(websocket, listener)
        finally:
            live.leave(caller, listener)

    return live_events


_SUBSCRIBABLE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


async def _send(websocket: WebSocket, message: Any) -> None:
    # ASCII JSON: a lone surrogate in some text (from Slack, a webhook) cannot break the socket's UTF-8.
    await websocket.send_text(json.dumps(message))


def _subscription(frame: Message) -> dict[str, str] | str:
    """What a client's frame asks to watch, or why it cannot be read."""
    text = frame.get("text")
    if text is None:
        return 'send JSON text: {"subscribe": {"run_id": ...}}'
    try:
        asked = json.loads(text)
    except (ValueError, RecursionError):
        return "send JSON"
    wanted = asked.get("subscribe") if isinstance(asked, dict) else None
    if not isinstance(wanted, dict):
        return 'send {"subscribe": {"run_id": ...}}'
    chosen = {k: v for k, v in wanted.items() if k in ("run_id", "workflow_id") and v}
    if not all(isinstance(v, str) and _SUBSCRIBABLE_ID.match(v) for v in chosen.values()):
        return "run_id and workflow_id are ids: letters, digits, _ . : -, at most 100"
    return chosen


async def _serve(websocket: WebSocket, listener: _Listener) -> None:
    async def send() -> None:
        while True:
            await _send(websocket, await listener.queue.get())

    async def closed_when_cut_off() -> None:
        await listener.cut_off.wait()
        await websocket.close(code=INTERRUPTED, reason=listener.why)

    async def listen() -> None:
        while True:
            frame = await websocket.receive()
            if frame["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(frame.get("code", 1000))
            wanted = _subscription(frame)
            if isinstance(wanted, str):
                await _send(websocket, {"error": {"code": "bad_request", "message": wanted}})
                continue
            listener.subscription.clear()
            listener.subscription.update(wanted)
            await _send(websocket, {"subscribed": dict(listener.subscription)})

    tasks = [asyncio.create_task(send()), asyncio.create_task(listen()), asyncio.create_task(closed_when_cut_off())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task.exception() and not isinstance(task.exception(), WebSocketDisconnect):
                log.warning("WebSocket closed on an error: %s", task.exception())
    finally:
        for task in tasks:
            task.cancel()
