"""WebSocket /v1/ws: run and step events as they happen, from any process, relayed from Redis."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from starlette.websockets import WebSocket, WebSocketDisconnect

from app.runs.events import CHANNEL

log = logging.getLogger(__name__)


def _wanted(event: dict[str, Any], subscription: dict[str, str]) -> bool:
    return all(event.get(field) == value for field, value in subscription.items())


def live_events_endpoint(redis_url: str) -> Any:
    async def live_events(websocket: WebSocket) -> None:
        """Subscribe with ?run_id= or ?workflow_id= (none: every run), or send {"subscribe": {...}}."""
        subscription = {k: v for k, v in websocket.query_params.items() if k in ("run_id", "workflow_id")}
        connection = aioredis.Redis.from_url(redis_url)
        pubsub = connection.pubsub()
        try:
            await pubsub.subscribe(CHANNEL)
        except RedisError as exc:
            log.error("WebSocket refused: Redis does not answer: %s", exc)
            await connection.aclose()
            await websocket.close(code=1013, reason="live updates are unavailable; try again later")
            return
        await websocket.accept()

        async def relay() -> None:
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                published = json.loads(message["data"])
                for event in published if isinstance(published, list) else [published]:
                    if _wanted(event, subscription):
                        await websocket.send_json(event)

        async def listen() -> None:
            while True:
                try:
                    asked = json.loads(await websocket.receive_text())
                except json.JSONDecodeError:
                    await websocket.send_json({"error": {"code": "bad_request", "message": "send JSON"}})
                    continue
                wanted = asked.get("subscribe") if isinstance(asked, dict) else None
                if not isinstance(wanted, dict):
                    await websocket.send_json({"error": {"code": "bad_request",
                                                         "message": 'send {"subscribe": {"run_id": ...}}'}})
                    continue
                subscription.clear()
                subscription.update({k: str(v) for k, v in wanted.items() if k in ("run_id", "workflow_id") and v})
                await websocket.send_json({"subscribed": dict(subscription)})

        tasks = [asyncio.create_task(relay()), asyncio.create_task(listen())]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task.exception() and not isinstance(task.exception(), WebSocketDisconnect):
                    log.warning("WebSocket closed on an error: %s", task.exception())
        finally:
            for task in tasks:
                task.cancel()
            await pubsub.aclose()
            await connection.aclose()

    return live_events
