"""What the benchmarks ask of the processes they start: is it answering yet, how much CPU and memory has it
used (Linux's /proc), and waiting until something holds."""

from __future__ import annotations

import os
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
