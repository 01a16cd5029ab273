"""Benchmark, run by hand: the time from a worker's death mid-job to the job's re-run and to the summary posted.

`python bench/worker_death.py [--trials 5] [--lease 15]` starts a redis-server, the mock CRM (slow: 2 s a call,
so that the job is mid-flight), a fake Slack and `acme worker --processes 2`, then for each trial queues a
summary, SIGKILLs the worker process running it, and times the job's next start (on another worker, or the
replacement) and the summary's arrival in the fake Slack. WORKER_JOB_LEASE_S is --lease (default: the
product's default). Everything listens on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import httpx
import redis
from processes import wait_for
from rq import Worker
from rq.job import Job

from app.embedded_redis import EmbeddedRedis
from app.http_server import BackgroundServer
from app.queueing.job_queue import JobQueue
from app.queueing.job_table import SUMMARY
from app.queueing.slack_request import SlackRequest
from app.slack_emulator import SlackEmulator
from app.state.response_urls import ResponseUrls
from mock_crm.server import CrmState, create_crm_app


def describe(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    return (f"n={len(ordered)} min={ordered[0]:.2f} s median={ordered[len(ordered) // 2]:.2f} s "
            f"max={ordered[-1]:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--lease", type=int, default=15, help="WORKER_JOB_LEASE_S")
    args = parser.parse_args()
    server = EmbeddedRedis().start()
    crm = BackgroundServer(create_crm_app(CrmState()), name="mock-crm").start()
    slack_api = SlackEmulator()
    slack = BackgroundServer(slack_api.asgi_app(), name="fake-slack").start()
    connection = redis.Redis.from_url(server.url)
    jobs = JobQueue(connection, ResponseUrls(connection))
    with tempfile.TemporaryDirectory() as workdir:
        env = {**os.environ, "REDIS_URL": server.url, "CRM_BASE_URL": crm.url, "SLACK_API_URL": f"{slack.url}/api/",
               "SLACK_BOT_TOKEN": "xoxb-bench", "DATABASE_URL": f"sqlite:///{workdir}/acme.db",
               "WORKER_JOB_LEASE_S": str(args.lease), "LOG_LEVEL": "WARNING"}
        subprocess.run([sys.executable, "-m", "app", "db", "upgrade"], env=env, check=True, cwd=workdir,
                       capture_output=True)
        worker = subprocess.Popen([sys.executable, "-m", "app", "worker", "--processes", "2"], env=env, cwd=workdir,
                                  stderr=subprocess.DEVNULL)
        reruns, answers = [], []
        try:
            wait_for(lambda: len(Worker.all(connection=connection)) >= 2)
            for trial in range(args.trials):
                httpx.post(f"{crm.url}/admin/faults", json={"mode": "slow", "delay_s": 2.0}).raise_for_status()
                request = SlackRequest(uuid.uuid4().hex, "command", "T1", f"C{trial}", "U1", customer="Globex")
                job_id = jobs.enqueue_slack(SUMMARY, request)
                owner: list[int] = []

                def running(job_id: str = job_id, owner: list[int] = owner) -> bool:
                    owner[:] = [w.pid for w in Worker.all(connection=connection) if w.get_current_job_id() == job_id]
                    return bool(owner)

                wait_for(running)
                os.kill(owner[0], signal.SIGKILL)
                died_at = time.monotonic()
                httpx.post(f"{crm.url}/admin/faults", json={"mode": "ok"}).raise_for_status()
                first_start = Job.fetch(job_id, connection=connection).started_at
                wait_for(lambda job_id=job_id, first=first_start:
                         Job.fetch(job_id, connection=connection).started_at != first, timeout_s=300, poll_s=0.02)
                reruns.append(time.monotonic() - died_at)
                wait_for(lambda channel=request.channel_id: any(
                    c.payload.get("channel") == channel and "Summary of" in str(c.payload.get("text", ""))
                    for c in slack_api.calls), timeout_s=120, poll_s=0.02)
                answers.append(time.monotonic() - died_at)
                print(f"trial {trial + 1}: re-run {reruns[-1]:.2f} s after the kill, summary {answers[-1]:.2f} s")
                wait_for(lambda: len(Worker.all(connection=connection)) >= 2)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
            crm.stop()
            slack.stop()
            server.stop()
    print(f"WORKER_JOB_LEASE_S={args.lease}, {args.trials} trials")
    print(f"death -> job re-run:        {describe(reruns)}")
    print(f"death -> summary posted:    {describe(answers)}")


if __name__ == "__main__":
    main()
