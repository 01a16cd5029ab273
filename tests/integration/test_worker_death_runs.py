"""A worker process killed mid-report and mid-API-run: the work runs again and its run, message and claim end well."""

from __future__ import annotations

import json
import time

import redis
from rq.registry import StartedJobRegistry
from sqlalchemy import select

from app.queueing.job_table import REPORT_QUEUE, RUN_QUEUE
from app.runs.builtin_workflows import SLACK_REPORT
from app.store.models import Run
from tests.conftest import CHANNEL, Stack
from tests.integration.test_api import SUMMARY_WORKFLOW, wait_for_run
from tests.integration.test_reports import add_tickets
from tests.integration.test_worker_death import LEASE_S, RERUN_WITHIN_S, _kill_the_worker_running
from tests.integration.test_worker_processes import Supervised, _two_workers_up, _wait_for, start_worker  # noqa: F401

RETRYING = "failed, retrying: the worker running it stopped"


def _running_job(queue: str, connection: redis.Redis) -> str:
    started = StartedJobRegistry(queue, connection=connection)
    _wait_for(lambda: started.count == 1, "a worker to be running the job")
    [job_id] = started.get_job_ids()
    return str(job_id)


def _slash_as(stack: Stack, user: str, text: str) -> None:
    body, headers = stack.signer.slash_command(text, channel=CHANNEL, user=user)
    assert stack.http.post("/slack/events", content=body, headers=headers).text == "Working on it..."


def test_a_report_whose_worker_was_killed_is_built_by_the_next_run_as_the_same_run_and_mentions_everyone_once(
        stack_factory, redis_conn: redis.Redis, start_worker) -> None:  # noqa: F811
    stack = stack_factory(worker=False)
    add_tickets(stack.crm, "cus_001", 6)
    supervised: Supervised = start_worker(stack, "--processes", "2", WORKER_JOB_LEASE_S=str(LEASE_S))
    _two_workers_up(supervised, redis_conn)
    stack.crm.faults("slow", delay_s=0.7)
    _slash_as(stack, "U0FIRST", "report Globex")
    job_id = _running_job(REPORT_QUEUE, redis_conn)
    stack.slack.wait_for(lambda calls: any("(3/4)" in c.text for c in calls if c.method == "chat.update"),
                         timeout_s=20)
    _kill_the_worker_running(job_id, redis_conn)
    # Asked while the report's worker lies dead: the claim still holds, so this asker waits for that report.
    _slash_as(stack, "U0SECOND", "report Globex")
    stack.slack.wait_for(lambda calls: any("already being built" in c.text for c in calls))
    stack.crm.faults("ok")

    stack.slack.wait_for(lambda calls: any("is ready: <" in c.text for c in calls if c.method == "chat.update"),
                         timeout_s=RERUN_WITHIN_S + 10)
    time.sleep(0.5)  # anything the re-run would wrongly post twice
    calls = stack.slack.calls
    uploads = [c for c in calls if c.method == "files.completeUploadExternal"]
    assert len(uploads) == 1
    [progress] = [c for c in calls if c.method == "chat.postMessage" and c.text == "Working on it..."]
    edits = [c.text for c in calls if c.method == "chat.update" and c.payload["ts"] == progress.payload["ts"]]
    assert any(":hourglass:" in text and "failed, retrying (the worker running it stopped)" in text for text in edits)
    assert "is ready: <https://" in edits[-1]
    told = [c.text + str(c.payload.get("initial_comment", "")) for c in calls if c.method != "response_url"]
    assert sum(text.count("<@U0SECOND>") for text in told) == 1
    assert sum(text.count("<@U0FIRST>") for text in told) == 1
    claim = json.loads(redis_conn.get(f"acme:report:{CHANNEL}:cus_001") or b"{}")
    assert claim.get("state") == "done"

    with stack.collaborators.db.session() as session:
        runs = session.scalars(select(Run).where(Run.workflow_id == SLACK_REPORT.id)).all()
        # The second asker's run ended when it was told to wait for the first's report.
        [run] = [r for r in runs if r.inputs["request"]["user_id"] == "U0FIRST"]
        assert [r.status for r in runs] == ["succeeded", "succeeded"]
    shown = stack.http.get(f"/v1/runs/{run.id}").json()
    events = shown["events"]
    assert [e["detail"].get("reason") for e in events if e["status"] == "waiting"] == [RETRYING]
    # The attempt its worker died in is kept beside the one that built the report.
    assert sorted(step["status"] for step in shown["steps"]) == ["retried", "succeeded"]
    assert [e["status"] for e in events if e["type"] == "run.status"][-1] == "succeeded"


def test_an_api_run_whose_worker_was_killed_runs_again_and_succeeds_saying_it_retried(
        stack_factory, redis_conn: redis.Redis, start_worker) -> None:  # noqa: F811
    stack = stack_factory(worker=False, acme_api_rate="1000/s")
    supervised: Supervised = start_worker(stack, "--processes", "2", WORKER_JOB_LEASE_S=str(LEASE_S))
    _two_workers_up(supervised, redis_conn)
    stack.crm.faults("slow", delay_s=1.5)
    workflow = stack.http.post("/v1/workflows", json=SUMMARY_WORKFLOW).json()
    run_id = stack.http.post(f"/v1/workflows/{workflow['id']}/run",
                             json={"inputs": {"customer": "Globex", "channel": CHANNEL}}).json()["run_id"]
    job_id = _running_job(RUN_QUEUE, redis_conn)
    assert job_id == f"run-{run_id}"
    # Killed in its second step, once the first has succeeded.
    _wait_for(lambda: [s["status"] for s in stack.http.get(f"/v1/runs/{run_id}").json()["steps"]]
              == ["succeeded", "running"], "the run's second step")
    _kill_the_worker_running(job_id, redis_conn)
    stack.crm.faults("ok")

    run = wait_for_run(stack, run_id, timeout_s=RERUN_WITHIN_S + 10)

    assert run["status"] == "succeeded"
    statuses = [(e["status"], e["detail"].get("reason")) for e in run["events"] if e["type"] == "run.status"]
    assert ("queued", RETRYING) in statuses
    assert statuses[-1] == ("succeeded", None)
    assert sum("Summary of Globex" in c.text for c in stack.slack.calls) == 1
    # The dead worker's attempt is not left "running" beside the one that succeeded.
    steps = [(s["step_id"], s["status"]) for s in run["steps"]]
    assert steps[-1] == ("post", "succeeded") and ("post", "retried") in steps
    assert "running" not in {status for _, status in steps}
    # The step that had succeeded is taken as done, not run again.
    assert [status for step, status in steps if step == "fetch"] == ["succeeded"]
