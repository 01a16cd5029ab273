"""Benchmark of `acme worker --processes N`, run by hand: `python bench/worker_processes.py [--kills 3]`.

Starts a real redis-server and `acme worker --processes 2` (real processes; the jobs' downstreams are not
needed), then:
1. start: from the command to every worker registered with RQ, and each child's memory;
2. replacement: kills a child with SIGKILL, --kills times (one at a time, each once every child has run long
   enough to be replaced at once), and times the kill to its replacement registered with RQ (ready for a job);
3. stop: SIGTERM to the supervisor with the workers idle, to its exit.

Everything listens on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
from http_load import describe
from processes import memory_kb, wait_for
from rq import Worker

from app.embedded_redis import EmbeddedRedis
from app.worker.supervisor import HEALTHY_AFTER_S

PROCESSES = 2


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rpartition(")")[2].split()[1]) == pid:
                found.add(int(entry.name))
        except OSError:
            continue
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=3)
    args = parser.parse_args()

    redis_server = EmbeddedRedis().start()
    database = tempfile.TemporaryDirectory(prefix="acme-bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CRM_"))}
    env.update(SLACK_BOT_TOKEN=f"xoxb-bench-{secrets.token_hex(6)}", REDIS_URL=redis_server.url,
               DATABASE_URL=f"sqlite:///{database.name}/acme.db", LOG_LEVEL="ERROR")
    connection = redis.Redis.from_url(redis_server.url)

    def registered() -> set[int]:
        return {worker.pid for worker in Worker.all(connection=connection)}

    began = time.monotonic()
    supervisor = subprocess.Popen([sys.executable, "-m", "app", "worker", "--processes", str(PROCESSES)], env=env)
    try:
        wait_for(lambda: len(children(supervisor.pid)) == PROCESSES and children(supervisor.pid) <= registered(),
                 60, 0.005)
        print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
        print(f"1. start: {PROCESSES} workers registered {time.monotonic() - began:.2f} s after the command; "
              f"memory of each: {[memory_kb(pid) for pid in sorted(children(supervisor.pid))]}")

        took = []
        for _ in range(args.kills):
            # A child that dies within HEALTHY_AFTER_S of its start is replaced after a backoff: wait that long.
            time.sleep(HEALTHY_AFTER_S)
            victim = min(children(supervisor.pid))
            killed = time.monotonic()
            os.kill(victim, signal.SIGKILL)

            def replaced(victim: int = victim) -> bool:
                now = children(supervisor.pid)
                return victim not in now and len(now) == PROCESSES and now <= registered()

            wait_for(replaced, 60, 0.005)
            took.append((time.monotonic() - killed) * 1000)
        print(f"2. SIGKILL -> replacement registered with RQ, {args.kills} kills: {describe(took)}")

        stopping = time.monotonic()
        supervisor.send_signal(signal.SIGTERM)
        code = supervisor.wait(timeout=60)
        print(f"3. SIGTERM -> exit (idle workers): {(time.monotonic() - stopping) * 1000:.0f} ms, exit code {code}")
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
        redis_server.stop()
        database.cleanup()


if __name__ == "__main__":
    main()
