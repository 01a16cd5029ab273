"""A worker process of `acme worker --processes N` ends with its supervisor, however the supervisor ends.

Killed with SIGKILL (or out of memory), the supervisor cannot stop its children: they were left running under
init, taking jobs, and a supervisor started again beside them doubled the workers (after an upgrade, workers
of the old code kept taking jobs). Each child asks the kernel for a SIGTERM when its parent dies (Linux's
PR_SET_PDEATHSIG): RQ's warm stop, so the job in flight finishes and the queued ones stay queued for the next
workers.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1


def end_with_supervisor(supervisor_pid: int) -> None:
    """SIGTERM to this process when its parent dies; SystemExit now when `supervisor_pid` is already gone."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    except (OSError, AttributeError) as exc:  # not Linux: the supervisor's own stop still stops it
        log.warning("this worker process will not end by itself if its supervisor is killed (%s)", exc)
        return
    if os.getppid() != supervisor_pid:
        # Asked after the parent died: the kernel will send nothing.
        raise SystemExit(f"worker process {os.getpid()}: its supervisor {supervisor_pid} is gone; stopping")
