"""Messages about customers: a summary, and what to say when a name matches several or none. Pure.

All text from the CRM or from a user passes through `escape` in this package, and only here.
"""

from __future__ import annotations

from app.domain.customers import MAX_CUSTOMER_CHARS, Ambiguous, NoMatch
from app.domain.summary import CustomerSummary
from app.messages.long_text import shortened
from app.messages.message import Message, section
from app.messages.mrkdwn import escape_line

PRIORITY_EMOJI = {"urgent": ":red_circle:", "high": ":large_orange_circle:", "normal": ":large_blue_circle:",
                  "low": ":white_circle:"}
MAX_TICKETS_SHOWN = 10


def needs_customer(verb: str = "summary", too_long: bool = False) -> Message:
    if too_long:
        return Message(text=f"That is too long for a customer's name ({MAX_CUSTOMER_CHARS} characters at most). "
                            f"Try `/acme {verb} "
                            f"Globex` (an id, a name or an email).")
    if verb == "ask":
        return Message(text="What would you like to ask? Try `/acme ask is the CRM up?`.")
    return Message(text=f"Which customer? Try `/acme {verb} Globex` (an id, a name or an email).")


def customer_summary(summary: CustomerSummary) -> Message:
    c = summary.customer
    heading = f"*{escape_line(c.name)}* ({escape_line(c.company)})"
    # A fact the CRM does not have is left out, not shown as a label with nothing after it.
    facts = "   ".join(f"*{label}:* {escape_line(value)}" for label, value in (
        ("Plan", c.plan), ("Status", c.status.replace("_", " ")), ("Owner", c.owner), ("Email", c.email),
        ("Id", c.id)) if value and value.strip())
    if summary.open_tickets:
        counts = ", ".join(f"{n} {p}" for p, n in summary.tickets_by_priority.items())
        lines = [
            f"{PRIORITY_EMOJI.get(t.priority, ':white_circle:')} *{escape_line(t.priority)}* {escape_line(t.subject)} "
            f"({escape_line(t.id)})"
            for t in summary.open_tickets[:MAX_TICKETS_SHOWN]
        ]
        hidden = len(summary.open_tickets) - MAX_TICKETS_SHOWN
        if hidden > 0:
            lines.append(f"\u2026 and {hidden} more")
        tickets = f"*Open tickets ({counts}):*\n" + "\n".join(lines)
    else:
        tickets = "*Open tickets:* none"
    attention = f":mag: *Needs attention:* {escape_line(summary.attention)}"
    fallback = (
        f"Summary of {escape_line(c.name)} ({escape_line(c.company)}): {escape_line(c.plan)} plan, "
        f"{escape_line(c.status.replace('_', ' '))}, " +
        (f"owner {escape_line(c.owner)}, " if c.owner.strip() else "") +
        f"{len(summary.open_tickets)} open ticket(s). {escape_line(summary.attention)}"
    )
    blocks = [section(heading + "\n" + facts), section(tickets), section(attention)]
    return Message(text=fallback, blocks=blocks)


# What was asked for, said again: enough to recognise it (a name pasted with a page after it is not repeated).
QUERY_SHOWN_CHARS = 100


def _asked(query: str) -> str:
    return escape_line(shortened(query, QUERY_SHOWN_CHARS))


def ambiguous_customer(result: Ambiguous) -> Message:
    choices = "\n".join(
        f"\u2022 *{escape_line(c.name)}* ({escape_line(c.company)}, {escape_line(c.email)}, id `{escape_line(c.id)}`)"
        for c in result.choices
    )
    text = f"Several customers match \u201c{_asked(result.query)}\u201d. Which one?\n{choices}\n" \
           f"Ask again with the id or the email."
    return Message(text=text, blocks=[section(text)])


def no_customer(result: NoMatch) -> Message:
    return Message(text=f"No customer matches \u201c{_asked(result.query)}\u201d.")
