"""A worker process killed mid-job: the job runs again on another worker within seconds, and its work is done once."""

from __future__ import annotations

import os
import signal
import time

import redis
from rq import Worker
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry

from app.queueing.job_table import AGENT_QUEUE, QUEUE_ORDER, SUMMARY_QUEUE
from app.runs.builtin_workflows import AGENT_TURN
from tests.conftest import Stack
from tests.integration.test_worker_processes import Supervised, _two_workers_up, _wait_for, start_worker  # noqa: F401

LEASE_S = "3"
# The lease lapses 3 s after the killed worker's last renewal; the sweep comes within a second of it.
RERUN_WITHIN_S = 15.0


def _summaries(stack: Stack) -> list[str]:
    return [call.text for call in stack.slack.calls if "Summary of" in call.text]


def _kill_the_worker_running(job_id: str, connection: redis.Redis) -> int:
    [pid] = [w.pid for w in Worker.all(connection=connection) if w.get_current_job_id() == job_id]
    os.kill(pid, signal.SIGKILL)
    return pid


def test_a_job_whose_worker_process_dies_runs_again_on_another_worker_and_answers_once(
        stack_factory, redis_conn: redis.Redis, start_worker) -> None:  # noqa: F811
    stack = stack_factory(worker=False)
    supervised: Supervised = start_worker(stack, "--processes", "2", WORKER_JOB_LEASE_S=LEASE_S)
    _two_workers_up(supervised, redis_conn)
    stack.crm.faults("slow", delay_s=2.5)
    assert stack.slash("summary Globex").text == "Working on it..."
    started = StartedJobRegistry(SUMMARY_QUEUE, connection=redis_conn)
    _wait_for(lambda: started.count == 1, "a worker to be running the job")
    [job_id] = started.get_job_ids()
    _wait_for(lambda: any(w.get_current_job_id() == job_id for w in Worker.all(connection=redis_conn)),
              "the worker to say it runs the job")
    killed = _kill_the_worker_running(job_id, redis_conn)
    stack.crm.faults("ok")

    _wait_for(lambda: Job.fetch(job_id, connection=redis_conn).get_status() == JobStatus.FINISHED,
              "the job to run again and finish", timeout_s=RERUN_WITHIN_S)
    _wait_for(lambda: _summaries(stack), "the summary")
    assert len(_summaries(stack)) == 1
    assert not any("Something went wrong" in call.text for call in stack.slack.calls)
    log = supervised.log()
    assert f"worker process {killed} was killed by SIGKILL" in log
    assert f"{job_id} stopped renewing its lease" in log
    # Its run, written when the job ended, keeps the attempt that did not end beside the one that did.
    _wait_for(lambda: stack.http.get("/v1/runs").json()["items"], "the summary's run")
    [run] = stack.http.get("/v1/runs").json()["items"]
    steps = stack.http.get(f"/v1/runs/{run['id']}").json()["steps"]
    assert [step["status"] for step in steps] == ["retried", "succeeded"]


def test_a_job_that_a_dying_worker_took_off_its_queue_before_starting_it_runs_once(
        stack_factory, redis_conn: redis.Redis, start_worker) -> None:  # noqa: F811
    stack = stack_factory(worker=False)
    assert stack.slash("summary Globex").text == "Working on it..."
    # What a worker of several queues does before it writes the job's start; this one dies right after.
    _, taken = redis_conn.blpop([f"rq:queue:{name}" for name in QUEUE_ORDER], timeout=5)
    job_id = taken.decode()

    supervised: Supervised = start_worker(stack, WORKER_JOB_LEASE_S=LEASE_S)
    _wait_for(lambda: _summaries(stack), "the summary", timeout_s=RERUN_WITHIN_S)
    _wait_for(lambda: Job.fetch(job_id, connection=redis_conn).get_status() == JobStatus.FINISHED, "its job's end")
    assert len(_summaries(stack)) == 1
    assert f"job {job_id} was taken off {SUMMARY_QUEUE} by a worker that stopped before starting it" in supervised.log()


def test_an_agent_turn_whose_worker_dies_goes_on_as_the_same_run(
        stack_factory, redis_conn: redis.Redis, start_worker) -> None:  # noqa: F811
    stack = stack_factory(worker=False, acme_api_rate="1000/s")
    supervised: Supervised = start_worker(stack, "--processes", "2", WORKER_JOB_LEASE_S=LEASE_S)
    _two_workers_up(supervised, redis_conn)
    stack.crm.faults("slow", delay_s=2.5)
    stack.mention("summarize Globex")
    started = StartedJobRegistry(AGENT_QUEUE, connection=redis_conn)
    _wait_for(lambda: started.count == 1, "a worker to be running the turn")
    [job_id] = started.get_job_ids()
    _wait_for(lambda: any(w.get_current_job_id() == job_id for w in Worker.all(connection=redis_conn))
              and Job.fetch(job_id, connection=redis_conn).meta.get("acme_run"), "the turn to begin its run")
    # Killed once its stream is open and recorded (in the slow CRM call): a stream whose start's outcome is unknown
    # is started again, a limit of its own.
    _wait_for(lambda: any(c.method == "chat.startStream" for c in stack.slack.calls), "the turn's stream to open")
    time.sleep(0.3)
    _kill_the_worker_running(job_id, redis_conn)
    stack.crm.faults("ok")

    _wait_for(lambda: Job.fetch(job_id, connection=redis_conn).get_status() == JobStatus.FINISHED,
              "the turn to run again and finish", timeout_s=RERUN_WITHIN_S)
    runs = [r for r in stack.http.get("/v1/runs?limit=100").json()["items"] if r["workflow_id"] == AGENT_TURN.id]
    assert [r["status"] for r in runs] == ["succeeded"]  # one run, not one left running beside another
    assert sum(c.method in ("chat.stopStream", "chat.postMessage") and "Summary of Globex" in c.text
               for c in stack.slack.calls) == 1
    # What showed the turn's progress is not shown twice: one stream, stopped, and no second "Working on it...".
    assert [c.method for c in stack.slack.calls].count("chat.startStream") == 1
    assert [c.method for c in stack.slack.calls].count("chat.stopStream") == 1
    assert [c.text for c in stack.slack.calls].count("Working on it...") <= 1
