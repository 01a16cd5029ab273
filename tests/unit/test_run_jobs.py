"""Which RQ job states mean a run's job will still run, and which leave the run an orphan."""

from __future__ import annotations

import pytest

from app.runs.run_jobs import JobState, _state


@pytest.mark.parametrize(("status", "live_leases", "state"), [
    ("queued", 0, JobState.DUE), ("scheduled", 0, JobState.DUE), ("deferred", 0, JobState.DUE),
    ("started", 1, JobState.RUNNING), ("started", 0, JobState.LAPSED),
    ("finished", 0, JobState.ENDED), ("failed", 0, JobState.ENDED), ("canceled", 0, JobState.ENDED),
    (None, 0, JobState.LOST),
])
def test_a_job_state_from_its_status_and_its_live_leases(status: str | None, live_leases: int,
                                                        state: JobState) -> None:
    assert _state(status, live_leases) is state
    assert state.will_run == (state in (JobState.DUE, JobState.RUNNING))
