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


# Slack's markup in what a person typed: a channel's link, a user's or group's mention, a special mention.
_TYPED_MARKUP = re.compile(r"<(#[CG][A-Z0-9]{2,}|@[UW][A-Z0-9]{2,}|!subteam\^[A-Z0-9]+|![a-z]+)(?:\|([^>]*))?>")


def quoted(typed: str) -> str:
    """What a person typed in Slack (Slack's escaping included), shown again: a channel still links, nobody is
    pinged (`@name` as text), and everything else reads as typed."""
    shown, at = [], 0
    for match in _TYPED_MARKUP.finditer(typed):
        shown.append(escape(unescape(typed[at:match.start()])))
        target, label = match.group(1), match.group(2)
        if target.startswith("#"):
            shown.append(f"<{target}>")
        else:
            name = (label or target.lstrip("@!").split("^")[0]).lstrip("@")
            shown.append(escape(unescape(f"@{name}")))
        at = match.end()
    shown.append(escape(unescape(typed[at:])))
    return "".join(shown)
