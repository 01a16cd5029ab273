"""Runs that nothing would end: their job lost from Redis, or a cancel its worker does not answer."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta

import redis
from rq import Queue
from rq.job import Job
from sqlalchemy import update
from websockets.sync.client import connect

from app.queueing.job_table import RUN_QUEUE
from app.runs.history import RunHistory
from app.runs.orphans import OrphanRuns
from app.store.models import Run, utcnow
from tests.conftest import CHANNEL, Stack
from tests.integration.test_api import SUMMARY_WORKFLOW, wait_for_run

LEASE_S = 3
LOST = "its job was lost (the worker or Redis stopped)"


def _until(predicate: Callable[[], object], what: str, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited too long for {what}")
        time.sleep(0.05)


def _queued_run(api: Stack, workflow: dict | None = None) -> str:
    workflow = workflow or api.http.post("/v1/workflows", json=SUMMARY_WORKFLOW).json()
    started = api.http.post(f"/v1/workflows/{workflow['id']}/run",
                            json={"inputs": {"customer": "Globex", "channel": CHANNEL}})
    assert started.status_code == 202
    return str(started.json()["run_id"])


def _lose_the_job(connection: redis.Redis, run_id: str) -> None:
    """As when Redis lost its data: the job's record and its place in the queue are gone."""
    job_id = f"run-{run_id}"
    assert connection.delete(Job.key_for(job_id)) == 1
    connection.lrem(Queue(RUN_QUEUE, connection=connection).key, 0, job_id)


def _as_if(api: Stack, run_id: str, **values: object) -> None:
    """The run's row as an earlier moment of its life left it (made long ago, or taken by a worker)."""
    with api.collaborators.db.session() as session:
        session.execute(update(Run).where(Run.id == run_id).values(**values))


def test_a_run_whose_job_redis_lost_is_failed_by_a_worker_with_the_reason_and_watchers_see_it(
        stack_factory, redis_conn: redis.Redis) -> None:
    api = stack_factory(worker=False, worker_job_lease_s=LEASE_S)
    run_id = _queued_run(api)
    _lose_the_job(redis_conn, run_id)
    # Past the grace that spares a run whose job is still on its way to the queue.
    _as_if(api, run_id, created_at=utcnow() - timedelta(minutes=5))
    young_id = _queued_run(api)
    _lose_the_job(redis_conn, young_id)

    ws_url = api.app.url.replace("http://", "ws://") + f"/v1/ws?run_id={run_id}"
    with connect(ws_url, open_timeout=5) as socket:
        api.start_worker()
        event = json.loads(socket.recv(timeout=15))

    assert (event["type"], event["status"], event["error"]) == ("run.status", "failed", LOST)
    run = api.http.get(f"/v1/runs/{run_id}").json()
    assert (run["status"], run["error"]) == ("failed", LOST)
    assert run["events"][-1]["status"] == "failed" and run["events"][-1]["detail"] == {"error": LOST}
    # Made a moment ago, its job may still be coming: it is left alone.
    assert api.http.get(f"/v1/runs/{young_id}").json()["status"] == "queued"


def test_a_run_is_swept_only_when_two_sweeps_found_its_job_gone(stack_factory, redis_conn: redis.Redis,
                                                                any_db: str) -> None:
    api = stack_factory(worker=False, worker_job_lease_s=LEASE_S, database_url=any_db)
    run_id = _queued_run(api)
    kept_id = _queued_run(api)
    _as_if(api, run_id, created_at=utcnow() - timedelta(minutes=5))
    _as_if(api, kept_id, created_at=utcnow() - timedelta(minutes=5))
    _lose_the_job(redis_conn, run_id)
    orphans = OrphanRuns(RunHistory(api.collaborators.db, api.collaborators.run_events), redis_conn, LEASE_S)

    now = utcnow()
    assert orphans.sweep(now).failed == ()
    assert orphans.sweep(now + timedelta(seconds=LEASE_S)).failed == (run_id,)
    # Its job still queued, the other run is no orphan however old.
    assert api.http.get(f"/v1/runs/{kept_id}").json()["status"] == "queued"


def test_cancelling_a_running_run_whose_job_is_gone_cancels_it_at_once(stack_factory,
                                                                        redis_conn: redis.Redis) -> None:
    api = stack_factory(worker=False)
    run_id = _queued_run(api)
    _as_if(api, run_id, status="running", started_at=utcnow())
    _lose_the_job(redis_conn, run_id)

    cancelled = api.http.post(f"/v1/runs/{run_id}/cancel")

    assert cancelled.status_code == 202 and cancelled.json() == {"run_id": run_id, "status": "cancelled"}
    assert api.http.get(f"/v1/runs/{run_id}").json()["status"] == "cancelled"


def test_cancelling_a_queued_run_takes_its_job_off_the_queue_and_it_never_runs(stack_factory,
                                                                                redis_conn: redis.Redis) -> None:
    api = stack_factory(worker=False)
    workflow = api.http.post("/v1/workflows", json=SUMMARY_WORKFLOW).json()
    run_id = _queued_run(api, workflow)
    assert Job.exists(f"run-{run_id}", connection=redis_conn)

    assert api.http.post(f"/v1/runs/{run_id}/cancel").json()["status"] == "cancelled"

    assert not Job.exists(f"run-{run_id}", connection=redis_conn)
    assert Queue(RUN_QUEUE, connection=redis_conn).count == 0
    api.start_worker()
    later = wait_for_run(api, _queued_run(api, workflow))
    assert later["status"] == "succeeded"
    run = api.http.get(f"/v1/runs/{run_id}").json()
    assert run["status"] == "cancelled" and run["steps"] == [] and run["started_at"] is None
    assert sum("Summary of Globex" in call.text for call in api.slack.calls) == 1


def test_a_cancel_its_busy_worker_does_not_answer_ends_the_run_a_lease_later_and_it_stays_cancelled(
        stack_factory, redis_conn: redis.Redis) -> None:
    api = stack_factory(worker_job_lease_s=LEASE_S)
    api.crm.faults("slow", delay_s=1.5)
    run_id = _queued_run(api)
    _until(lambda: api.http.get(f"/v1/runs/{run_id}").json()["status"] == "running", "the run to start")

    asked = api.http.post(f"/v1/runs/{run_id}/cancel")
    assert asked.json() == {"run_id": run_id, "status": "cancelling"}
    orphans = OrphanRuns(RunHistory(api.collaborators.db, api.collaborators.run_events), redis_conn, LEASE_S)
    assert orphans.sweep().cancelled == ()
    assert orphans.sweep(utcnow() + timedelta(seconds=LEASE_S + 1)).cancelled == (run_id,)
    assert api.http.get(f"/v1/runs/{run_id}").json()["status"] == "cancelled"

    api.crm.faults("ok")
    # The worker ends its step, finds the run ended, and leaves it so.
    _until(lambda: not api.collaborators.jobs.queue(RUN_QUEUE).started_job_registry.count, "the job to end")
    run = api.http.get(f"/v1/runs/{run_id}").json()
    assert run["status"] == "cancelled" and run["error"] == "cancelled; its worker did not stop it within a lease"
    assert [e["status"] for e in run["events"] if e["type"] == "run.status"][-1] == "cancelled"
