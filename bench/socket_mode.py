"""Benchmark of Slack over Socket Mode on this machine, run by hand: `python bench/socket_mode.py`.

Starts a real redis-server, the mock CRM and the Slack emulator (one helper process, for the
worker), our Socket Mode server (in this process: it sends the envelopes and times the acks), and
`acme serve` (with SLACK_APP_TOKEN, SLACK_API_URL pointing at this process's apps.connections.open)
and `acme worker` as real processes. Then:

1. ack latency over Socket Mode: `/acme summary` envelopes sent open-loop at --rate per second
   for --seconds, each from its own channel, by the Socket Mode server's own event loop; latency
   from the envelope's scheduled send time to its ack's arrival (so a stalled generator cannot
   hide queueing), and from its actual send;
2. the same load as signed HTTP POSTs to /slack/events of the same server, for comparison;
   with each, the CPU time `acme serve` spent per ack (steadier than latencies on a busy machine).
   The worker runs each load's summaries meanwhile, and the queues are drained between the two;
3. reconnection: the connection cut (no close frame) --drops times; from the cut to the app's new
   connection being greeted.

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
from pathlib import Path

import redis
from http_load import describe
from processes import answers, cpu_ms, memory_kb, stack_settings, stop_all, wait_for
from rq import Queue, Worker
from slack_ack import open_loop
from starlette.applications import Starlette

from app.embedded_redis import EmbeddedRedis, free_port
from app.http_server import BackgroundServer
from app.queueing.job_table import SUMMARY_QUEUE
from app.slack_request_signer import SlackRequestSigner
from app.socket_mode_emulator import SocketModeEmulator, envelope_of_http_request

ROOT = Path(__file__).resolve().parents[1]


def socket_open_loop(socket: SocketModeEmulator, signer: SlackRequestSigner, rate: float,
                     seconds: float) -> tuple[list[float], list[float], int]:
    """(scheduled -> ack ms, sent -> ack ms, envelopes without an ack)."""
    start = time.monotonic() + 0.2
    schedule = []
    for n in range(int(rate * seconds)):
        body, headers = signer.slash_command("summary Globex", channel=f"C{n:07d}", user="U0BENCH")
        schedule.append((start + n / rate, *envelope_of_http_request(body, headers["Content-Type"])))
    envelopes = socket.deliver_on_schedule(schedule)
    try:
        socket.wait_for(lambda: all(socket.ack_of(e) for e in envelopes), 30, "every ack")
    except TimeoutError:
        pass
    scheduled = {envelope: at for envelope, (at, _, _) in zip(envelopes, schedule, strict=True)}
    acks = [a for a in (socket.ack_of(e) for e in envelopes) if a is not None]
    from_schedule = [(a.acked_at - scheduled[a.envelope_id]) * 1000 for a in acks]
    return from_schedule, [a.latency_s * 1000 for a in acks], len(envelopes) - len(acks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200, help="slash commands per second (default 200)")
    parser.add_argument("--seconds", type=float, default=10, help="length of each open-loop run (default 10)")
    parser.add_argument("--drops", type=int, default=5, help="connections cut to time reconnection (default 5)")
    args = parser.parse_args()

    redis_server = EmbeddedRedis().start()
    socket = SocketModeEmulator().start()
    connections_api = BackgroundServer(Starlette(routes=socket.web_api_routes()), name="slack-connections").start()
    crm_port, slack_port, app_port = free_port(), free_port(), free_port()
    crm_url, slack_url, app_url = (f"http://127.0.0.1:{p}" for p in (crm_port, slack_port, app_port))
    signing_secret = secrets.token_hex(16)
    database = tempfile.TemporaryDirectory(prefix="acme-bench-")
    env = stack_settings(redis_url=redis_server.url, crm_url=crm_url, slack_url=slack_url, app_port=app_port,
                         database_dir=database.name, signing_secret=signing_secret)
    processes = [subprocess.Popen([sys.executable, str(ROOT / "bench/peers.py"), "--crm-port", str(crm_port),
                                   "--slack-port", str(slack_port)], env=env)]
    # acme serve calls no Slack method but apps.connections.open: that is all its SLACK_API_URL answers.
    serve = subprocess.Popen([sys.executable, "-m", "app", "serve"],
                             env={**env, "SLACK_API_URL": f"{connections_api.url}/api/",
                                  "SLACK_APP_TOKEN": f"xapp-1-A0BENCH-{secrets.token_hex(8)}"})
    worker = subprocess.Popen([sys.executable, "-m", "app", "worker"], env=env)
    connection = redis.Redis.from_url(redis_server.url)
    summaries = Queue(SUMMARY_QUEUE, connection=connection)

    def drained() -> bool:
        return summaries.count == 0 and summaries.started_job_registry.count == 0
    try:
        wait_for(lambda: answers(f"{app_url}/healthz") and answers(f"{crm_url}/admin/stats"), 30)
        wait_for(lambda: Worker.count(connection=connection) > 0, 30)
        socket.wait_connected(timeout_s=30)
        signer = SlackRequestSigner(signing_secret, response_base_url=slack_url)
        print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; worker running")
        socket_open_loop(socket, signer, 50, 1)  # warm-up: first calls import and connect

        cpu_before = cpu_ms(serve.pid)
        from_schedule, from_send, missing = socket_open_loop(socket, signer, args.rate, args.seconds)
        per_ack = (cpu_ms(serve.pid) - cpu_before) / max(1, len(from_send))
        print(f"\n1. Socket Mode ack latency, open loop {args.rate:.0f}/s for {args.seconds:.0f} s:")
        print(f"   scheduled -> ack: {describe(from_schedule)}")
        print(f"   sent -> ack:      {describe(from_send)}; without an ack: {missing}")
        print(f"   acme serve CPU per ack: {per_ack:.2f} ms")
        wait_for(drained, 300)

        cpu_before = cpu_ms(serve.pid)
        latencies, statuses = asyncio.run(open_loop(app_port, signer, args.rate, args.seconds,
                                                    "summary Globex", lambda n: f"H{n:07d}"))
        per_ack = (cpu_ms(serve.pid) - cpu_before) / max(1, len(statuses))
        print(f"\n2. HTTP /slack/events ack latency, same load: {describe(latencies)}; "
              f"non-200: {sum(s != 200 for s in statuses)}")
        print(f"   acme serve CPU per ack: {per_ack:.2f} ms")
        wait_for(drained, 300)

        reconnects = []
        for _ in range(args.drops):
            greeted = socket.greeted
            cut = time.monotonic()
            socket.drop()
            socket.wait_connected(greeted=greeted + 1, timeout_s=60)
            reconnects.append((time.monotonic() - cut) * 1000)
            time.sleep(0.2)
        print(f"\n3. connection cut -> new connection greeted: {describe(reconnects)}")
        print(f"\n4. acme serve memory at the end: {memory_kb(serve.pid)} (kB)")
    finally:
        stop_all([worker, serve])  # before the Slack emulator, so that no job is left retrying against nothing
        stop_all(processes)
        connections_api.stop()
        socket.stop()
        connection.close()
        redis_server.stop()
        database.cleanup()


if __name__ == "__main__":
    main()
