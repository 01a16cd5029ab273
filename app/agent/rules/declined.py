"""What a message asks NOT to be done ("don't summarize Globex", "no need to post it, just tell me"): taken
out before the rest is read, so that it is neither done nor read as a name ("DON'T"). Pure."""

from __future__ import annotations

import re

from app.agent.rules.vocabulary import CHANGE, DESTROY, HELP, KEYWORDS
from app.agent.slack_text import SlackText, narrowed

# Up to the end of its clause: a comma, a sentence's end, or "just", "but", "instead" that start what is asked.
# Not "why don't you ...", which asks for it.
_DECLINED = re.compile(
    r"(?<!why )\b(?:don['’]?t|do not|dont|no need to|never)\s+(?:bother\s+(?:to\s+|with\s+)?)?(?P<verb>[\w-]+)"
    r"[^,.;!?]*?(?=\s*(?:[,.;!?]|\b(?:just|but|instead|only|rather)\b|$))", re.IGNORECASE)
# Verbs whose refusal is about this bot's work; "don't forget to ...", "I don't know" stay as they are.
_NOT_REQUESTS = frozenset({None, HELP, CHANGE, DESTROY})


def without_declined(message: SlackText) -> SlackText | None:
    """The message without what it asks not to be done, or None when it asks nothing of the kind. A channel
    named only there ("don't post it in #sales") goes with it."""
    kept = _DECLINED.sub(lambda m: " " if KEYWORDS.concept_of(m.group("verb").lower()) not in _NOT_REQUESTS
                         else m.group(0), message.text)
    if kept == message.text:
        return None
    return narrowed(message, " ".join(kept.split()))
