"""POST /slack/events: Slack's one Request URL. Verified on the raw bytes, checked for shape, then Bolt.

The cheap refusals come first, on the event loop: the body's size (app/web/body_limit.py, while it
streams in), the signature (401), the shape (400 with the reason). Then Bolt's dispatch (the listeners
enqueue, and check a slash command for a replay as they do): on the loop too while Redis answers at once,
in the Slack lane's threads while it does not (app/web/loop_first.py), so a hung Redis holds the loop for
one ack path's short timeout at most, and then only those threads.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable

from slack_bolt import App, BoltResponse
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk.signature import SignatureVerifier
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from app.logs import NowAndThen
from app.slack.listeners.commands import COMMAND_DELIVERY, command_delivery
from app.web.loop_first import LoopFirst
from app.web.slack_body import BOLT_READ_ERRORS, MalformedSlackBody, is_slash_command, parse_slack_body

log = logging.getLogger(__name__)


def signed_by_slack(verifier: SignatureVerifier, raw: bytes, timestamp: str | None, signature: str | None) -> bool:
    """slack_sdk's check on the raw bytes, made total: it raises on a timestamp that is not a number and on
    a body that is not UTF-8 (it signs text)."""
    try:
        return verifier.is_valid(body=raw, timestamp=timestamp, signature=signature)
    except UnicodeDecodeError:
        # The timestamp passed (it is checked first). The same HMAC over the bytes tells a signed body that
        # is not UTF-8 (400, malformed) from an unsigned one (401).
        assert timestamp is not None and signature is not None
        digest = hmac.new(verifier.signing_secret.encode(), b"v0:" + timestamp.encode() + b":" + raw,
                          hashlib.sha256).hexdigest()
        return hmac.compare_digest(f"v0={digest}", signature)
    except (ValueError, OverflowError):  # a timestamp that is not a number, or too large for a float
        return False


def slack_events_endpoint(bolt: App, signing_secret: str,
                          dispatcher: LoopFirst) -> Callable[[Request], Awaitable[Response]]:
    verifier = SignatureVerifier(signing_secret)
    refused = NowAndThen(log)

    def dispatch(request: Request, raw: bytes, slash_command: bool) -> BoltResponse:
        try:
            bolt_request = to_bolt_request(request, raw)
            if slash_command:
                # Checked when the command's job is queued, in the same round trip (app/queueing/job_queue.py).
                bolt_request.context[COMMAND_DELIVERY] = command_delivery(
                    request.headers.get("x-slack-request-timestamp", ""),
                    request.headers.get("x-slack-signature", ""))
            return bolt.dispatch(bolt_request)
        except BOLT_READ_ERRORS as exc:
            # A shape slack_body.py does not know yet: still the sender's fault, not a 500.
            log.warning("refused a signed Slack request that Bolt cannot read: %r", exc)
            return BoltResponse(status=400, body=f"malformed Slack request: Bolt cannot read it ({type(exc).__name__})")

    async def slack_events(request: Request) -> Response:
        raw = await request.body()
        if not signed_by_slack(verifier, raw, request.headers.get("x-slack-request-timestamp"),
                               request.headers.get("x-slack-signature")):
            refused.warning("refused a request to /slack/events with a bad or stale signature: if every request is "
                            "refused, SLACK_SIGNING_SECRET is not this app's")
            return PlainTextResponse("invalid signature", status_code=401)
        try:
            body = parse_slack_body(raw, request.headers.get("content-type"))
        except MalformedSlackBody as exc:
            log.warning("refused a signed Slack request: %s", exc)
            return PlainTextResponse(f"malformed Slack request: {exc}", status_code=400)
        return to_starlette_response(await dispatcher.run(dispatch, request, raw, is_slash_command(body)))

    return slack_events
