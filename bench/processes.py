"""What the benchmarks ask of the processes they start: is it answering yet, how much CPU and memory has it
used (Linux's /proc), and waiting until something holds."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def wait_for(predicate: Callable[[], bool], timeout_s: float = 60.0, poll_s: float = 0.05) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the benchmark waited too long")
        time.sleep(poll_s)


def memory_kb(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def machine_speed_ms() -> float:
    """CPU time of a fixed loop in this process. This machine runs it in about 55 ms when rested, and up
    to twice that for a while after minutes of load (the host slows it): figures from a slowed machine are
    not comparable with a rested one's."""
    started = time.process_time()
    total = 0
    for n in range(1_000_000):
        total += n * n
    return (time.process_time() - started) * 1000


def cpu_ms(pid: int) -> float:
    """The CPU time (user + system) the process has used so far: steadier than latency on a busy machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def stop_all(processes: list[subprocess.Popen]) -> None:
    """Ask every one to stop first, then wait for each: they shut down side by side."""
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=15)


def stack_settings(*, redis_url: str, crm_url: str, slack_url: str, app_port: int, database_dir: str,
                   signing_secret: str) -> dict[str, str]:
    """The environment of a benchmark's processes: this one's, without its Slack and CRM settings, and the
    stack's own. Quiet: a log line per request would be measured too."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CRM_"))}
    env.update(DATABASE_URL=f"sqlite:///{database_dir}/acme.db", SLACK_BOT_TOKEN=f"xoxb-bench-{secrets.token_hex(6)}",
               SLACK_SIGNING_SECRET=signing_secret, SLACK_API_URL=f"{slack_url}/api/", CRM_BASE_URL=crm_url,
               REDIS_URL=redis_url, PORT=str(app_port), LOG_LEVEL="ERROR")
    return env
