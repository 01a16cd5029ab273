"""A message the bot sends: Block Kit blocks with a plain-text fallback. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.messages.long_text import clear_cut

# Slack cuts a section's text at 3,000 characters; stay clear of it.
MAX_SECTION_CHARS = 2900


@dataclass(frozen=True)
class Message:
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


def section(mrkdwn: str) -> dict[str, Any]:
    if len(mrkdwn) > MAX_SECTION_CHARS:
        mrkdwn = mrkdwn[: clear_cut(mrkdwn, MAX_SECTION_CHARS - 1)] + "\u2026"
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}
