"""Benchmark of the Slack path on this machine, run by hand: `python bench/slack_ack.py`.

Starts a real redis-server, the mock CRM and the Slack emulator (one helper process),
`acme serve` and `acme worker` (real processes), then measures:

1. ack latency: signed `/acme summary` commands sent open-loop at --rate per second for
   --seconds, latency counted from each request's scheduled send time (so a stalled
   generator cannot hide queueing); each from its own channel, since Slack (and our
   pacing) allows about one message per second per channel;
2. ack -> summary posted: one command at a time, from the ack's arrival to the summary's
   arrival at the Slack emulator (one clock: CLOCK_MONOTONIC is shared by processes);
3. breaker open: the CRM down and the breaker tripped; from the job's start (RQ's own
   started_at) to the failure message reaching Slack, and whether the CRM saw any call;
4. `acme serve`'s resident memory (VmRSS now, VmHWM at its peak).

With the first part it prints the CPU time `acme serve` spent per ack and the worker per
summary (from /proc): steadier than latencies when the machine is busy with something else.

Everything listens on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path

import httpx
import redis
from http_load import Connection, describe
from processes import answers, cpu_ms, memory_kb, stack_settings, stop_all, wait_for
from rq import Queue, Worker
from rq.registry import FinishedJobRegistry

from app.embedded_redis import EmbeddedRedis, free_port
from app.queueing.job_table import SUMMARY_QUEUE
from app.slack_request_signer import SlackRequestSigner

ROOT = Path(__file__).resolve().parents[1]


async def open_loop(port: int, signer: SlackRequestSigner, rate: float, seconds: float,
                    text: str, channel_for: callable,
                    acked_at: dict[str, float] | None = None) -> tuple[list[float], list[int]]:
    """Signed slash commands sent open loop; latencies count from each one's scheduled send time. With
    `acked_at`, also when each channel's ack arrived (time.monotonic())."""
    idle: list[Connection] = [await Connection.open(port) for _ in range(32)]
    latencies: list[float] = []
    statuses: list[int] = []

    async def one(n: int, scheduled: float) -> None:
        conn = idle.pop() if idle else await Connection.open(port)
        channel = channel_for(n)
        body, headers = signer.slash_command(text, channel=channel, user="U0BENCH")
        try:
            status, _ = await conn.request("POST", f"127.0.0.1:{port}", "/slack/events", body.encode(), headers)
        except ConnectionError:
            # The server closed a kept-alive connection that sat idle (uvicorn: after 5 s); like any
            # HTTP client, send again on a new one. The time it takes still counts.
            conn.close()
            conn = await Connection.open(port)
            status, _ = await conn.request("POST", f"127.0.0.1:{port}", "/slack/events", body.encode(), headers)
        answered = time.monotonic()
        if acked_at is not None:
            acked_at[channel] = answered
        latencies.append((answered - scheduled) * 1000)
        statuses.append(status)
        idle.append(conn)

    total = round(rate * seconds)
    start = time.monotonic() + 0.1
    tasks = []
    for n in range(total):
        scheduled = start + n / rate
        delay = scheduled - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n, scheduled)))
    await asyncio.gather(*tasks)
    for conn in idle:
        conn.close()
    return latencies, statuses


def slack_calls(slack_url: str) -> list[dict]:
    return httpx.get(f"{slack_url}/_bench/calls", timeout=30).json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200, help="slash commands per second (default 200)")
    parser.add_argument("--seconds", type=float, default=10, help="length of the open-loop run (default 10)")
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--no-worker-during-load", action="store_true",
                        help="measure acks with the worker stopped (jobs wait in Redis)")
    args = parser.parse_args()

    redis_server = EmbeddedRedis().start()
    crm_port, slack_port, app_port = free_port(), free_port(), free_port()
    crm_url, slack_url, app_url = (f"http://127.0.0.1:{p}" for p in (crm_port, slack_port, app_port))
    signing_secret = secrets.token_hex(16)
    database = tempfile.TemporaryDirectory(prefix="acme-bench-")
    env = stack_settings(redis_url=redis_server.url, crm_url=crm_url, slack_url=slack_url, app_port=app_port,
                         database_dir=database.name, signing_secret=signing_secret)
    env.update(CRM_BREAKER_RESET_S="300")
    processes = [subprocess.Popen([sys.executable, str(ROOT / "bench/peers.py"), "--crm-port", str(crm_port),
                                   "--slack-port", str(slack_port)], env=env)]
    serve = subprocess.Popen([sys.executable, "-m", "app", "serve"], env=env)
    processes.append(serve)

    def start_worker() -> subprocess.Popen:
        worker = subprocess.Popen([sys.executable, "-m", "app", "worker", "--processes", "1"], env=env)
        processes.append(worker)
        return worker

    worker = None if args.no_worker_during_load else start_worker()
    connection = redis.Redis.from_url(redis_server.url)
    try:
        wait_for(lambda: answers(f"{app_url}/healthz") and answers(f"{crm_url}/admin/stats"), 30)
        # A worker counts its CPU from when it is ready, not from its start-up.
        wait_for(lambda: worker is None or Worker.count(connection=connection) > 0, 30)
        signer = SlackRequestSigner(signing_secret, response_base_url=slack_url)
        print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")

        # 1. open-loop acks
        serve_cpu_before = cpu_ms(serve.pid)
        worker_cpu_before = cpu_ms(worker.pid) if worker else 0.0
        latencies, statuses = asyncio.run(open_loop(app_port, signer, args.rate, args.seconds,
                                                    "summary Globex", lambda n: f"C{n:07d}"))
        bad = [s for s in statuses if s != 200]
        print(f"\n1. ack latency, open loop {args.rate:.0f}/s for {args.seconds:.0f} s "
              f"({'worker stopped' if worker is None else 'worker running'}): {describe(latencies)}; "
              f"non-200: {len(bad)}")
        print(f"   acme serve memory after the load: {memory_kb(serve.pid)}; "
              f"CPU per ack: {(cpu_ms(serve.pid) - serve_cpu_before) / len(statuses):.2f} ms")
        if worker is None:
            worker = start_worker()
        queue = Queue(SUMMARY_QUEUE, connection=connection)
        wait_for(lambda: queue.count == 0, 300)
        wait_for(lambda: sum(c["method"] == "chat.postMessage" for c in slack_calls(slack_url)) >= len(statuses),
                 120)
        print(f"   acme worker CPU per summary (those {len(statuses)} jobs, idle polling included): "
              f"{(cpu_ms(worker.pid) - worker_cpu_before) / len(statuses):.2f} ms")

        # 2. ack -> summary posted, one at a time, CRM at no delay
        to_summary = []
        for n in range(args.latency_samples):
            channel = f"CL{n:05d}"
            body, headers = signer.slash_command("summary Globex", channel=channel, user="U0BENCH")
            response = httpx.post(f"{app_url}/slack/events", content=body, headers=headers)
            acked = time.monotonic()
            assert response.text == "Working on it...", response.text
            posted = None
            while posted is None:
                posted = next((c["at"] for c in slack_calls(slack_url) if c["channel"] == channel), None)
                if posted is None:
                    time.sleep(0.002)
            to_summary.append((posted - acked) * 1000)
        print(f"\n2. ack -> summary posted (mock CRM at no delay): {describe(to_summary)}")

        # 3. breaker open: failure message after the job starts, no call to the CRM
        httpx.post(f"{crm_url}/admin/faults", json={"mode": "down"}).raise_for_status()
        tripped = 0
        while connection.get("acme:CRM:pybreaker:state") != b"open":
            body, headers = signer.slash_command("summary Globex", channel=f"CT{tripped:05d}", user="U0BENCH")
            httpx.post(f"{app_url}/slack/events", content=body, headers=headers)
            tripped += 1
            time.sleep(0.5)
        wait_for(lambda: queue.count == 0 and queue.started_job_registry.count == 0)
        crm_calls_before = httpx.get(f"{crm_url}/admin/stats").json()["api_requests"]
        finished_before = set(FinishedJobRegistry(queue=queue).get_job_ids())
        samples = 100
        for n in range(samples):
            body, headers = signer.slash_command("summary Globex", channel=f"CO{n:05d}", user="U0BENCH")
            httpx.post(f"{app_url}/slack/events", content=body, headers=headers)
            time.sleep(0.01)
        registry = FinishedJobRegistry(queue=queue)
        wait_for(lambda: len(set(registry.get_job_ids()) - finished_before) >= samples)
        posted_at = {c["channel"]: c["received_at"] for c in slack_calls(slack_url) if c["channel"].startswith("CO")}
        fail_fast = []
        for job in queue.job_class.fetch_many(list(set(registry.get_job_ids()) - finished_before),
                                              connection=connection):
            channel = job.kwargs["request"]["channel_id"]
            started = job.started_at if job.started_at.tzinfo else job.started_at.replace(tzinfo=UTC)
            fail_fast.append((posted_at[channel] - started.timestamp()) * 1000)
        crm_calls_after = httpx.get(f"{crm_url}/admin/stats").json()["api_requests"]
        print(f"\n3. breaker open (tripped after {tripped} commands): job start -> failure message posted: "
              f"{describe(fail_fast)}; CRM calls during these {samples} jobs: {crm_calls_after - crm_calls_before}")
        print(f"\n4. acme serve memory at the end: {memory_kb(serve.pid)} (kB)")
    finally:
        stop_all(processes)
        connection.close()
        redis_server.stop()
        database.cleanup()


if __name__ == "__main__":
    main()
