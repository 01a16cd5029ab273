"""Proactive notifications, their buttons, how they read once acted on, and draft replies. Pure."""

from __future__ import annotations

from typing import Any

from app.messages.message import Message, section
from app.messages.mrkdwn import escape, escape_line

DRAFT_ACTION = "draft_response"
DISMISS_ACTION = "dismiss_notification"
SUMMARIZE_ACTION = "summarize_new_customer"


def _button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "text": {"type": "plain_text", "text": text},
                              "action_id": action_id, "value": value}
    if style:
        button["style"] = style
    return button


def urgent_ticket_notification(customer_name: str, subject: str, priority: str, ticket_id: str) -> Message:
    kind = "urgent" if priority == "urgent" else f"{escape_line(priority)}-priority"
    text = (f"A new {kind} ticket just arrived from *{escape_line(customer_name)}*: {escape_line(subject)}. "
            f"Would you like me to draft a response?")
    actions = {"type": "actions", "block_id": "notification_actions", "elements": [
        _button("Draft response", DRAFT_ACTION, ticket_id, "primary"),
        _button("Dismiss", DISMISS_ACTION, ticket_id),
    ]}
    return Message(text=text, blocks=[section(text), actions])


def new_customer_notification(name: str, plan: str, customer_id: str) -> Message:
    text = f"New customer signed up: *{escape_line(name)}* ({escape_line(plan)})"
    actions = {"type": "actions", "block_id": "notification_actions",
               "elements": [_button("Summarize", SUMMARIZE_ACTION, customer_id, "primary")]}
    return Message(text=text, blocks=[section(text), actions])


def notification_settled(text: str, outcome: str) -> Message:
    """The notification as it reads once acted on: its words, what happened, and no buttons."""
    return Message(text=f"{text} ({outcome})",
                   blocks=[section(text), {"type": "context", "elements": [{"type": "mrkdwn", "text": outcome}]}])


def quoted_draft(draft: str, written_by: str) -> Message:
    """`written_by` says where the draft comes from: the model, or the template (and why)."""
    quoted = "\n".join(f">{escape(line)}" if line else ">" for line in draft.splitlines())
    return Message(text=f"Here is a draft reply {written_by}; edit it before you send it:\n{quoted}")
