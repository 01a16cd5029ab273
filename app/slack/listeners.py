"""The Bolt app: listeners that parse, ack and enqueue, and nothing else.

`process_before_response=True` runs each listener on the request thread, so the
ack goes out as soon as the job is queued; Bolt's default hands listeners to a
thread pool and polls for the ack every 10 ms (see shared/LIBRARY-NOTES.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import redis
from slack_bolt import App, BoltResponse
from slack_bolt.authorization import AuthorizeResult

from app.domain.system_status import SystemStatus
from app.jobs.notification_store import NotificationStore
from app.jobs.queue import JobQueue, QueueUnavailable, new_request_id
from app.jobs.requests import SlackRequest
from app.messages.bot import WORKING, help_text, queue_unavailable, system_status, unexpected_failure
from app.messages.customers import needs_customer
from app.messages.notifications import DISMISS_ACTION, DRAFT_ACTION, SUMMARIZE_ACTION
from app.slack.commands import (
    Help,
    Intent,
    MissingCustomer,
    Report,
    Status,
    Summarize,
    parse_command,
    parse_mention,
)

log = logging.getLogger(__name__)

SUMMARIZE_JOB = "app.jobs.tasks.summarize_customer"
REPORT_JOB = "app.jobs.reports.build_report"
HELP_JOB = "app.jobs.tasks.reply_with_help"


def _job_for(intent: Intent) -> tuple[str, str | None]:
    """The job an intent starts, and the customer it is about."""
    if isinstance(intent, Summarize):
        return SUMMARIZE_JOB, intent.customer
    if isinstance(intent, Report):
        return REPORT_JOB, intent.customer
    return HELP_JOB, None
# Which notification each button belongs on, and the job it starts.
BUTTON_JOBS = {
    DRAFT_ACTION: ("ticket", "app.jobs.notifications.draft_response"),
    DISMISS_ACTION: (None, "app.jobs.notifications.dismiss"),
    SUMMARIZE_ACTION: ("customer", SUMMARIZE_JOB),
}


class _IgnoredTokenNotice(logging.Filter):
    """Bolt warns that SLACK_BOT_TOKEN is ignored when `authorize` is given; here that is the design."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "will be ignored" not in record.getMessage()


def build_bolt_app(
    *,
    signing_secret: str,
    bot_token: str,
    jobs: JobQueue,
    notifications: NotificationStore,
    read_system_status: Callable[[], SystemStatus],
) -> App:
    def authorize(enterprise_id: str | None, team_id: str | None, **_: Any) -> AuthorizeResult:
        # A single-workspace app: the token is known, so no auth.test round trip per request.
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=bot_token)

    bolt_logger = logging.getLogger("app.slack.bolt")
    bolt_logger.addFilter(_IgnoredTokenNotice())
    app = App(
        signing_secret=signing_secret,
        authorize=authorize,
        process_before_response=True,
        logger=bolt_logger,
    )

    @app.command("/acme")
    def on_acme_command(ack: Any, command: dict[str, Any]) -> None:
        intent = parse_command(command.get("text", ""))
        if isinstance(intent, Help):
            ack(text=help_text().text, blocks=help_text().blocks)
            return
        if isinstance(intent, MissingCustomer):
            ack(text=needs_customer(intent.verb).text)
            return
        if isinstance(intent, Status):
            # Answered here, not queued: it is most wanted when the queue is stuck.
            try:
                status = system_status(read_system_status())
            except redis.RedisError as exc:
                log.error("could not read the status: %s", exc)
                ack(text=queue_unavailable())
                return
            ack(text=status.text, blocks=status.blocks)
            return
        job, customer = _job_for(intent)
        request = SlackRequest(
            request_id=new_request_id(),
            origin="command",
            team_id=command.get("team_id", ""),
            channel_id=command["channel_id"],
            user_id=command.get("user_id", ""),
            customer=customer,
        )
        try:
            jobs.enqueue(job, request, response_url=command.get("response_url"))
        except QueueUnavailable as exc:
            log.error("could not queue /acme %s: %s", command.get("text", "").split(" ")[0], exc)
            ack(text=queue_unavailable())
            return
        ack(text=WORKING)

    @app.event("app_mention")
    def on_mention(ack: Any, event: dict[str, Any], body: dict[str, Any]) -> BoltResponse | None:
        event_id = body.get("event_id") or f"{event.get('channel')}:{event.get('ts')}"
        try:
            if not jobs.first_time("slack-event", event_id):
                log.info("event %s delivered again; already queued", event_id)
                ack()
                return None
        except QueueUnavailable as exc:
            return _retry_later(exc)
        job, customer = _job_for(parse_mention(event.get("text", "")))
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
            jobs.enqueue(job, request)
        except QueueUnavailable as exc:
            jobs.forget("slack-event", event_id)
            return _retry_later(exc)
        ack()
        return None

    def on_notification_button(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> BoltResponse | None:
        action_id = action["action_id"]
        channel = (body.get("channel") or {}).get("id", "")
        ts = (body.get("container") or {}).get("message_ts") or (body.get("message") or {}).get("ts", "")
        user = (body.get("user") or {}).get("id", "")
        wanted_kind, job = BUTTON_JOBS[action_id]
        try:
            record = notifications.get(channel, ts) if channel and ts else None
            if record is None or (wanted_kind and record.get("kind") != wanted_kind):
                # Not a message we posted with this button: a payload from elsewhere, or made up.
                log.warning("refused %s from %s on %s/%s: no such notification", action_id, user, channel, ts)
                return BoltResponse(status=403, body="not a notification of this app")
            if not jobs.first_time(f"button-{action_id}", f"{channel}:{ts}"):
                log.info("%s on %s/%s clicked again; already acting on it", action_id, channel, ts)
                ack()
                return None
            if job == SUMMARIZE_JOB:
                team = (body.get("team") or {}).get("id", "")
                jobs.enqueue(SUMMARIZE_JOB, SlackRequest(request_id=new_request_id(), origin="button", team_id=team,
                                                         channel_id=channel, user_id=user, thread_ts=ts,
                                                         customer=record["customer_id"]))
            else:
                jobs.put(jobs.notifications, job, {"channel": channel, "ts": ts, "user": user},
                         job_id=f"{action_id}-{new_request_id()}", description=f"{action_id} in {channel}")
        except QueueUnavailable as exc:
            jobs.forget(f"button-{action_id}", f"{channel}:{ts}")
            return _retry_later(exc)
        ack()
        return None

    for action_id in BUTTON_JOBS:
        app.action(action_id)(on_notification_button)

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
        log.error("Slack request failed: %s", error, exc_info=error)
        if "command" in body:
            # A slash command's answer is shown to the user: say something went wrong, with no detail.
            return BoltResponse(status=200, body=unexpected_failure("starting that").text)
        return BoltResponse(status=500, body="")

    return app


def _retry_later(exc: Exception) -> BoltResponse:
    """Answer an event with 503 so that Slack delivers it again later instead of it being lost."""
    log.error("could not queue a Slack event, asking Slack to retry: %s", exc)
    return BoltResponse(status=503, body="queue unavailable")
