"""Handing a Slack event to the agent: once per event, whatever Slack's redeliveries."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import BoltResponse

from app.queueing.job_queue import Delivery, JobQueue, QueueUnavailable, new_request_id
from app.queueing.job_table import AGENT
from app.queueing.slack_request import Origin, SlackRequest
from app.slack.listeners.redelivery import deliver_again_later

log = logging.getLogger(__name__)


def queue_for_the_agent(jobs: JobQueue, ack: Any, body: dict[str, Any], event: dict[str, Any],
                        origin: Origin) -> BoltResponse | None:
    """Ack an event for the agent once, whatever Slack's redeliveries; 503 (deliver again) if not queued.

    Once per message, not per event: the same message may come in two events (a mention and a message event,
    each with its id), and is answered once."""
    message = f"{event['channel']}:{event['ts']}"
    request = SlackRequest(
        request_id=new_request_id(),
        origin=origin,
        team_id=body.get("team_id", ""),
        channel_id=event["channel"],
        user_id=event.get("user", ""),
        thread_ts=event.get("thread_ts") or event["ts"],
        text=event.get("text", ""),
    )
    try:
        queued = jobs.enqueue_slack(AGENT, request, once=(Delivery("slack-event", str(body.get("event_id") or message)),
                                                          Delivery("slack-message", message)))
    except QueueUnavailable as exc:
        return deliver_again_later(exc)
    if queued is None:
        log.info("event %s: message %s already queued", body.get("event_id"), message)
    ack()
    return None
