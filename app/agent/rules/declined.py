"""What a message asks NOT to be done ("don't summarize Globex", "no need to post it, just tell me"): taken
out before the rest is read, so that it is neither done nor read as a name ("DON'T"). Pure."""

from __future__ import annotations

import re

from app.agent.rules.vocabulary import CHANGE, DESTROY, HELP, KEYWORDS
from app.agent.slack_text import SlackText, narrowed

# Up to the end of its clause: a comma, a sentence's end, or "just", "but", "instead" that start what is asked.
# Not "why don't you ...", which asks for it.
_DECLINED = re.compile(
    r"(?<!why )\b(?:don['’]?t|do not|dont|no need (?:to|for)|never)\s+(?:bother\s+(?:to\s+|with\s+)?)?"
    r"(?P<verb>[\w-]+)(?P<rest>[^,.;!?]*?)(?=\s*(?:[,.;!?]|\b(?:just|but|instead|only|rather)\b|$))"
    # "summarize Umbrella Health, not Umbrella": the customer it is not about.
    r"|(?:,|\bbut)\s+not\s+(?P<other>[^,.;!?]+?)(?=\s*(?:[,.;!?]|$))", re.IGNORECASE)
# Refused, they ask for it: "don't forget to summarize Globex", "don't hesitate to post it".
_DO_IT = frozenset({"forget", "hesitate", "fail", "neglect", "wait", "delay"})
# Request words whose refusal is about this bot's work ("don't build a report"); "I don't know" stays as it is.
_NOT_REQUESTS = frozenset({None, HELP, CHANGE, DESTROY})


def _declined(match: re.Match[str]) -> str:
    if match.group("other") is not None:
        return " "
    if match.group("verb").lower() in _DO_IT:
        return match.group(0)
    words = [match.group("verb"), *match.group("rest").split()]
    asked = any(KEYWORDS.concept_of(word.lower().strip("'’")) not in _NOT_REQUESTS for word in words)
    return " " if asked else match.group(0)


def without_declined(message: SlackText) -> SlackText | None:
    """The message without what it asks not to be done, or None when it asks nothing of the kind. A channel
    named only there ("don't post it in #sales") goes with it."""
    kept = _DECLINED.sub(_declined, message.text)
    if kept == message.text:
        return None
    return narrowed(message, " ".join(kept.split()))
