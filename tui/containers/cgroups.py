"""CPU and memory of a local container read straight from its cgroup, as the engine itself does.

The engine's stats endpoint answers only at its next 1-second collection tick (even with one-shot),
so asking it for 20 running containers costs seconds. When the engine runs on this host, the same
numbers are a few file reads away. The container's main process (its host pid) leads to its cgroup;
the path must name the container id, so a reused pid or a remote engine never gives wrong numbers.
"""

from __future__ import annotations

import time
from pathlib import Path

from tui.containers.inventory import StatsSample

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC = Path("/proc")


def read_cgroup_sample(container_id: str, host_pid: int) -> StatsSample | None:
    """A sample from the container's cgroup (v1 or v2), None when it cannot be read here."""
    if host_pid <= 0:
        return None
    paths = _cgroup_paths(host_pid)
    try:
        if (CGROUP_ROOT / "cgroup.controllers").exists():
            base = _own(CGROUP_ROOT, paths.get(""), container_id)
            cpu_ns = _stat_file(base / "cpu.stat")["usage_usec"] * 1000 if base else None
            memory = _memory(base, "memory.current", "inactive_file") if base else None
        else:
            cpu_base = _own(CGROUP_ROOT / "cpuacct", paths.get("cpuacct"), container_id)
            memory_base = _own(CGROUP_ROOT / "memory", paths.get("memory"), container_id)
            cpu_ns = int((cpu_base / "cpuacct.usage").read_text()) if cpu_base else None
            memory = _memory(memory_base, "memory.usage_in_bytes", "total_inactive_file") if memory_base else None
    except (OSError, ValueError, KeyError):
        return None  # the container stopped while we read, or an unexpected layout: ask the engine instead
    if cpu_ns is None or memory is None:
        return None
    # CPU% = 100 * online_cpus * cpu_delta / system_delta; with the wall clock as "system" and one "cpu"
    # that is the share of one core, the same unit as the engine's formula.
    return StatsSample(cpu_total_ns=cpu_ns, system_ns=time.monotonic_ns(), online_cpus=1,
                       memory_used_bytes=memory, origin="cgroup")


def _cgroup_paths(pid: int) -> dict[str, str]:
    """controller -> cgroup path from /proc/PID/cgroup ("" is the v2 unified hierarchy)."""
    try:
        lines = (PROC / str(pid) / "cgroup").read_text().splitlines()
    except OSError:
        return {}
    paths: dict[str, str] = {}
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _own(mount: Path, path: str | None, container_id: str) -> Path | None:
    """The cgroup directory, only when it is this container's (its id is in the path)."""
    if not path or container_id not in path:
        return None
    directory = mount / path.lstrip("/")
    return directory if directory.is_dir() else None


def _stat_file(path: Path) -> dict[str, int]:
    stats: dict[str, int] = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            stats[key] = int(value)
    return stats


def _memory(base: Path, usage_file: str, inactive_key: str) -> int:
    """Usage without reclaimable page cache, as `docker stats` shows it."""
    usage = int((base / usage_file).read_text())
    return max(0, usage - _stat_file(base / "memory.stat").get(inactive_key, 0))
