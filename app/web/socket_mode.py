"""Slack over Socket Mode: envelopes handed to the same Bolt app as POST /slack/events, acked as it answers.

Bolt skips signature verification for Socket Mode (the connection itself is authenticated by the app
token) and, with `process_before_response=True`, answers once the listener has queued the job: the ack
goes out then, as an HTTP 200 would. An answer other than 200 (the queue unavailable, a click on
nothing of ours) sends no ack: Slack delivers an event again later, as after a 503, and tells the user
that a command or a click failed. A payload of the wrong shape is refused before Bolt, as over HTTP,
and acked: delivered again, it would be just as wrong. Redeliveries carry `retry_attempt`, which Bolt
turns into the `X-Slack-Retry-Num` header; the listeners deduplicate on the event id either way.
"""

from __future__ import annotations

import json
import logging

from slack_bolt import App, BoltResponse
from slack_bolt.adapter.socket_mode.internals import run_bolt_app
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from app.config import Settings
from app.integrations.slack_socket_mode import EnvelopeHandler, SocketModeConnection
from app.web.slack_body import BOLT_READ_ERRORS, MalformedSlackBody, checked_payload

log = logging.getLogger(__name__)


def ack_for(envelope_id: str, response: BoltResponse) -> SocketModeResponse:
    """The ack carrying what Bolt would have answered over HTTP: a command's text or blocks, else nothing."""
    if not response.body:
        return SocketModeResponse(envelope_id=envelope_id)
    content_type = (response.headers.get("content-type") or [""])[0]
    if content_type.startswith("application/json"):
        return SocketModeResponse(envelope_id=envelope_id, payload=json.loads(response.body))
    return SocketModeResponse(envelope_id=envelope_id, payload={"text": response.body})


def envelope_handler(bolt: App) -> EnvelopeHandler:
    def handle(request: SocketModeRequest) -> SocketModeResponse | None:
        try:
            checked_payload(request.payload)
        except MalformedSlackBody as exc:
            # As over HTTP (a 400), checked before Bolt reads it; acked, since Slack's delivering it again
            # would not mend it.
            log.warning("refused a malformed %s envelope: %s", request.type, exc)
            return SocketModeResponse(envelope_id=request.envelope_id)
        try:
            response = run_bolt_app(bolt, request)
        except BOLT_READ_ERRORS as exc:
            log.warning("refused a %s envelope that Bolt cannot read: %r", request.type, exc)
            return SocketModeResponse(envelope_id=request.envelope_id)
        if response.status != 200:
            log.info("no ack for a %s envelope: the app answered %s", request.type, response.status)
            return None
        return ack_for(request.envelope_id, response)

    return handle


def start_socket_mode(bolt: App, settings: Settings) -> SocketModeConnection | None:
    """With SLACK_APP_TOKEN set, connect to Slack over Socket Mode as well; None without it."""
    if settings.slack_app_token is None:
        return None
    return SocketModeConnection(app_token=settings.slack_app_token.get_secret_value(),
                                api_url=settings.slack_api_url, handle=envelope_handler(bolt),
                                timeout_s=settings.slack_timeout_s).start()
