"""Cheap reads of /proc shared by the collectors that rescan every process of the host.

Rescans (Python processes for Threads, database URLs in environments for Databases) remember what they
learnt about each process by its identity, so a rescan reads one short stat line per process and does
the expensive reads (memory maps, environments) only for processes it has not seen before.
"""

from __future__ import annotations

import errno
import os
import resource
import threading
import weakref
from typing import Callable, Generic, NamedTuple, TypeVar

T = TypeVar("T")
CLK_TCK = os.sysconf("SC_CLK_TCK")  # the unit of the CPU times and the start time in /proc/<pid>/stat


def read_small(path: str) -> bytes | None:
    """A /proc file of one short line (stat is a few hundred bytes); None or b"" once the process is gone.

    os.open/os.read: half the cost of open() for the thousands of reads a refresh makes."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)


def cpu_ticks(fields: list[bytes]) -> int:
    """User plus system CPU time, in clock ticks, from split_stat's fields (utime and stime, fields 14-15)."""
    return int(fields[11]) + int(fields[12])


def thread_cpu_ticks(pid: int) -> dict[int, int]:
    """User plus system CPU ticks of each thread of `pid` (/proc/PID/task/TID/stat), by thread id; {} once
    the process is gone. A thread whose stack stands still while these move is spinning, not blocked."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return {}
    ticks = {}
    for tid in tids:
        stat = read_small(f"/proc/{pid}/task/{tid}/stat")
        if stat and tid.isdigit():
            ticks[int(tid)] = cpu_ticks(split_stat(stat)[1])
    return ticks


def cpu_percent(ticks: int, ticks_before: int, seconds: float) -> float:
    """CPU use between two readings, in % of one core."""
    return max(0.0, (ticks - ticks_before) / CLK_TCK / seconds * 100)


def split_stat(stat: bytes) -> tuple[bytes, list[bytes]]:
    """The command name of a /proc/<pid>/stat line, and the fields after it (fields[0] is field 3 of
    proc(5), the state). The name may hold spaces and parentheses: it ends at the last ')'."""
    close_paren = stat.rfind(b")")
    return stat[stat.find(b"(") + 1 : close_paren], stat[close_paren + 2 :].split()


class ProcessIdentity(NamedTuple):
    """Tells a process from an earlier one with the same pid (start time) and from itself before an
    exec() (the stack address, new at every exec under address-space randomisation, and the name)."""

    start_ticks: int
    stack: int
    name: str


def process_identities() -> dict[int, ProcessIdentity]:
    """pid -> identity of every process."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = read_small(f"/proc/{entry}/stat")
        if not stat:
            continue  # exited since the listing
        name, fields = split_stat(stat)
        found[int(entry)] = ProcessIdentity(int(fields[19]), int(fields[25]), name.decode("utf-8", "replace"))
    return found


class PerProcess(Generic[T]):
    """A value worked out once per process and remembered while the process lives (the same pid, start
    time, stack address and name), so a rescan of the host does the costly reads for new processes only."""

    def __init__(self, work_out: Callable[[int, ProcessIdentity], T],
                 again: Callable[[T], bool] = lambda value: False) -> None:
        self._work_out = work_out
        self._again = again  # a remembered value to work out again anyway
        self._known: dict[int, tuple[ProcessIdentity, T]] = {}
        self._lock = threading.Lock()  # rescans may overlap (a pane's poll and a guide's check)

    def rescan(self, exclude: set[int] = frozenset()) -> dict[int, tuple[ProcessIdentity, T]]:
        """pid -> (identity, value) of every process on the host but `exclude`."""
        with self._lock:
            known = {}
            for pid, identity in process_identities().items():
                if pid in exclude:
                    continue
                entry = self._known.get(pid)
                if entry is None or entry[0] != identity or self._again(entry[1]):
                    entry = (identity, self._work_out(pid, identity))
                known[pid] = entry
            self._known = known
        return known


class StatFiles:
    """/proc/<pid>/stat of every process, kept open and re-read in place (pread): on each refresh that
    saves an open and a close per process, a third of the Processes collector's cost.

    An open file stays bound to the process it was opened for: once that process exits, reading it
    fails (ESRCH) even if its pid is reused, and the pid is opened afresh. Each kept file holds a page
    of kernel memory (~4 KB), so at most MAX_KEPT are kept, and only while the open-file limit leaves
    FD_RESERVE descriptors for everything else; past that, a file is opened and closed per read.
    """

    MAX_KEPT = 8192  # ~32 MB of kernel memory at most; a host with more processes reads the rest per poll
    FD_RESERVE = 512

    def __init__(self) -> None:
        self._files: dict[int, int] = {}
        self._room = max(0, _raise_open_file_limit(self.MAX_KEPT + self.FD_RESERVE) - self.FD_RESERVE)
        self._lock = threading.Lock()  # close() may come from another thread while a poll still runs
        weakref.finalize(self, _close_all, self._files)  # a collector dropped without close() leaks nothing

    def read(self, pid: int) -> bytes | None:
        """The stat line of `pid`; None once the process is gone."""
        with self._lock:
            return self._read(pid)

    def _read(self, pid: int) -> bytes | None:
        fd = self._files.get(pid)
        if fd is not None:
            try:
                return os.pread(fd, 4096, 0)
            except OSError:  # that process exited; the pid may already be another's
                del self._files[pid]
                os.close(fd)
        if len(self._files) >= self._room:
            return read_small(f"/proc/{pid}/stat")
        try:
            fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
        except OSError as exc:
            if exc.errno != errno.EMFILE:
                return None  # exited since the listing
            self._give_back_descriptors()
            return read_small(f"/proc/{pid}/stat")
        try:
            line = os.pread(fd, 4096, 0)
        except OSError:
            os.close(fd)
            return None
        self._files[pid] = fd
        return line

    def _give_back_descriptors(self) -> None:
        """The open-file limit is shared with the rest of tshoot (sockets, pipes): when it runs out, keep fewer."""
        for pid in list(self._files)[: self.FD_RESERVE]:
            os.close(self._files.pop(pid))
        self._room = len(self._files)

    def keep_only(self, pids: set[int]) -> None:
        """Close the files of processes that are gone."""
        with self._lock:
            for pid in self._files.keys() - pids:
                os.close(self._files.pop(pid))

    def close(self) -> None:
        """Close every kept file; reads after this open and close their file each time."""
        with self._lock:
            self._room = 0
            _close_all(self._files)


def _close_all(files: dict[int, int]) -> None:
    while files:
        os.close(files.popitem()[1])


def _raise_open_file_limit(wanted: int) -> int:
    """Raise this process's soft limit on open files towards `wanted` (never past the hard limit); the
    number of files it may now have open, up to `wanted`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return wanted
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft
    return target
