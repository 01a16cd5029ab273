"""Text longer than a Slack field holds: cut where it reads well, and say that it was cut. Pure."""

from __future__ import annotations

import re

# An entity of escaped mrkdwn (`&amp;`, `&lt;`, `&gt;`) is at most 5 characters: a cut inside one shows
# the half as text.
_ENTITY_TAIL = re.compile(r"&[a-z]{0,3}$")
# How far back a cut looks for the end of a line or of a word before cutting mid-word.
_LOOK_BACK = 200


def clear_cut(text: str, limit: int) -> int:
    """Where to cut `text` to keep at most `limit` characters: after a line or a word if one ends near
    the limit, never inside an entity."""
    if len(text) <= limit:
        return len(text)
    for boundary in ("\n", " "):
        at = text.rfind(boundary, max(0, limit - _LOOK_BACK), limit)
        if at > 0:
            return at + 1
    tail = _ENTITY_TAIL.search(text[max(0, limit - 4):limit])
    return limit - len(tail.group()) if tail else limit


def shortened(text: str, limit: int) -> str:
    """`text` whole if it has at most `limit` characters, else its first `limit` and an ellipsis: what a person
    typed, said again, needs only enough to be recognised."""
    return text if len(text) <= limit else text[:limit] + "\u2026"


def cut_note(left_out: int) -> str:
    return f"\n_(cut here: {left_out:,} more characters did not fit in one Slack message)_"


def cut_saying_so(text: str, limit: int) -> str:
    """`text` whole if it fits in `limit` characters, else as much as fits with a note of what was left out."""
    if len(text) <= limit:
        return text
    note_room = len(cut_note(len(text)))
    end = clear_cut(text, limit - note_room)
    return text[:end] + cut_note(len(text) - end)


def pieces(text: str, size: int, most: int) -> list[str]:
    """`text` in at most `most` pieces of at most `size` characters, each cut where it reads well; the last
    piece says what did not fit."""
    parts: list[str] = []
    rest = text
    while rest and len(parts) < most - 1 and len(rest) > size:
        end = clear_cut(rest, size)
        parts.append(rest[:end])
        rest = rest[end:]
    if rest:
        parts.append(cut_saying_so(rest, size))
    return parts
