"""How a piece of work ended when it could not be done. Pure."""

from __future__ import annotations


class Failed(str):
    """What a job returns when it could not do the work (and has told the user why)."""
