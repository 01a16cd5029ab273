"""Runs recorded after the work that made them, written behind it, several at a time.

A summary takes a few milliseconds; recording it as its own two transactions cost more than the
work. A finished run is whole when it is handed over (run, step and events), so a thread of the
writer's own inserts everything waiting in one transaction, then publishes the events. The
database stays the record; what a crash can lose is the runs of the last few milliseconds, never
the work itself, which was done and answered before its record was written.

When the database cannot take them (SQLite locked by another writer, a database restarting), the
records wait here and are tried again, backing off, in order: the jobs that made them are not held.
Past MAX_WAITING records still unwritten, new ones are dropped (and counted in the log) rather than
grow the process without bound.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.exc import SQLAlchemyError

from app.runs.behind import Behind
from app.runs.events import EventPublisher
from app.store.db import Database, is_transient
from app.store.models import Run, RunEvent, StepRun

log = logging.getLogger(__name__)
# Built once: a statement made anew for each batch costs SQLAlchemy its cache key every time.
_INSERT_RUNS = insert(cast(Table, Run.__table__))
_INSERT_STEPS = insert(cast(Table, StepRun.__table__))
_INSERT_EVENTS = insert(cast(Table, RunEvent.__table__))
MAX_BATCH = 500
# A record waits this long for others to share its transaction: at a few hundred runs a second, one commit
# for several instead of one each (a run's events reach its watchers that much later).
LINGER_S = 0.05
MAX_WAITING = 10_000
FIRST_RETRY_S = 0.05
MAX_RETRY_S = 2.0


@dataclass(frozen=True)
class FinishedRun:
    """A run's rows, as inserted, and the events to publish once they are committed."""

    run: dict[str, Any]
    steps: list[dict[str, Any]]
    events: list[dict[str, Any]]
    published: list[dict[str, Any]]


class RunRecordWriter:
    def __init__(self, db: Database, publisher: EventPublisher) -> None:
        self._db = db
        self._publisher = publisher
        self._behind = Behind[FinishedRun]("run-records", self._write, max_batch=MAX_BATCH,
                                           linger_s=LINGER_S)
        self._closing = threading.Event()
        self._count_lock = threading.Lock()
        self._waiting = 0
        self._dropped = 0

    def write(self, record: FinishedRun) -> None:
        with self._count_lock:
            if self._waiting >= MAX_WAITING:
                self._dropped += 1
                if self._dropped == 1:
                    log.error("run records are being dropped: %d wait for the database already", self._waiting)
                return
            self._waiting += 1
        self._behind.put(record)

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is still waiting (one more try each, if the database still refuses), then stop."""
        self._closing.set()
        self._behind.close(timeout_s)

    def _write(self, records: list[FinishedRun]) -> None:
        retry_s, since = FIRST_RETRY_S, time.monotonic()
        while True:
            try:
                self._insert(records)
                break
            except SQLAlchemyError as exc:
                if not is_transient(exc):
                    # As when a run is recorded as it goes: the work was done; only its record is missing.
                    log.warning("could not record %d run(s): %s", len(records), exc)
                    self._written(len(records))
                    return
                # Locked, gone or unreachable: the next try may find it back. Nothing else is written meanwhile,
                # so the records keep their order.
                reason = getattr(exc, "orig", None) or exc
                if self._closing.is_set():
                    log.warning("stopping with %d run record(s) unwritten: %s", len(records), reason)
                    self._written(len(records))
                    return
                if retry_s == FIRST_RETRY_S:
                    log.warning("run records wait for the database (%s): %d to write, trying again", reason,
                                len(records))
                self._closing.wait(retry_s)
                retry_s = min(retry_s * 2, MAX_RETRY_S)
        if retry_s != FIRST_RETRY_S:
            log.info("run records written after waiting %.1f s for the database", time.monotonic() - since)
        self._written(len(records))
        self._publisher.publish([event for record in records for event in record.published])

    def _written(self, count: int) -> None:
        with self._count_lock:
            self._waiting -= count
            dropped, self._dropped = self._dropped, 0
        if dropped:
            log.error("%d run record(s) were dropped while the database could not be written", dropped)

    def _insert(self, records: list[FinishedRun]) -> None:
        with self._db.engine.begin() as connection:
            connection.execute(_INSERT_RUNS, [record.run for record in records])
            steps = [step for record in records for step in record.steps]
            if steps:
                connection.execute(_INSERT_STEPS, steps)
            events = [event for record in records for event in record.events]
            if events:
                connection.execute(_INSERT_EVENTS, events)
