"""`@acme ...`: deduplicated by event id, queued, answered by the worker in the mention's thread."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltResponse

from app.queueing.job_queue import JobQueue, QueueUnavailable, new_request_id
from app.queueing.slack_request import SlackRequest
from app.slack.intents import job_for, parse_mention
from app.slack.listeners.redelivery import deliver_again_later

log = logging.getLogger(__name__)


def register(app: App, *, jobs: JobQueue) -> None:
    @app.event("app_mention")
    def on_mention(ack: Any, event: dict[str, Any], body: dict[str, Any]) -> BoltResponse | None:
        event_id = body.get("event_id") or f"{event.get('channel')}:{event.get('ts')}"
        try:
            if not jobs.first_time("slack-event", event_id):
                log.info("event %s delivered again; already queued", event_id)
                ack()
                return None
        except QueueUnavailable as exc:
            return deliver_again_later(exc)
        job, customer = job_for(parse_mention(event.get("text", "")))
        request = SlackRequest(
            request_id=new_request_id(),
            origin="mention",
            team_id=body.get("team_id", ""),
            channel_id=event["channel"],
            user_id=event.get("user", ""),
            thread_ts=event.get("thread_ts") or event["ts"],
            customer=customer,
        )
        try:
            jobs.enqueue_slack(job, request)
        except QueueUnavailable as exc:
            jobs.forget("slack-event", event_id)
            return deliver_again_later(exc)
        ack()
        return None
