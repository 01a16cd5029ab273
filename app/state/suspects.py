"""Suspicions that must hold at two sweeps some time apart before a sweep acts on them.

A sweep that finds something amiss (a run whose job is gone, a job in no queue) may have caught it between
two of its states; the same finding at a later sweep, `confirm_s` on, is not a passing one. What each sweep
suspects is kept in a Redis hash, with when it was first suspected, so that whichever worker sweeps next
confirms it.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis
from redis.typing import EncodableT, FieldT


def confirmed(connection: redis.Redis, key: str, suspects: Iterable[str], at: float, confirm_s: float) -> list[str]:
    """The suspects an earlier sweep also suspected, `confirm_s` before `at` or more; the others are kept for
    the next sweep, and what is no longer suspected is forgotten."""
    return list(confirmed_since(connection, key, suspects, at, confirm_s))


def confirmed_since(connection: redis.Redis, key: str, suspects: Iterable[str], at: float,
                    confirm_s: float) -> dict[str, float]:
    """`confirmed`, with when each was first suspected."""
    seen = {_text(name): float(since) for name, since in connection.hgetall(key).items()}
    suspected = list(suspects)
    found = {name: seen[name] for name in suspected if name in seen and seen[name] <= at - confirm_s}
    with connection.pipeline() as pipeline:
        pipeline.delete(key)
        waiting: dict[FieldT, EncodableT] = {name: seen.get(name, at) for name in suspected if name not in found}
        if waiting:
            pipeline.hset(key, mapping=waiting)
        pipeline.execute()
    return found


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
