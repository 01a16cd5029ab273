"""Safe mrkdwn shown through Slack's markdown (a streamed answer's `markdown_text`). Pure.

mrkdwn escaping (mrkdwn.py) already keeps `<...>` links and mentions from forming, but markdown has links
of its own: `[text](url)` shows `text` and hides where it goes, which from a model or the CRM is a phishing
link. A word joiner (invisible) after the `]` of a would-be link keeps it text, as mrkdwn shows it.
"""

from __future__ import annotations

import re

WORD_JOINER = "\u2060"
# `[text](url)`, `![alt](url)`, `[text][ref]` and a reference's definition `[ref]: url` all need the `]`
# followed at once by `(`, `[` or `:`.
_LINK_JOIN = re.compile(r"\](?=[(\[:])")


def as_markdown(safe_mrkdwn: str) -> str:
    return _LINK_JOIN.sub("]" + WORD_JOINER, safe_mrkdwn)
