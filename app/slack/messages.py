"""Every message the bot sends, as Block Kit with a plain-text fallback.

All text from the CRM or from a user passes through `escape` here, and only here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.domain.customers import Ambiguous, NoMatch
from app.domain.summary import CustomerSummary
from app.slack.mrkdwn import escape
from app.status import SystemStatus

WORKING = "Working on it..."
PRIORITY_EMOJI = {"urgent": ":red_circle:", "high": ":large_orange_circle:", "normal": ":large_blue_circle:",
                  "low": ":white_circle:"}
MAX_TICKETS_SHOWN = 10
# Slack cuts a section's text at 3,000 characters; stay clear of it.
MAX_SECTION_CHARS = 2900


@dataclass(frozen=True)
class Message:
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


def _section(mrkdwn: str) -> dict[str, Any]:
    if len(mrkdwn) > MAX_SECTION_CHARS:
        mrkdwn = mrkdwn[: MAX_SECTION_CHARS - 1] + "\u2026"
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}


def help_text() -> Message:
    text = (
        "*ACME Assistant* connects Slack to the CRM.\n"
        "\u2022 `/acme summary <customer>`: a summary of a customer (an id, a name or an email)\n"
        "\u2022 `/acme report <customer>`: a full account report, uploaded as a file with a chart\n"
        "\u2022 `/acme status`: the circuit breakers and the job queues\n"
        "\u2022 `@acme summarize <customer>` or `@acme report <customer>`: answered in the thread\n"
        "\u2022 `/acme help`: this help"
    )
    return Message(text=text, blocks=[_section(text)])


def needs_customer(verb: str = "summary") -> Message:
    return Message(text=f"Which customer? Try `/acme {verb} Globex` (an id, a name or an email).")


def customer_summary(summary: CustomerSummary) -> Message:
    c = summary.customer
    heading = f"*{escape(c.name)}* ({escape(c.company)})"
    facts = (
        f"*Plan:* {escape(c.plan)}   *Status:* {escape(c.status.replace('_', ' '))}   "
        f"*Owner:* {escape(c.owner)}   *Email:* {escape(c.email)}   *Id:* {escape(c.id)}"
    )
    if summary.open_tickets:
        counts = ", ".join(f"{n} {p}" for p, n in summary.tickets_by_priority.items())
        lines = [
            f"{PRIORITY_EMOJI.get(t.priority, ':white_circle:')} *{escape(t.priority)}* {escape(t.subject)} "
            f"({escape(t.id)})"
            for t in summary.open_tickets[:MAX_TICKETS_SHOWN]
        ]
        hidden = len(summary.open_tickets) - MAX_TICKETS_SHOWN
        if hidden > 0:
            lines.append(f"\u2026 and {hidden} more")
        tickets = f"*Open tickets ({counts}):*\n" + "\n".join(lines)
    else:
        tickets = "*Open tickets:* none"
    attention = f":mag: *Needs attention:* {escape(summary.attention)}"
    fallback = (
        f"Summary of {escape(c.name)} ({escape(c.company)}): {escape(c.plan)} plan, "
        f"{escape(c.status.replace('_', ' '))}, owner {escape(c.owner)}, "
        f"{len(summary.open_tickets)} open ticket(s). {escape(summary.attention)}"
    )
    blocks = [_section(heading + "\n" + facts), _section(tickets), _section(attention)]
    return Message(text=fallback, blocks=blocks)


def ambiguous_customer(result: Ambiguous) -> Message:
    choices = "\n".join(
        f"\u2022 *{escape(c.name)}* ({escape(c.company)}, {escape(c.email)}, id `{escape(c.id)}`)"
        for c in result.choices
    )
    text = f"Several customers match \u201c{escape(result.query)}\u201d. Which one?\n{choices}\n" \
           f"Ask again with the id or the email."
    return Message(text=text, blocks=[_section(text)])


def no_customer(result: NoMatch) -> Message:
    return Message(text=f"No customer matches \u201c{escape(result.query)}\u201d.")


def queue_unavailable() -> str:
    return "The job queue is unavailable right now, so I cannot start this. Please try again in a minute."


def unexpected_failure(what: str) -> Message:
    return Message(text=f":warning: Something went wrong while {what}; the team has the details in the logs.")


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
    kind = "urgent" if priority == "urgent" else f"{escape(priority)}-priority"
    text = (f"A new {kind} ticket just arrived from *{escape(customer_name)}*: {escape(subject)}. "
            f"Would you like me to draft a response?")
    actions = {"type": "actions", "block_id": "notification_actions", "elements": [
        _button("Draft response", DRAFT_ACTION, ticket_id, "primary"),
        _button("Dismiss", DISMISS_ACTION, ticket_id),
    ]}
    return Message(text=text, blocks=[_section(text), actions])


def new_customer_notification(name: str, plan: str, customer_id: str) -> Message:
    text = f"New customer signed up: *{escape(name)}* ({escape(plan)})"
    actions = {"type": "actions", "block_id": "notification_actions",
               "elements": [_button("Summarize", SUMMARIZE_ACTION, customer_id, "primary")]}
    return Message(text=text, blocks=[_section(text), actions])


def notification_settled(text: str, outcome: str) -> Message:
    """The notification as it reads once acted on: its words, what happened, and no buttons."""
    return Message(text=f"{text} ({outcome})",
                   blocks=[_section(text), {"type": "context", "elements": [{"type": "mrkdwn", "text": outcome}]}])


def draft_reply(draft: str) -> Message:
    quoted = "\n".join(f">{escape(line)}" if line else ">" for line in draft.splitlines())
    return Message(text=f"Here is a draft reply; edit it before you send it:\n{quoted}")


def system_status(status: SystemStatus) -> Message:
    icons = {"closed": ":large_green_circle:", "half-open": ":large_yellow_circle:", "open": ":red_circle:"}
    breakers = "\n".join(
        f"{icons.get(b.state, ':white_circle:')} *{b.name}*: {b.state}"
        + (f" (next trial in {b.retry_in_s} s)" if b.retry_in_s else "")
        for b in status.breakers
    )
    queues = "\n".join(
        f"\u2022 `{q.name}`: {q.depth} waiting"
        + (f", oldest for {q.oldest_wait_s:.0f} s" if q.oldest_wait_s is not None else "")
        for q in status.queues
    )
    text = f"*Circuit breakers*\n{breakers}\n*Queues*\n{queues}"
    return Message(text=text, blocks=[_section(text)])
