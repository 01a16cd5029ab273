"""Separate requests in one message ("globex summary pls, and also open tickets for hooli", "what's new with
Initech? also is the CRM ok"): split where a new sentence, an "and also" or an "and" then a question starts one.
Pure.

Only what can be answered together is split off: reads of the CRM and the system's status. A message with a
request of another kind (a post, a report), or a part that asks nothing this planner reads, is read whole,
as before: "summarize Globex and post it to #sales" is one request, not two.
"""

from __future__ import annotations

import re

from app.agent.slack_text import SlackText, narrowed

# A new sentence, a semicolon, or an "also" after a comma or an "and" ("..., and also ...", "... and also ...").
_STARTS_ANOTHER = re.compile(r"(?<=[.?!;])\s+(?=\S)|;\s*|,\s*(?:and\s+)?also\s+|\s+and\s+also\s+"
                             # "who owns Hooli and what plan is Soylent on?": a question after "and" is another.
                             r"|,?\s+and\s+(?=(?:what|who|whose|which|how|is|are|does|do|did|any)\b)", re.IGNORECASE)
MAX_CLAUSES = 5


def clauses(message: SlackText) -> list[SlackText]:
    """The message's parts, each with the channels it names; the message alone when it has one part."""
    parts = [p.strip(" ,") for p in _STARTS_ANOTHER.split(message.text)]
    parts = [p for p in parts if any(ch.isalnum() for ch in p)]
    if len(parts) < 2 or len(parts) > MAX_CLAUSES:
        return [message]
    return [narrowed(message, part) for part in parts]

