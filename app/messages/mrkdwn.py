"""Slack mrkdwn escaping: the only three characters Slack asks us to escape."""

from __future__ import annotations

import re

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


def escape(text: str) -> str:
    """Make `text` show literally in mrkdwn: `<!channel>` and `<@U1>` stop being mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Undo Slack's escaping of what a user typed, so `AT&amp;T` is searched as `AT&T`."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mention(user_id: str) -> str:
    """A mention of a user; built only from an id's shape, whatever else the payload says."""
    return f"<@{user_id}>" if _USER_ID.match(user_id) else escape(user_id)
