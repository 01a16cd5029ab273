"""`@acme ...`: deduplicated by event id and queued for the agent, which answers in the mention's thread."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltResponse

from app.queueing.job_queue import JobQueue
from app.slack.listeners.messages import written_by_a_person
from app.slack.listeners.to_the_agent import queue_for_the_agent


def register(app: App, *, jobs: JobQueue) -> None:
    @app.event("app_mention")
    def on_mention(ack: Any, event: dict[str, Any], body: dict[str, Any]) -> BoltResponse | None:
        if not written_by_a_person(event):
            # Another bot (or this one) mentioning the app: never answered, so bots cannot talk in loops.
            ack()
            return None
        return queue_for_the_agent(jobs, ack, body, event, "mention")
