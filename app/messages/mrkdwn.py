"""Slack mrkdwn escaping: the only three characters Slack asks us to escape."""

from __future__ import annotations

import re

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


# Characters that show nothing of their own: C0 and C1 controls (NUL, BEL, ESC...) and the bidirectional overrides
# that reverse what follows them. Line breaks and tabs are kept by `escape`, and made spaces by `escape_line`.
_INVISIBLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_BREAKS = re.compile(r"[\t\n\r\x0b\x0c\x85\u2028\u2029]+")


def escape(text: str) -> str:
    """Make `text` show literally in mrkdwn: `<!channel>` and `<@U1>` stop being mentions, and control characters
    (a terminal's escapes, a right-to-left override) are dropped."""
    return _INVISIBLE.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).replace("&", "&amp;") \
        .replace("<", "&lt;").replace(">", "&gt;")


def escape_line(text: str) -> str:
    """`escape`, for a value shown within a line (a name, an owner, a ticket's subject): its line breaks become
    spaces, so that a value from the CRM cannot start lines of its own ("\n*Open tickets (0):* none")."""
    return escape(_BREAKS.sub(" ", text))


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
