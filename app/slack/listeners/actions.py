"""Clicks on the notifications' buttons: acted on only on a notification the bot posted, and only once."""

from __future__ import annotations

import logging
from typing import Any

import redis
from slack_bolt import App, BoltResponse

from app.messages.notifications import DISMISS_ACTION, DRAFT_ACTION, SUMMARIZE_ACTION
from app.queueing.job_queue import Delivery, JobQueue, QueueUnavailable, new_request_id
from app.queueing.job_table import DISMISS, DRAFT, SUMMARY, JobKind
from app.queueing.slack_request import SlackRequest
from app.slack.listeners.redelivery import deliver_again_later
from app.state.notification_store import NOTIFICATION_MEMORY_S, NotificationStore

log = logging.getLogger(__name__)

# Which notification each button belongs on (None: any), and the job it starts.
BUTTON_JOBS: dict[str, tuple[str | None, JobKind]] = {
    DRAFT_ACTION: ("ticket", DRAFT),
    DISMISS_ACTION: (None, DISMISS),
    SUMMARIZE_ACTION: ("customer", SUMMARY),
}
# The jobs that settle a notification (take its buttons away).
SETTLING = (DRAFT, DISMISS)


def register(app: App, *, jobs: JobQueue, notifications: NotificationStore) -> None:
    def on_notification_button(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> BoltResponse | None:
        action_id = action["action_id"]
        channel = (body.get("channel") or {}).get("id", "")
        ts = (body.get("container") or {}).get("message_ts") or (body.get("message") or {}).get("ts", "")
        user = (body.get("user") or {}).get("id", "")
        wanted_kind, job = BUTTON_JOBS[action_id]
        try:
            record = notifications.get(channel, ts) if channel and ts else None
        except redis.RedisError as exc:
            # Slack tells the user it failed; the click is not marked seen, so a second one is acted on.
            return deliver_again_later(exc)
        if record is None or (wanted_kind and record.get("kind") != wanted_kind):
            # Not a message we posted with this button: a payload from elsewhere, or made up.
            log.warning("refused %s from %s on %s/%s: no such notification", action_id, user, channel, ts)
            return BoltResponse(status=403, body="not a notification of this app")
        if job in SETTLING:
            # The first of them settles the notification; a click on buttons a stale view still shows is not
            # acted on (a draft after a dismissal, or a dismissal over a draft's "requested by").
            click = Delivery("button-settle", f"{channel}:{ts}", remember_s=NOTIFICATION_MEMORY_S)
        else:
            click = Delivery(f"button-{action_id}", f"{channel}:{ts}")
        try:
            if job == SUMMARY:
                team = (body.get("team") or {}).get("id", "")
                queued = jobs.enqueue_slack(SUMMARY, SlackRequest(request_id=new_request_id(), origin="button",
                                                                  team_id=team, channel_id=channel, user_id=user,
                                                                  thread_ts=ts, customer=record["customer_id"]),
                                            once=click)
            else:
                queued = jobs.enqueue_once(click, job, {"channel": channel, "ts": ts, "user": user},
                                           job_id=f"{action_id}-{new_request_id()}",
                                           description=f"{action_id} in {channel}")
        except QueueUnavailable as exc:
            return deliver_again_later(exc)
        if queued is None:
            log.info("%s on %s/%s: already acted on", action_id, channel, ts)
        ack()
        return None

    for action_id in BUTTON_JOBS:
        app.action(action_id)(on_notification_button)
