"""Which ledger the Slack effects made in a thread go in (app/integrations/slack_effects.py): the one lent to
the thread (it shows a job's progress for it), its deferring session's, or else its RQ job's.

RQ knows the job it runs in that thread only: a thread working for the job is lent the job's ledger, so that
what it posts is made once however often the job runs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rq import get_current_job

from app.integrations.slack_effects import EffectLedger, EffectRecords


class ThreadLedgers:
    def __init__(self, records: EffectRecords | None) -> None:
        self._records = records
        self._local = threading.local()

    def begin_session(self, job_key: str | None) -> None:
        """A deferring session runs a job in this thread under `job_key` (RQ's job id may differ)."""
        self._local.session = self._records.ledger(job_key) if self._records and job_key else None
        self._local.in_session = True

    def end_session(self) -> None:
        self._local.session = None
        self._local.in_session = False

    @contextmanager
    def lent(self, ledger: EffectLedger | None) -> Iterator[None]:
        """Effects made meanwhile in this thread are recorded in `ledger` (another thread's job's)."""
        self._local.lent = ledger
        try:
            yield
        finally:
            self._local.lent = None

    def current(self) -> EffectLedger | None:
        lent: EffectLedger | None = getattr(self._local, "lent", None)
        if lent is not None:
            return lent
        if getattr(self._local, "in_session", False):
            session: EffectLedger | None = self._local.session
            return session
        job = get_current_job()
        if job is None or self._records is None:
            return None
        # A new run of a job (even under the same id) is a new Job object: its calls count from the first again.
        by_job: tuple[EffectLedger, object] | None = getattr(self._local, "by_job", None)
        if by_job is None or by_job[1] is not job:
            by_job = self._local.by_job = (self._records.ledger(job.id), job)
        return by_job[0]
