"""What RQ still shows of the jobs a worker ran, now that its bookkeeping is trimmed (app/worker/acme_worker.py)."""

from __future__ import annotations

import time

import redis
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import FinishedJobRegistry, StartedJobRegistry

from app.queueing.job_table import SUMMARY_QUEUE
from tests.conftest import Stack


def _wait_for(predicate, timeout_s: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "waited too long"
        time.sleep(0.05)


def test_finished_jobs_are_finished_in_rq_and_the_workers_counts_add_up_when_it_stops(
        stack: Stack, redis_conn: redis.Redis) -> None:
    customers = ("Globex", "Initech", "Hooli")
    job_ids = []
    for customer in customers:
        assert stack.slash(f"summary {customer}").text == "Working on it..."
    finished = FinishedJobRegistry(SUMMARY_QUEUE, connection=redis_conn)
    _wait_for(lambda: finished.count == len(customers))
    job_ids = finished.get_job_ids()
    assert StartedJobRegistry(SUMMARY_QUEUE, connection=redis_conn).count == 0
    assert Queue(SUMMARY_QUEUE, connection=redis_conn).count == 0
    for job_id in job_ids:
        job = Job.fetch(job_id, connection=redis_conn)
        assert job.get_status() == JobStatus.FINISHED
        assert job.ended_at is not None and job.started_at is not None and job.ended_at >= job.started_at
        assert 0 < redis_conn.ttl(job.key) <= 600  # kept for its result_ttl, then gone
        assert job.return_value() is None  # its run keeps what it answered
    assert stack.worker is not None
    worker_key = stack.worker._worker.key
    stack.worker.stop()
    counts = redis_conn.hmget(worker_key, ["successful_job_count", "total_working_time", "current_job"])
    assert int(counts[0]) == len(customers) and float(counts[1]) > 0 and counts[2] is None
