"""A snapshot of the shared state every process sees: breakers and queues. Pure data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BreakerStatus:
    name: str
    state: str
    retry_in_s: int | None


@dataclass(frozen=True)
class QueueStatus:
    name: str
    depth: int
    oldest_wait_s: float | None


@dataclass(frozen=True)
class SystemStatus:
    breakers: tuple[BreakerStatus, ...]
    queues: tuple[QueueStatus, ...]
