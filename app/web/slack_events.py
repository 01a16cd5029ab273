"""POST /slack/events: Slack's one Request URL, handed to Bolt, which verifies and dispatches it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk.signature import SignatureVerifier
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response


def slack_events_endpoint(bolt: App, signing_secret: str) -> Callable[[Request], Awaitable[Response]]:
    verifier = SignatureVerifier(signing_secret)

    async def slack_events(request: Request) -> Response:
        body = await request.body()
        try:
            bolt_request = to_bolt_request(request, body)
        except (ValueError, UnicodeDecodeError):
            # Bolt parses before it verifies; a body it cannot parse is still refused 401 unless signed.
            if not verifier.is_valid_request(body, dict(request.headers)):
                return PlainTextResponse("invalid signature", status_code=401)
            return PlainTextResponse("malformed Slack payload: not JSON or form data", status_code=400)
        return to_starlette_response(bolt.dispatch(bolt_request))

    return slack_events
