import os
from pathlib import Path

from app.worker.usable_cores import cgroup_cpu_quota, usable_cores

AFFINITY = len(os.sched_getaffinity(0))


def _cgroups(tmp_path: Path, membership: str, files: dict[str, str]) -> tuple[Path, Path]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text(membership)
    root = tmp_path / "sys-fs-cgroup"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return proc, root


def test_a_v2_quota_on_the_cgroup_or_a_parent_caps_the_cores_rounded_up(tmp_path: Path) -> None:
    proc, root = _cgroups(tmp_path, "0::/kubepods/pod1/app\n", {
        "kubepods/pod1/app/cpu.max": "max 100000\n", "kubepods/pod1/cpu.max": "50000 100000\n",
        "kubepods/cpu.max": "400000 100000\n"})
    assert cgroup_cpu_quota(proc, root) == 0.5
    assert usable_cores(proc, root) == 1


def test_a_v1_quota_counts_and_minus_one_means_none(tmp_path: Path) -> None:
    proc, root = _cgroups(tmp_path, "4:memory:/x\n3:cpu,cpuacct:/docker/abc\n", {
        "cpu/docker/abc/cpu.cfs_quota_us": "150000\n", "cpu/docker/abc/cpu.cfs_period_us": "100000\n",
        "cpu/docker/cpu.cfs_quota_us": "-1\n", "cpu/docker/cpu.cfs_period_us": "100000\n"})
    assert cgroup_cpu_quota(proc, root) == 1.5
    assert usable_cores(proc, root) == min(AFFINITY, 2)


def test_inside_a_container_the_mount_holds_the_limit_of_a_path_it_does_not_show(tmp_path: Path) -> None:
    proc, root = _cgroups(tmp_path, "0::/system.slice/docker-abc.scope\n", {"cpu.max": "100000 100000\n"})
    assert usable_cores(proc, root) == 1


def test_no_quota_or_nothing_readable_leaves_the_cpus_this_process_may_run_on(tmp_path: Path) -> None:
    unlimited = _cgroups(tmp_path / "a", "0::/\n", {"cpu.max": "max 100000\n"})
    garbled = _cgroups(tmp_path / "b", "0::/\n", {"cpu.max": "lots\n"})
    assert cgroup_cpu_quota(*unlimited) is None and cgroup_cpu_quota(*garbled) is None
    assert usable_cores(*unlimited) == AFFINITY
    assert usable_cores(tmp_path / "no-such-file", tmp_path) == AFFINITY
