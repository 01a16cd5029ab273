"""Runs recorded after the work that made them, written behind it, several at a time.

A summary takes a few milliseconds; recording it as its own two transactions cost more than the
work. A finished run is whole when it is handed over (run, step and events), so a thread of the
writer's own inserts everything waiting in one transaction, then publishes the events. The
database stays the record; what a crash can lose is the runs of the last few milliseconds, never
the work itself, which was done and answered before its record was written.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.exc import SQLAlchemyError

from app.runs.behind import Behind
from app.runs.events import EventPublisher
from app.store.db import Database
from app.store.models import Run, RunEvent, StepRun

log = logging.getLogger(__name__)
# Built once: a statement made anew for each batch costs SQLAlchemy its cache key every time.
_INSERT_RUNS = insert(cast(Table, Run.__table__))
_INSERT_STEPS = insert(cast(Table, StepRun.__table__))
_INSERT_EVENTS = insert(cast(Table, RunEvent.__table__))
MAX_BATCH = 500


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
        self._behind = Behind[FinishedRun]("run-records", self._write, max_batch=MAX_BATCH)

    def write(self, record: FinishedRun) -> None:
        self._behind.put(record)

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is still waiting, then stop the writer."""
        self._behind.close(timeout_s)

    def _write(self, records: list[FinishedRun]) -> None:
        try:
            with self._db.engine.begin() as connection:
                connection.execute(_INSERT_RUNS, [record.run for record in records])
                steps = [step for record in records for step in record.steps]
                if steps:
                    connection.execute(_INSERT_STEPS, steps)
                events = [event for record in records for event in record.events]
                if events:
                    connection.execute(_INSERT_EVENTS, events)
        except SQLAlchemyError as exc:
            # As when a run is recorded as it goes: the work was done; only its record is missing.
            log.warning("could not record %d run(s): %s", len(records), exc)
            return
        self._publisher.publish([event for record in records for event in record.published])
