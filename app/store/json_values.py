"""JSON values that every reader can take: stored, listed, sent to Slack or to a model. Pure.

Python's json reads two things other readers refuse: half of a surrogate pair ("\\ud800", which cannot be
encoded, so a page or a request holding it fails) and NaN or Infinity (not JSON; PostgreSQL refuses them).
"""

from __future__ import annotations

import math
from typing import Any

# How deep a value may nest. Readers have limits of their own (pydantic's serializer, Python's recursion), met
# at every later page that lists the row; no request, tool or model needs a tenth of this.
MAX_DEPTH = 64
TOO_DEEP = f"[nested deeper than {MAX_DEPTH} levels]"


def well_formed(value: Any) -> Any:
    """`value` with each lone surrogate in its strings replaced by U+FFFD."""
    return _mended(value, numbers=False)


def recordable(value: Any) -> Any:
    """`value` as a record keeps it: well formed, and a number that is not one (NaN, Infinity) as null."""
    return _mended(value, numbers=True)


def _mended(value: Any, numbers: bool, depth: int = 0) -> Any:
    """The value mended; what nests past MAX_DEPTH is replaced by TOO_DEEP."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if numbers and isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, dict)) and depth >= MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, list):
        return [_mended(item, numbers, depth + 1) for item in value]
    if isinstance(value, dict):
        return {_mended(key, False): _mended(item, numbers, depth + 1) for key, item in value.items()}
    return value


def _lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def what_cannot_be_stored(value: Any) -> str | None:
    """Why `value` cannot be stored as it is (a NUL, a lone surrogate, NaN or Infinity, nesting deeper than
    MAX_DEPTH); None when it can."""
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (dict, list)) and depth >= MAX_DEPTH:
            return f"values may nest at most {MAX_DEPTH} levels deep"
        if isinstance(item, str):
            if "\x00" in item:
                return "text may not contain NUL (\\u0000) characters"
            if _lone_surrogate(item):
                return "text may not contain half of a surrogate pair (\\ud800 to \\udfff alone)"
        elif isinstance(item, float) and not math.isfinite(item):
            return "numbers must be finite: NaN and Infinity are not JSON"
        elif isinstance(item, dict):
            pending.extend((key, depth + 1) for key in item)
            pending.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
    return None
