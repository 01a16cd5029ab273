"""Proactive notifications: posting them when the CRM reports something, and acting on their buttons."""

from __future__ import annotations

import logging
from typing import Any

from app.domain.crm_events import NewCustomer, UrgentTicket, draft_reply, event_from_job_args, notification_for
from app.domain.customers import Customer, Ticket
from app.domain.outcome import Failed
from app.integrations.crm import CrmClient
from app.integrations.errors import IntegrationError
from app.integrations.slack_poster import SlackPoster
from app.jobs.drafts import DraftWriter
from app.messages.message import Message
from app.messages.mrkdwn import mention
from app.messages.notifications import (
    new_customer_notification,
    notification_settled,
    quoted_draft,
    urgent_ticket_notification,
)
from app.state.notification_store import NotificationStore

log = logging.getLogger(__name__)


class Notifier:
    """Posts notifications in `channel` (None: they are logged and skipped) and settles them when clicked."""

    def __init__(self, crm: CrmClient, slack: SlackPoster, store: NotificationStore, channel: str | None,
                 priorities: frozenset[str], drafts: DraftWriter | None = None) -> None:
        self._drafts = drafts
        self._crm = crm
        self._slack = slack
        self._store = store
        self._channel = channel
        self._priorities = priorities

    def _customer_name(self, customer_id: str) -> str:
        try:
            customer = self._crm.get_customer(customer_id)
        except IntegrationError as exc:
            log.warning("notifying without the customer's name: %s", exc)
            return customer_id
        return customer.name if customer else customer_id

    def post(self, event: dict[str, Any]) -> str:
        """Post the notification a CRM event calls for, with its buttons."""
        crm_event = event_from_job_args(event)
        if not self._channel:
            log.warning("SLACK_NOTIFY_CHANNEL is not set; not posting the notification for %s", crm_event.id)
            return "skipped: no SLACK_NOTIFY_CHANNEL"
        notification = notification_for(crm_event, self._priorities)
        match notification:
            case UrgentTicket(ticket, customer_id):
                message = urgent_ticket_notification(
                    self._customer_name(customer_id), ticket.subject, ticket.priority, ticket.id)
                record = {"kind": "ticket", "ticket_id": ticket.id, "customer_id": customer_id}
            case NewCustomer(customer):
                message = new_customer_notification(customer.name, customer.plan, customer.id)
                record = {"kind": "customer", "customer_id": customer.id}
            case str(reason):
                log.info("CRM event %s needs no notification: %s", crm_event.id, reason)
                return f"ignored: {reason}"
        ts = self._slack.post_message(self._channel, message)
        self._store.save(self._channel, ts, {**record, "text": message.blocks[0]["text"]["text"]})
        return f"notified {self._channel} at {ts}"

    def draft_response(self, channel: str, ts: str, user: str) -> str:
        """Mark the notification as taken, then post a draft reply in its thread."""
        record = self._store.get(channel, ts)
        if record is None or record.get("kind") != "ticket":
            return Failed("no such ticket notification")
        self._slack.update_message(channel, ts, notification_settled(
            record["text"], f"Draft requested by {mention(user)}; it is in the thread."))
        try:
            customer = self._crm.get_customer(record["customer_id"])
            ticket = self._crm.get_ticket(record["ticket_id"])
        except IntegrationError as exc:
            self._slack.post_message(channel, Message(text=f"I could not draft a reply: {exc.user_message}"),
                                     thread_ts=ts)
            return Failed(exc.user_message)
        if customer is None or ticket is None:
            self._slack.post_message(channel, Message(text="The CRM no longer has that ticket."), thread_ts=ts)
            return Failed("the CRM no longer has that ticket")
        draft, written_by = self._draft(customer, ticket)
        self._slack.post_message(channel, quoted_draft(draft, written_by), thread_ts=ts)
        return f"draft for {ticket.id} {written_by}"

    def _draft(self, customer: Customer, ticket: Ticket) -> tuple[str, str]:
        """The model's draft when one is configured and answers; else the template, labelled as such."""
        if self._drafts is None:
            return draft_reply(customer, ticket), "from a template (no language model is configured)"
        try:
            draft = self._drafts.write(customer, ticket, self._crm.list_tickets(customer.id))
        except IntegrationError as exc:
            log.warning("the model could not draft a reply to %s: %s", ticket.id, exc)
            return draft_reply(customer, ticket), "from a template (the language model is unavailable)"
        return (draft, "written by the language model") if draft else (
            draft_reply(customer, ticket), "from a template (the language model wrote nothing)")

    def dismiss(self, channel: str, ts: str, user: str) -> str:
        record = self._store.get(channel, ts)
        if record is None:
            return Failed("no such notification")
        self._slack.update_message(channel, ts, notification_settled(record["text"], f"Dismissed by {mention(user)}"))
        return "dismissed"
