"""Jobs behind proactive notifications: posting them, and acting on their buttons."""

from __future__ import annotations

import logging
import re
from typing import Any

from app.domain.crm_events import NewCustomer, UrgentTicket, draft_reply, event_from_job_args, notification_for
from app.domain.outcome import Failed
from app.integrations.errors import IntegrationError
from app.jobs import runtime
from app.messages.message import Message
from app.messages.mrkdwn import escape
from app.messages.notifications import (
    new_customer_notification,
    notification_settled,
    quoted_draft,
    urgent_ticket_notification,
)
from app.runs.builtin import BUILTIN_PREFIX, as_builtin_run
from app.services import Services

log = logging.getLogger(__name__)
_SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


def _mention(user_id: str) -> str:
    # The id comes from a signed Slack payload; still, only ever build a mention from an id's shape.
    return f"<@{user_id}>" if _SLACK_USER_ID.match(user_id) else escape(user_id)


def _customer_name(services: Services, customer_id: str) -> str:
    try:
        customer = services.crm.get_customer(customer_id)
    except IntegrationError as exc:
        log.warning("notifying without the customer's name: %s", exc)
        return customer_id
    return customer.name if customer else customer_id


@as_builtin_run(f"{BUILTIN_PREFIX}crm_notification")
def post_notification(event: dict[str, Any]) -> str:
    """Post the notification a CRM event calls for in SLACK_NOTIFY_CHANNEL, with its buttons."""
    services = runtime.current()
    channel = services.settings.slack_notify_channel
    crm_event = event_from_job_args(event)
    if not channel:
        log.warning("SLACK_NOTIFY_CHANNEL is not set; not posting the notification for %s", crm_event.id)
        return "skipped: no SLACK_NOTIFY_CHANNEL"
    notification = notification_for(crm_event, services.settings.notify_priority_set)
    match notification:
        case UrgentTicket(ticket, customer_id):
            message = urgent_ticket_notification(
                _customer_name(services, customer_id), ticket.subject, ticket.priority, ticket.id)
            record = {"kind": "ticket", "ticket_id": ticket.id, "customer_id": customer_id}
        case NewCustomer(customer):
            message = new_customer_notification(customer.name, customer.plan, customer.id)
            record = {"kind": "customer", "customer_id": customer.id}
        case str(reason):
            log.info("CRM event %s needs no notification: %s", crm_event.id, reason)
            return f"ignored: {reason}"
    ts = services.slack.post_message(channel, message)
    services.notifications.save(channel, ts, {**record, "text": message.blocks[0]["text"]["text"]})
    return f"notified {channel} at {ts}"


@as_builtin_run(f"{BUILTIN_PREFIX}notification_draft")
def draft_response(channel: str, ts: str, user: str) -> str:
    """Mark the notification as taken, then post a draft reply in its thread."""
    services = runtime.current()
    record = services.notifications.get(channel, ts)
    if record is None or record.get("kind") != "ticket":
        return Failed("no such ticket notification")
    services.slack.update_message(channel, ts, notification_settled(
        record["text"], f"Draft requested by {_mention(user)}; it is in the thread."))
    try:
        customer = services.crm.get_customer(record["customer_id"])
        ticket = services.crm.get_ticket(record["ticket_id"])
    except IntegrationError as exc:
        services.slack.post_message(channel, Message(text=f"I could not draft a reply: {exc.user_message}"),
                                    thread_ts=ts)
        return Failed(exc.user_message)
    if customer is None or ticket is None:
        services.slack.post_message(channel, Message(text="The CRM no longer has that ticket."),
                                    thread_ts=ts)
        return Failed("the CRM no longer has that ticket")
    services.slack.post_message(channel, quoted_draft(draft_reply(customer, ticket)), thread_ts=ts)
    return f"draft for {ticket.id}"


@as_builtin_run(f"{BUILTIN_PREFIX}notification_dismiss")
def dismiss(channel: str, ts: str, user: str) -> str:
    services = runtime.current()
    record = services.notifications.get(channel, ts)
    if record is None:
        return Failed("no such notification")
    services.slack.update_message(channel, ts, notification_settled(
        record["text"], f"Dismissed by {_mention(user)}"))
    return "dismissed"
