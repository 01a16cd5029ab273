"""Benchmark of the REST API, run by hand: `python bench/api.py [--database-url URL]`.

Starts a real redis-server, `acme serve` and `acme worker` (real processes), makes a
workflow of one `crm.search_customers` step against the mock CRM, then for each of
GET /v1/runs/{id} and POST /v1/workflows/{id}/run keeps --connections requests in
flight for --seconds (closed loop) and prints the request rate and latency percentiles.
The per-key rate limit is raised for the run (ACME_API_RATE=100000/s): the default,
20/s per key, would measure the limiter instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from http_load import Connection, describe
from processes import stop_all

from app.embedded_redis import EmbeddedRedis, free_port

ROOT = Path(__file__).resolve().parents[1]


async def closed_loop(port: int, method: str, paths: list[str], body: bytes, connections: int,
                      seconds: float) -> tuple[list[float], dict[int, int], float]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.monotonic() + seconds
    headers = {"Content-Type": "application/json"}

    async def client(n: int) -> None:
        conn = await Connection.open(port)
        i = n
        while time.monotonic() < deadline:
            started = time.monotonic()
            status, _ = await conn.request(method, f"127.0.0.1:{port}", paths[i % len(paths)], body, headers)
            latencies.append((time.monotonic() - started) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
            i += connections
        conn.close()

    began = time.monotonic()
    await asyncio.gather(*(client(n) for n in range(connections)))
    return latencies, statuses, time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--database-url", help="default: a new SQLite file")
    args = parser.parse_args()

    redis_server = EmbeddedRedis().start()
    files = tempfile.TemporaryDirectory(prefix="acme-bench-")
    crm_port, app_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CRM_", "ACME_"))}
    env.update(SLACK_BOT_TOKEN=f"xoxb-bench-{secrets.token_hex(6)}", SLACK_SIGNING_SECRET=secrets.token_hex(16),
               CRM_BASE_URL=f"http://127.0.0.1:{crm_port}", REDIS_URL=redis_server.url, PORT=str(app_port),
               LOG_LEVEL="ERROR", ACME_API_RATE="100000/s",
               DATABASE_URL=args.database_url or f"sqlite:///{files.name}/acme.db")
    processes = [subprocess.Popen([sys.executable, "-m", "mock_crm", "--port", str(crm_port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
                 subprocess.Popen([sys.executable, "-m", "app", "serve"], env=env),
                 subprocess.Popen([sys.executable, "-m", "app", "worker", "--processes", "1"], env=env)]
    base = f"http://127.0.0.1:{app_port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        workflow = httpx.post(f"{base}/v1/workflows", json={"name": "Bench", "steps": [
            {"id": "find", "tool": "crm.search_customers", "args": {"query": "{{ inputs.q }}"}}]}).json()
        runs = [httpx.post(f"{base}/v1/workflows/{workflow['id']}/run", json={"inputs": {"q": "Globex"}}).json()
                ["run_id"] for _ in range(20)]
        time.sleep(1)
        print(f"database: {env['DATABASE_URL'].split(':')[0]}; {args.connections} connections, closed loop, "
              f"{args.seconds:.0f} s each; a run's GET returns its steps and events")
        latencies, statuses, took = asyncio.run(closed_loop(
            app_port, "GET", [f"/v1/runs/{r}" for r in runs], b"", args.connections, args.seconds))
        print(f"GET /v1/runs/{{id}}: {len(latencies) / took:.0f} requests/s; {describe(latencies)}; "
              f"statuses {statuses}")
        body = json.dumps({"inputs": {"q": "Initech"}}).encode()
        latencies, statuses, took = asyncio.run(closed_loop(
            app_port, "POST", [f"/v1/workflows/{workflow['id']}/run"], body, args.connections, args.seconds))
        print(f"POST /v1/workflows/{{id}}/run: {len(latencies) / took:.0f} requests/s; {describe(latencies)}; "
              f"statuses {statuses}")
    finally:
        stop_all(processes)
        redis_server.stop()
        files.cleanup()


if __name__ == "__main__":
    main()
