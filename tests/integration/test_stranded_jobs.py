"""A job that a dying worker took off its queue before starting it is queued again, once, by the workers' sweep."""

from __future__ import annotations

import time

import redis

from app.queueing.job_queue import JobQueue, roll_key
from app.queueing.job_table import NOTIFICATION_QUEUE, NOTIFY, QUEUE_ORDER
from app.state.response_urls import ResponseUrls
from app.worker.stranded_jobs import StrandedJobs

QUEUE_KEY = f"rq:queue:{NOTIFICATION_QUEUE}"


def _queue_jobs(connection: redis.Redis, *ids: str) -> None:
    jobs = JobQueue(connection, ResponseUrls(connection))
    for job_id in ids:
        jobs.enqueue(NOTIFY, {"event": {"id": job_id}}, job_id=job_id, description="notify")


def _taken_by_a_worker(connection: redis.Redis) -> str:
    # What a worker of several queues does before it writes the job's start; here it dies right after.
    _, job_id = connection.blpop([f"rq:queue:{name}" for name in QUEUE_ORDER], timeout=1)
    return job_id.decode()


def _roll(connection: redis.Redis) -> list[str]:
    return [i.decode() for i in connection.zrange(roll_key(NOTIFICATION_QUEUE), 0, -1)]


def test_a_job_taken_and_never_started_is_queued_again_first_once_it_is_confirmed(redis_conn: redis.Redis) -> None:
    _queue_jobs(redis_conn, "taken", "waiting", "gone")
    assert _taken_by_a_worker(redis_conn) == "taken"
    redis_conn.delete("rq:job:gone")  # deleted, as a cancel deletes one
    redis_conn.lrem(QUEUE_KEY, 1, "gone")
    sweeps = StrandedJobs(redis_conn, QUEUE_ORDER, every_s=5, confirm_s=4)
    settled = time.time() + 3

    assert sweeps.sweep(now=settled) == []  # a suspect: a live worker may be about to write its start
    assert sorted(_roll(redis_conn)) == ["taken", "waiting"]
    assert sweeps.sweep(now=settled + 4) == ["taken"]
    assert [i.decode() for i in redis_conn.lrange(QUEUE_KEY, 0, -1)] == ["taken", "waiting"]
    assert sweeps.sweep(now=settled + 8) == []
    assert redis_conn.llen(QUEUE_KEY) == 2


def test_a_job_started_by_its_worker_before_the_second_sweep_is_left_alone(redis_conn: redis.Redis) -> None:
    _queue_jobs(redis_conn, "slow-to-start")
    _taken_by_a_worker(redis_conn)
    sweeps = StrandedJobs(redis_conn, QUEUE_ORDER, every_s=5, confirm_s=4)
    settled = time.time() + 3
    assert sweeps.sweep(now=settled) == []
    redis_conn.hset("rq:job:slow-to-start", "status", "started")  # its worker was slow, not dead

    assert sweeps.sweep(now=settled + 4) == []
    assert redis_conn.llen(QUEUE_KEY) == 0
    assert _roll(redis_conn) == ["slow-to-start"]  # until it ends


def test_jobs_just_queued_are_not_looked_at_and_ended_ones_leave_the_roll(redis_conn: redis.Redis) -> None:
    _queue_jobs(redis_conn, "new", "done")
    redis_conn.lrem(QUEUE_KEY, 1, "done")
    redis_conn.hset("rq:job:done", "status", "finished")
    redis_conn.zadd(f"rq:finished:{NOTIFICATION_QUEUE}", {"done": time.time() + 600})
    sweeps = StrandedJobs(redis_conn, QUEUE_ORDER, every_s=5, confirm_s=4)

    assert sweeps.sweep(now=time.time()) == []
    assert sorted(_roll(redis_conn)) == ["done", "new"]  # neither settled yet
    assert sweeps.sweep(now=time.time() + 3) == []
    assert _roll(redis_conn) == ["new"]
