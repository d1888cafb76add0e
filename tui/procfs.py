"""Cheap reads of /proc shared by the collectors that rescan every process of the host.

Rescans (Python processes for Threads, database URLs in environments for Databases) remember what they
learnt about each process by its identity, so a rescan reads one short stat line per process and does
the expensive reads (memory maps, environments) only for processes it has not seen before.
"""

from __future__ import annotations

import os


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


def process_identities() -> dict[int, tuple[int, str]]:
    """pid -> (start time in clock ticks, command name) of every process. The start time tells a process
    from an earlier one that had the same pid; the name changes when it exec()s another program."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = read_small(f"/proc/{entry}/stat")
        close_paren = stat.rfind(b")") if stat else -1
        if close_paren < 0:
            continue  # exited since the listing
        name = stat[stat.find(b"(") + 1 : close_paren].decode("utf-8", "replace")
        found[int(entry)] = (int(stat[close_paren + 2 :].split()[19]), name)
    return found
