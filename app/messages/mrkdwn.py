"""Slack mrkdwn escaping: the only three characters Slack asks us to escape."""

from __future__ import annotations


def escape(text: str) -> str:
    """Make `text` show literally in mrkdwn: `<!channel>` and `<@U1>` stop being mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Undo Slack's escaping of what a user typed, so `AT&amp;T` is searched as `AT&T`."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
