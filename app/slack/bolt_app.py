"""The Bolt app: verification, then listeners that parse, ack and enqueue, and nothing else.

`process_before_response=True` runs each listener on the request thread, so the
ack goes out as soon as the job is queued; Bolt's default hands listeners to a
thread pool and polls for the ack every 10 ms (see shared/LIBRARY-NOTES.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.authorization import AuthorizeResult

from app.domain.system_status import SystemStatus
from app.logs import drop_lines_saying, library_logger
from app.messages.bot import unexpected_failure
from app.queueing.job_queue import JobQueue
from app.slack.listeners import actions, agent_actions, commands, mentions, messages
from app.state.approvals import ApprovalStore
from app.state.notification_store import NotificationStore
from app.state.thread_memory import ThreadMemory

log = logging.getLogger(__name__)


def build_bolt_app(
    *,
    signing_secret: str,
    bot_token: str,
    jobs: JobQueue,
    notifications: NotificationStore,
    read_system_status: Callable[[], SystemStatus],
    approvals: ApprovalStore,
    memory: ThreadMemory,
) -> App:
    def authorize(enterprise_id: str | None, team_id: str | None, **_: Any) -> AuthorizeResult:
        # A single-workspace app: the token is known, so no auth.test round trip per request.
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=bot_token)

    bolt_logger = library_logger("app.slack.bolt")
    # Bolt warns that SLACK_BOT_TOKEN is ignored when `authorize` is given; here that is the design.
    drop_lines_saying(bolt_logger, "will be ignored")
    app = App(
        signing_secret=signing_secret,
        authorize=authorize,
        process_before_response=True,
        logger=bolt_logger,
    )
    commands.register(app, jobs=jobs, read_system_status=read_system_status)
    mentions.register(app, jobs=jobs)
    actions.register(app, jobs=jobs, notifications=notifications)
    messages.register(app, jobs=jobs, memory=memory)
    agent_actions.register(app, jobs=jobs, approvals=approvals)

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
        log.error("Slack request failed: %s", error, exc_info=error)
        if "command" in body:
            # A slash command's answer is shown to the user: say something went wrong, with no detail.
            return BoltResponse(status=200, body=unexpected_failure("starting that").text)
        return BoltResponse(status=500, body="")

    return app
