"""The functions the worker runs. Each fetches through the integration layer and answers in Slack."""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

from rq.job import Job

from app.domain.outcome import Failed
from app.domain.summary import summarize
from app.integrations.errors import IntegrationError
from app.jobs import runtime
from app.jobs.lookup import customer_or_reason
from app.jobs.replies import Replies
from app.jobs.requests import SlackRequest
from app.messages.bot import WORKING, help_text, unexpected_failure
from app.messages.customers import customer_summary
from app.messages.message import Message
from app.runs.builtin import BUILTIN_PREFIX, as_builtin_run

log = logging.getLogger(__name__)


def _replies_for(request: SlackRequest) -> Replies:
    services = runtime.current()
    return Replies(services.slack, request, services.jobs.response_url(request.request_id))


@as_builtin_run(f"{BUILTIN_PREFIX}slack_summary")
def summarize_customer(request: dict[str, Any]) -> str:
    """Find the customer, fetch their tickets, and post the summary where it was asked for."""
    slack_request = SlackRequest.from_job_args(request)
    services = runtime.current()
    replies = _replies_for(slack_request)
    if slack_request.origin != "command":
        # A slash command's ack already said it; a mention or a click hears it in the thread.
        replies.publish(Message(text=WORKING))
    customer = customer_or_reason(services, replies, slack_request.customer or "")
    if isinstance(customer, Failed):
        return customer
    try:
        tickets = services.crm.list_tickets(customer.id)
    except IntegrationError as exc:
        log.warning("summary of %s not possible: %s", customer.id, exc)
        replies.to_asker(Message(text=exc.user_message))
        return Failed(exc.user_message)
    replies.publish(customer_summary(summarize(customer, tickets)))
    return f"summary of {customer.id}"


@as_builtin_run(f"{BUILTIN_PREFIX}slack_help")
def reply_with_help(request: dict[str, Any]) -> str:
    _replies_for(SlackRequest.from_job_args(request)).to_asker(help_text())
    return "help sent"


def tell_user_job_failed(
    job: Job, connection: Any, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    """RQ's failure callback: the job stays in the failed registry, and the asker hears about it."""
    request = job.kwargs.get("request")
    if not request or job.meta.get("user_told"):
        return
    try:
        _replies_for(SlackRequest.from_job_args(request)).to_asker(
            unexpected_failure(f"working on your request ({exc_type.__name__})")
        )
    except Exception:  # noqa: BLE001 - the failure is already logged and kept by RQ; nothing more to tell
        log.exception("could not tell the user that job %s failed", job.id)
