"""A forked child's first act: let go of every socket it inherited from its parent.

RQ's scheduler is a fork of its worker, and shares the worker's connections to Redis, among them the
ones its threads were blocked on in BLPOP. When the worker is killed, those connections stay open in
the scheduler: Redis keeps handing them jobs, which then sit in no queue and never run (found with
`kill -9` on a worker). A child that holds none of them ends its parent's connections with its parent.
"""

from __future__ import annotations

import os

FD_DIR = "/proc/self/fd"
STANDARD_STREAMS = 3  # stdin, stdout and stderr stay: stderr may be a socket (journald's), and the logs go there


def detach_inherited_sockets() -> int:
    """Points every socket descriptor but the standard streams at /dev/null: the child's copy of each connection
    is gone, the parent's stays, and the child's objects that still hold the number close /dev/null in the end.
    Answers how many were detached (none where /proc is not Linux's)."""
    try:
        names = os.listdir(FD_DIR)
    except OSError:
        return 0
    detached = 0
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for name in names:
            fd = int(name)
            if fd < STANDARD_STREAMS or fd == devnull:
                continue
            try:
                is_socket = os.readlink(f"{FD_DIR}/{fd}").startswith("socket:")
            except OSError:
                continue  # the directory's own descriptor, closed since it was listed
            if is_socket:
                os.dup2(devnull, fd, inheritable=False)
                detached += 1
    finally:
        os.close(devnull)
    return detached
