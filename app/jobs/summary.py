"""A customer's summary, for whoever asked in Slack: fetched from the CRM, posted where it was asked for."""

from __future__ import annotations

import logging

from app.domain.outcome import Failed
from app.domain.summary import summarize
from app.integrations.crm import CrmClient
from app.integrations.errors import IntegrationError
from app.jobs.lookup import customer_or_reason
from app.jobs.replies import Replies
from app.messages.bot import WORKING
from app.messages.customers import customer_summary
from app.messages.message import Message
from app.queueing.slack_request import SlackRequest

log = logging.getLogger(__name__)


def answer_with_summary(crm: CrmClient, replies: Replies, asked: SlackRequest) -> str:
    """Find the customer, fetch their tickets, and post the summary; a Failed says why not (the asker knows)."""
    if asked.origin != "command":
        # A slash command's ack already said it; a mention or a click hears it in the thread.
        replies.publish(Message(text=WORKING))
    customer = customer_or_reason(crm, replies, asked.customer or "")
    if isinstance(customer, Failed):
        return customer
    try:
        tickets = crm.list_tickets(customer.id)
    except IntegrationError as exc:
        log.warning("summary of %s not possible: %s", customer.id, exc)
        replies.to_asker(Message(text=exc.user_message))
        return Failed(exc.user_message)
    replies.publish(customer_summary(summarize(customer, tickets)))
    return f"summary of {customer.id}"
