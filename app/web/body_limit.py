"""Body size caps, enforced while the body streams in: a 413 before the app parses, or even reads, too much.

Pure ASGI middleware. A declared Content-Length past the cap is refused before a byte of the body is
read; a body without one (chunked) is counted chunk by chunk as the app reads it, and refused as soon
as it passes the cap. The refusal is sent from here, and whatever the app does after it (an error
from the body it could not finish, a response of its own) goes nowhere: the client has its answer.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import error_response
from app.api.gateway import header, is_api_path

log = logging.getLogger(__name__)
# Slack's requests and the CRM's webhooks are a few kB; a few hundred kB is already not theirs.
SIGNED_WEBHOOK_MAX_BYTES = 256 * 1024
SIGNED_WEBHOOK_PATHS = ("/slack/events", "/webhooks/crm")


class BodyTooLarge(Exception):
    """Raised to the app that keeps reading a body this middleware has already refused."""


def _describe(limit: int) -> str:
    return f"{limit // 1024} KiB" if limit % 1024 == 0 else f"{limit} bytes"


class BodyLimit:
    """Refuses a request body larger than its path's cap with a 413, without reading the rest of it."""

    def __init__(self, app: ASGIApp, api_max_bytes: int,
                 signed_max_bytes: int = SIGNED_WEBHOOK_MAX_BYTES) -> None:
        self.app = app
        self.api_max_bytes = api_max_bytes
        self.signed_max_bytes = signed_max_bytes

    def limit_for(self, path: str) -> int:
        if path in SIGNED_WEBHOOK_PATHS:
            return self.signed_max_bytes
        if is_api_path(path):
            return self.api_max_bytes
        # Health and metrics take no body; anything else unknown gets the smaller cap.
        return min(self.signed_max_bytes, self.api_max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(scope, receive, send, limit)
            return
        refused = False
        answered = False
        seen = 0

        async def counted_receive() -> Message:
            nonlocal refused, seen
            if refused:
                raise BodyTooLarge()
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    if not answered:
                        await self._refuse(scope, receive, send, limit)
                    raise BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            if refused:
                return  # the 413 went out already
            if message["type"] == "http.response.start":
                answered = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not refused:
                raise
            # The app failed on the body it was refused: expected, and already answered.

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        log.warning("refused a body over %s on %s %s", _describe(limit), scope["method"], scope["path"])
        response = error_response(413, f"the body is larger than {_describe(limit)}")
        # The connection is closed after the answer: the rest of the body is never read.
        response.headers["connection"] = "close"
        await response(scope, receive, send)
