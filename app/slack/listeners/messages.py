"""Messages for the agent: direct messages to the app, and replies in a thread the agent answered in.

Every other message (a bot's, an edit, a deletion, one that mentions the app, which `app_mention`
brings) is acked and left alone.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from slack_bolt import App, BoltResponse

from app.queueing.job_queue import JobQueue
from app.slack.listeners.redelivery import deliver_again_later
from app.slack.listeners.to_the_agent import queue_for_the_agent
from app.state.thread_memory import ThreadMemory

log = logging.getLogger(__name__)


def _bot_user(body: dict[str, Any]) -> str | None:
    for authorization in body.get("authorizations") or []:
        if authorization.get("is_bot"):
            return str(authorization.get("user_id") or "") or None
    return None


# Subtypes that are still a person writing: a thread reply also sent to the channel, a message with a file.
# Every other subtype is a change to a message (edited, deleted), a bot's, or the channel's own news.
WRITTEN_BY_A_PERSON = frozenset({"thread_broadcast", "file_share"})


def written_by_a_person(event: dict[str, Any], bot_user: str | None = None) -> bool:
    return (event.get("subtype") in (None, *WRITTEN_BY_A_PERSON) and not event.get("bot_id")
            and bool(event.get("user")) and event.get("user") != bot_user)


def register(app: App, *, jobs: JobQueue, memory: ThreadMemory) -> None:
    @app.event("message")
    def on_message(ack: Any, event: dict[str, Any], body: dict[str, Any]) -> BoltResponse | None:
        bot_user = _bot_user(body)
        if not written_by_a_person(event, bot_user):
            ack()
            return None
        channel, thread = event.get("channel", ""), event.get("thread_ts")
        if event.get("channel_type") == "im":
            return queue_for_the_agent(jobs, ack, body, event, "dm")
        if bot_user and f"<@{bot_user}" in str(event.get("text", "")):
            ack()  # a mention: app_mention brings it
            return None
        try:
            follow_up = bool(thread) and memory.agent_answered_in(channel, str(thread))
        except redis.RedisError as exc:
            return deliver_again_later(exc)
        if follow_up:
            return queue_for_the_agent(jobs, ack, body, event, "thread")
        ack()
        return None
