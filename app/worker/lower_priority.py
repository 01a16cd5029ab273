"""A worker process asks the kernel to run it after `acme serve`, which answers Slack within 3 s.

`os.nice` alone is not enough on Linux with autogroups (`/proc/sys/kernel/sched_autogroup_enabled`, on
in most distributions' kernels): the scheduler first shares the CPU fairly between sessions, and a nice
value only orders the processes inside one. The supervisor starts each worker in a session of its own, so
that a Ctrl-C in the terminal reaches the supervisor alone; there, a nice of 19 changed nothing, and each
worker took as much CPU as the whole session of `acme serve`. Measured in bench/throughput.py at 200
slash commands/s: ack p99 46-114 ms with the process's nice only, 12-14 ms with its session's too.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

AUTOGROUP = Path("/proc/self/autogroup")


def lower_priority(nice: int) -> None:
    """Lowers this process's priority by `nice`, and its session's when the session is its own.

    The session's is set only when this process leads it (the supervisor's children, a worker started by
    a service manager): in a shell's session it would lower `acme serve` and everything else started there.
    """
    if nice <= 0:
        return
    os.nice(nice)
    if os.getsid(0) != os.getpid() or not AUTOGROUP.exists():
        return  # not our own session, or a kernel without autogroups: the process's nice is what counts
    try:
        AUTOGROUP.write_text(f"{nice}\n")
    except OSError as exc:  # a read-only /proc in some containers: the worker still runs, at its own nice
        log.warning("could not lower this worker's session priority (%s); acks may be slower under load", exc)
