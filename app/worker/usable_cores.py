"""How many cores this process may use: the CPUs it may run on, capped by its cgroup's CPU quota.

os.cpu_count() counts the host's CPUs. In a container limited to two (`docker run --cpus 2`, a
Kubernetes CPU limit) on a 32-core host, one worker process per counted core would be 32 processes
sharing two cores' time, each with its own memory and connections.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

PROC_CGROUP = Path("/proc/self/cgroup")
CGROUP_ROOT = Path("/sys/fs/cgroup")


def usable_cores(proc_cgroup: Path = PROC_CGROUP, cgroup_root: Path = CGROUP_ROOT) -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = cgroup_cpu_quota(proc_cgroup, cgroup_root)
    if quota is not None:
        cores = min(cores, math.ceil(quota))
    return max(1, cores)


def cgroup_cpu_quota(proc_cgroup: Path = PROC_CGROUP, cgroup_root: Path = CGROUP_ROOT) -> float | None:
    """The tightest CPU quota, in cores, on this process's cgroup or a parent's (v2 `cpu.max`, v1
    `cpu.cfs_quota_us`); None when there is none, or nothing can be read."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    quotas: list[float] = []
    for line in lines:
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and not controllers:
            quotas += [q for d in _dirs(cgroup_root, path) if (q := _v2_quota(d / "cpu.max")) is not None]
        elif "cpu" in controllers.split(","):
            # v1 mounts each controller on its own (`cpu`, or `cpu,cpuacct` with `cpu` linked to it).
            quotas += [q for d in _dirs(cgroup_root / "cpu", path) if (q := _v1_quota(d)) is not None]
    return min(quotas) if quotas else None


def _dirs(mount: Path, path: str) -> list[Path]:
    """The cgroup's directory and each parent's up to the mount. Inside a container the mount may show only
    the container's own subtree while the path is the host's: the mount's own files then hold its limit."""
    leaf = mount / path.strip("/")
    return [leaf, *(p for p in leaf.parents if p.is_relative_to(mount))]


def _v2_quota(cpu_max: Path) -> float | None:
    try:
        quota, period = cpu_max.read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


def _v1_quota(directory: Path) -> float | None:
    try:
        quota = int((directory / "cpu.cfs_quota_us").read_text())
        period = int((directory / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if quota <= 0 or period <= 0 else quota / period
