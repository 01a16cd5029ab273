"""Every message the bot sends, as Block Kit with a plain-text fallback.

All text from the CRM or from a user passes through `escape` here, and only here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.domain.customers import Ambiguous, NoMatch
from app.domain.summary import CustomerSummary
from app.slack.mrkdwn import escape

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
        "\u2022 `@acme summarize <customer>`: the same, answered in the thread\n"
        "\u2022 `/acme help`: this help"
    )
    return Message(text=text, blocks=[_section(text)])


def needs_customer() -> Message:
    text = "Which customer? Try `/acme summary Globex` (an id, a name or an email)."
    return Message(text=text)


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
