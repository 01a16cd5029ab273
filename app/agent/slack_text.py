"""What a message says once Slack's markup is read: channels it names, emails, mass mentions. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from app.messages.mrkdwn import unescape

_CHANNEL = re.compile(r"<#([CGD][A-Z0-9]{2,})(?:\|([^>]*))?>")
# A channel's id typed as it is ("post it in C0123ABCD"), not linked: read as the channel after "in", "to"...
# An id has a digit and only capitals, so a customer such as "Cyberdyne" or "C3po" is not one.
_BARE_CHANNEL = re.compile(r"(?i:\b(in|to|into|on|at|inside)\s+)(?:#)?([CG](?=[A-Z0-9]*\d)[A-Z0-9]{4,14})\b")
_MAILTO = re.compile(r"<mailto:([^|>]+)(?:\|[^>]*)?>")
_LINK = re.compile(r"<(https?://[^|>]+)(?:\|([^>]*))?>")
_USER = re.compile(r"<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>")
_SPECIAL = re.compile(r"<!(channel|here|everyone|subteam\^[A-Z0-9]+)(?:\|[^>]*)?>")
_PLAIN_MASS = re.compile(r"(?<![\w])@(channel|here|everyone)\b", re.IGNORECASE)
_EMOJI = re.compile(r":[a-z0-9_+\-]{2,}:")


@dataclass(frozen=True)
class SlackText:
    text: str
    channels: tuple[str, ...]
    channel_names: tuple[str, ...]
    mass_mention: bool
    users: tuple[str, ...]


def read_slack_text(raw: str, bot_user: str | None = None) -> SlackText:
    """The words of a Slack message with its markup resolved: `<#C1|sales>` becomes `#sales` (and C1 is
    kept), `<mailto:a@b|a@b>` becomes `a@b`, a leading mention of the bot is dropped."""
    text = raw.strip()
    leading = re.match(r"^(\s*<@[UW][A-Z0-9]{2,}(?:\|[^>]*)?>[\s,:]*)+", text)
    if leading and (bot_user is None or bot_user in leading.group(0)):
        text = text[leading.end():]
    channels, names = [], []
    for match in _CHANNEL.finditer(text):
        channels.append(match.group(1))
        names.append(match.group(2) or match.group(1))
    for match in _BARE_CHANNEL.finditer(_CHANNEL.sub(" ", text)):
        channels.append(match.group(2))
        names.append(match.group(2))
    mass = bool(_SPECIAL.search(text) or _PLAIN_MASS.search(text))
    users = tuple(_USER.findall(text))
    text = _CHANNEL.sub(lambda m: f"#{m.group(2) or m.group(1)}", text)
    text = _BARE_CHANNEL.sub(lambda m: f"{m.group(1)} #{m.group(2)}", text)
    text = _MAILTO.sub(lambda m: m.group(1), text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = _SPECIAL.sub(lambda m: f"@{m.group(1).split('^')[0]}", text)
    text = _USER.sub("", text)
    text = _EMOJI.sub(" ", text)
    text = unescape(text)
    return SlackText(" ".join(text.split()), tuple(channels), tuple(names), mass, users)


def narrowed(message: SlackText, text: str) -> SlackText:
    """The message cut down to `text` (a part of its words), with only the channels `text` still names."""
    named = [(channel, name) for channel, name in zip(message.channels, message.channel_names, strict=True)
             if re.search(rf"#{re.escape(name)}(?![\w-])", text, re.IGNORECASE)]
    return replace(message, text=text, channels=tuple(c for c, _ in named), channel_names=tuple(n for _, n in named))
