"""The workers' share of ending orphaned runs (app/runs/orphans.py): one sweep a lease, by whichever worker
takes the turn first, from the maintenance of its loop between jobs."""

from __future__ import annotations

import logging
import math

import redis
from sqlalchemy.exc import SQLAlchemyError

from app.runs.orphans import OrphanRuns, Swept
from app.store.db import driver_detail

log = logging.getLogger(__name__)
TURN_KEY = "acme:sweep:orphan-runs"


class OrphanSweep:
    def __init__(self, runs: OrphanRuns, connection: redis.Redis, every_s: float) -> None:
        self._runs = runs
        self._redis = connection
        self._every_s = max(1, math.ceil(every_s))

    def __call__(self) -> Swept | None:
        """Sweep if no worker has in the last `every_s`; None when it was another's turn. Raises RedisError."""
        # Left to expire, not deleted: the key is both the lock and the time of the next turn.
        if not self._redis.set(TURN_KEY, 1, nx=True, ex=self._every_s):
            return None
        try:
            return self._runs.sweep()
        except SQLAlchemyError as exc:
            log.warning("could not look for orphaned runs: the database failed: %s", driver_detail(exc))
            return None
