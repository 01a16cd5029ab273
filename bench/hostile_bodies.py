"""Benchmark of the ingress under a hung Redis and oversized bodies, run by hand: `python bench/hostile_bodies.py`.

Starts a real redis-server, the mock CRM and the Slack emulator (one helper process) and `acme serve`
(a real process; no worker: nothing here needs one), then measures:

1. Redis paused (SIGSTOP on redis-server): signed `/acme summary` commands sent open loop at --rate per
   second (--commands in all), latency from each one's scheduled send time, and what they were answered;
   meanwhile /healthz every 100 ms;
2. `acme serve`'s resident memory (VmRSS; VmHWM, its peak) before and after --uploads concurrent bodies
   of --megabytes each, sent chunked (no Content-Length, so the server must count) to /slack/events,
   /webhooks/crm and /v1/workflows in turn: what each was answered, how much of it went out before the
   answer, and a slash command's ack while they stream.

Everything listens on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import redis
from http_load import Connection, describe
from processes import answers, memory_kb, stack_settings, stop_all, wait_for
from slack_ack import open_loop

from app.embedded_redis import EmbeddedRedis, free_port
from app.slack_request_signer import SlackRequestSigner

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 64 * 1024
UPLOAD_PATHS = ("/slack/events", "/webhooks/crm", "/v1/workflows")


async def paused_run(port: int, signer: SlackRequestSigner, rate: float, count: int) -> tuple[list[float],
                                                                                              list[int], list[float]]:
    health_ms: list[float] = []
    done = asyncio.Event()

    async def poll_health() -> None:
        while not done.is_set():
            connection = await Connection.open(port)
            started = time.monotonic()
            await connection.request("GET", f"127.0.0.1:{port}", "/healthz")
            health_ms.append((time.monotonic() - started) * 1000)
            connection.close()
            await asyncio.sleep(0.1)

    poller = asyncio.create_task(poll_health())
    latencies, statuses = await open_loop(port, signer, rate, count / rate, "summary Globex", lambda n: f"C{n:07d}")
    done.set()
    await poller
    return latencies, statuses, health_ms


def upload(port: int, path: str, total: int, results: list[str]) -> None:
    """A `total`-byte body, chunked, stopping when the server answers or hangs up."""
    sent = 0
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as connection:
        connection.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n".encode())
        chunk = f"{CHUNK:x}\r\n".encode() + b"x" * CHUNK + b"\r\n"
        try:
            while sent < total:
                if select.select([connection], [], [], 0)[0]:
                    break
                connection.sendall(chunk)
                sent += CHUNK
            if sent >= total:
                connection.sendall(b"0\r\n\r\n")
            status = connection.recv(4096).split(b"\r\n", 1)[0].decode() or "(closed)"
        except (BrokenPipeError, ConnectionResetError) as exc:
            status = f"({type(exc).__name__})"
    results.append(f"{path}: {status}, {sent / 1e6:.1f} MB sent before it, {time.monotonic() - started:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=20, help="slash commands per second while Redis is paused")
    parser.add_argument("--commands", type=int, default=100)
    parser.add_argument("--uploads", type=int, default=4)
    parser.add_argument("--megabytes", type=int, default=50)
    args = parser.parse_args()

    redis_server = EmbeddedRedis().start()
    connection = redis.Redis.from_url(redis_server.url)
    redis_pid = int(connection.info("server")["process_id"])
    crm_port, slack_port, app_port = free_port(), free_port(), free_port()
    crm_url, slack_url, app_url = (f"http://127.0.0.1:{p}" for p in (crm_port, slack_port, app_port))
    signing_secret = os.urandom(16).hex()
    database = tempfile.TemporaryDirectory(prefix="acme-bench-")
    env = stack_settings(redis_url=redis_server.url, crm_url=crm_url, slack_url=slack_url, app_port=app_port,
                         database_dir=database.name, signing_secret=signing_secret)
    env.update(CRM_WEBHOOK_SECRET="whsec-bench")
    processes = [subprocess.Popen([sys.executable, str(ROOT / "bench/peers.py"), "--crm-port", str(crm_port),
                                   "--slack-port", str(slack_port)], env=env)]
    serve = subprocess.Popen([sys.executable, "-m", "app", "serve"], env=env)
    processes.append(serve)
    paused = False
    try:
        wait_for(lambda: answers(f"{app_url}/healthz") and answers(f"{crm_url}/admin/stats"), 30)
        signer = SlackRequestSigner(signing_secret, response_base_url=slack_url)
        # Connections in the server's pools first, as on a server that has run a while.
        body, headers = signer.slash_command("help", channel="CWARM", user="U0BENCH")
        httpx.post(f"{app_url}/slack/events", content=body, headers=headers).raise_for_status()
        print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")

        os.kill(redis_pid, signal.SIGSTOP)
        paused = True
        latencies, statuses, health_ms = asyncio.run(paused_run(app_port, signer, args.rate, args.commands))
        os.kill(redis_pid, signal.SIGCONT)
        paused = False
        bad = [s for s in statuses if s != 200]
        print(f"\n1. Redis paused: {args.commands} slash commands at {args.rate:.0f}/s: ack {describe(latencies)}; "
              f"non-200: {len(bad)}")
        print(f"   /healthz meanwhile: {describe(health_ms)}")
        body, headers = signer.slash_command("summary Globex", channel="CSAMPLE", user="U0BENCH")
        os.kill(redis_pid, signal.SIGSTOP)
        paused = True
        sample = httpx.post(f"{app_url}/slack/events", content=body, headers=headers, timeout=30)
        os.kill(redis_pid, signal.SIGCONT)
        paused = False
        print(f"   what a command is answered meanwhile: {sample.status_code} {sample.text!r}")

        before = memory_kb(serve.pid)
        results: list[str] = []
        uploads = [threading.Thread(target=upload, args=(app_port, UPLOAD_PATHS[n % len(UPLOAD_PATHS)],
                                                         args.megabytes * 1024 * 1024, results))
                   for n in range(args.uploads)]
        for thread in uploads:
            thread.start()
        time.sleep(0.05)
        body, headers = signer.slash_command("summary Globex", channel="CUPLOAD", user="U0BENCH")
        ack = httpx.post(f"{app_url}/slack/events", content=body, headers=headers, timeout=30)
        for thread in uploads:
            thread.join()
        after = memory_kb(serve.pid)
        print(f"\n2. {args.uploads} concurrent {args.megabytes} MB bodies, chunked:")
        for line in sorted(results):
            print(f"   {line}")
        print(f"   a slash command meanwhile: {ack.status_code} in {ack.elapsed.total_seconds() * 1000:.1f} ms")
        print(f"   acme serve memory (kB): before {before}, after {after}")
    finally:
        if paused:
            os.kill(redis_pid, signal.SIGCONT)
        stop_all(processes)
        connection.close()
        redis_server.stop()


if __name__ == "__main__":
    main()
