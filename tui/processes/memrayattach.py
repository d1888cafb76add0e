"""`memray attach`, for a Python process that can import memray itself: the memory trace's first choice.

memray's attach runs in an interpreter that has memray and injects its payload into the target, which then
imports memray itself; so tshoot runs the target's own interpreter (a venv's `bin/python`, found from the
process's argv[0]) as `python -I -m memray attach`. Its injection is gentler than tshoot's own gdb one: gdb
waits for the target to enter malloc/free or a Python allocator before it calls in (never inside one). It
is told to use gdb on Python 3.14 too: its sys.remote_exec path hands the target a script in a folder private
to root, which a process of another user cannot read.

The rule for running it: tshoot (root) runs a process's interpreter and memray only when root alone can
change them. The interpreter, its standard library, every site-packages folder it imports from, everything
directly in those folders, the memray package, and every folder above them must be owned by root and not
writable by group or others (a sticky root-owned folder such as /tmp counts as safe: nobody else can replace
root's entries in it). memray in a venv its user can change is refused, even when the process is that user's
own: whoever can write that venv would get root the moment an operator traced their process. `-I` keeps the
environment, the user's site-packages and the current folder out. The capture, which the target writes, is
read back by the same root-owned memray run as the target's user, never as root.

Only a target in tshoot's own mount and network namespaces is traced this way (the capture path and
memray's localhost control connection mean the same thing on both sides); a containerised process gets the
tracemalloc trace.
"""

from __future__ import annotations

import math
import os
import shutil
import stat
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tui.processes.records import AllocationSite
from tui.safefile import FileRefused, parse_json, read_text

SAFE_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8"}  # gdb from root's own folders
ATTACH_TIMEOUT_S = 30.0  # memray attach: the debugger, then its control connection (memray waits 10 s)
READ_TIMEOUT_S = 60.0
OUTPUT_LIMIT = 2_000_000  # characters of the reader's JSON
SITE_ENTRIES_LIMIT = 20_000  # entries of one site-packages folder checked before giving up

# Run by the target's memray, as the target's user: the still-live allocations made while it tracked
# (memray's leaks view of an aggregated capture), biggest first, memray's own payload left out.
_READER = r'''
import json, sys, memray
path, top, frames = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
reader = memray.FileReader(path)
def ours(record):  # stack_trace() alone stops short of the payload's frames
    return any(file.endswith("_memray_attach_hook.py") for _, file, _ in record.stack_trace(max_stacks=500))
live = sorted((r for r in reader.get_leaked_allocation_records(merge_threads=True) if not ours(r)),
              key=lambda r: r.size, reverse=True)
meta = reader.metadata
print(json.dumps({
    "seconds": (meta.end_time - meta.start_time).total_seconds(),
    "growth": sum(r.size for r in live),
    "sites": [{"frames": [f"{file}:{line}" for _, file, line in reversed(r.stack_trace(max_stacks=frames))],
               "size": r.size, "count": r.n_allocations} for r in live[:top]],
}))
'''


class MemrayError(Exception):
    """memray was found but the trace with it failed; the message says why."""


@dataclass(frozen=True)
class Memray:
    """memray the traced process can import, in an installation only root can change."""

    python: str  # the target's interpreter as it was started (a venv's bin/python): memray runs with it
    site: str  # the site-packages folder memray is installed in


@dataclass(frozen=True)
class MemrayResult:
    sites: list[AllocationSite]
    growth: int
    seconds: float


def find_memray(pid: int, version: str) -> tuple[Memray | None, str]:
    """memray the target can import and root may run; otherwise None and why not ("" when there is none)."""
    major, _, minor = version.partition(".")
    if not (major.isdigit() and minor.isdigit()) or not _same_namespaces(pid):
        return None, ""
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
        python = _started_as(pid, exe)
    except OSError:
        return None, ""
    real = os.path.realpath(exe)
    prefix = os.path.dirname(os.path.dirname(real))
    sites = _site_folders(python, prefix, f"{major}.{minor}")
    site = next((folder for folder in sites if os.path.isfile(os.path.join(folder, "memray", "__init__.py"))), None)
    if site is None:
        return None, ""
    stdlib = os.path.join(prefix, "lib", f"python{major}.{minor}")
    unsafe = (_not_root_only(python) or _not_root_only(real) or _not_root_only(stdlib)
              or next((why for folder in sites if (why := _not_root_only(folder, entries=True))), "")
              or _not_root_only(os.path.join(site, "memray"), entries=True))
    if unsafe:
        return None, (f"memray is installed in {site}, but {unsafe}: tshoot will not run it as root "
                      "(whoever can change it would get root)")
    if shutil.which("gdb", path=SAFE_ENV["PATH"]) is None:
        return None, f"memray is installed in {site}, but gdb is not (apt-get install gdb)"
    return Memray(python, site), ""


def cost_of(memray: Memray) -> str:
    return ("gdb stops the process about half a second and injects memray at its next malloc/free call; while "
            "memray tracks, allocations are about twice as slow; afterwards memray's library stays loaded in the "
            "process, inactive")


def trace(memray: Memray, pid: int, seconds: float, top: int, frames: int, capture: str, owner: os.stat_result,
          threads: Callable[[], int]) -> MemrayResult:
    """memray attach for `seconds` into `capture` (the target's own path), wait until its tracker has stopped
    (its threads gone), and read the still-live allocations back as the target's user."""
    whole = max(1, math.ceil(seconds))  # memray counts whole seconds
    threads_before = threads()
    command = [memray.python, "-I", "-m", "memray", "attach", "--method", "gdb", "--aggregate",
               "--no-compress", "--duration", str(whole), "-o", capture, str(pid)]
    started = time.monotonic()
    done = _run(command, ATTACH_TIMEOUT_S, "memray attach")
    if done.returncode != 0:
        raise MemrayError(f"memray attach could not start tracking pid {pid}: {_last_line(done)}")
    time.sleep(max(0.0, started + whole - time.monotonic()))
    deadline = time.monotonic() + ATTACH_TIMEOUT_S
    while threads() > threads_before and time.monotonic() < deadline:
        time.sleep(0.2)  # memray's timer thread ends once the tracker has written its capture and stopped
    if threads() > threads_before:
        raise MemrayError(f"memray's tracker still runs in pid {pid} {whole + ATTACH_TIMEOUT_S:g}s after it "
                          f"started (its threads have not ended): stop it with "
                          f"`{memray.python} -m memray detach {pid}`")
    reader = [memray.python, "-I", "-c", _READER, capture, str(top), str(frames)]
    done = _run(reader, READ_TIMEOUT_S, "reading memray's capture", owner)
    if done.returncode != 0:
        raise MemrayError(f"memray could not read its capture of pid {pid}: {_last_line(done)}")
    return _parsed(done.stdout[:OUTPUT_LIMIT], pid, top)


def _parsed(output: str, pid: int, top: int) -> MemrayResult:
    try:  # the capture was written by the target: any local user's code may have shaped it
        result = parse_json(output, "memray's capture")
        sites = [AllocationSite([str(frame) for frame in site["frames"]], int(site["size"]), int(site["count"]),
                                int(site["size"])) for site in list(result["sites"])[:top]]
        return MemrayResult(sites, int(result["growth"]), float(result["seconds"]))
    except FileRefused as exc:
        raise MemrayError(f"memray's capture of pid {pid} was refused: {exc}") from None
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise MemrayError(f"memray's capture of pid {pid} has an unexpected shape ({type(exc).__name__})") from None


def _run(command: list[str], timeout: float, what: str,
         owner: os.stat_result | None = None) -> subprocess.CompletedProcess[str]:
    as_user = ({"user": owner.st_uid, "group": owner.st_gid, "extra_groups": []}
               if owner is not None and os.geteuid() == 0 else {})  # not root: it runs as tshoot's user anyway
    try:
        return subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=timeout, cwd="/",
                              env=SAFE_ENV, stdin=subprocess.DEVNULL, **as_user)
    except subprocess.TimeoutExpired:
        raise MemrayError(f"{what} did not finish within {timeout:g}s") from None
    except OSError as exc:
        raise MemrayError(f"{what} could not start: {exc.strerror or exc}") from None


def _last_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[-1][:300] if lines else f"exit status {done.returncode}"


def _same_namespaces(pid: int) -> bool:
    try:
        return all(os.stat(f"/proc/{pid}/ns/{kind}").st_ino == os.stat(f"/proc/self/ns/{kind}").st_ino
                   for kind in ("mnt", "net"))
    except OSError:
        return False


def _started_as(pid: int, exe: str) -> str:
    """The interpreter path the process was started with (argv[0], from its folder or its PATH) when that is
    the binary it runs, e.g. a venv's bin/python; else the binary itself. A venv is found from this path."""
    argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
    if "/" in argv0:
        candidates = [os.path.join(os.readlink(f"/proc/{pid}/cwd"), argv0)]
    else:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        path = next((entry[5:] for entry in environ if entry.startswith(b"PATH=")), b"")
        candidates = [os.path.join(folder, argv0) for folder in path.decode("utf-8", "surrogateescape").split(":")
                      if folder.startswith("/")]
    real = os.path.realpath(exe)
    return next((os.path.normpath(c) for c in candidates if os.path.realpath(c) == real and os.path.isfile(c)), exe)


def _site_folders(python: str, prefix: str, version: str) -> list[str]:
    """The site-packages folders `python -I` imports from: its venv's, and the base installation's unless
    the venv excludes them (Debian's dist-packages included)."""
    base = [os.path.join(prefix, "lib", f"python{version}", "site-packages"),
            os.path.join(prefix, "local", "lib", f"python{version}", "dist-packages"),
            os.path.join(prefix, "lib", "python3", "dist-packages"),
            os.path.join(prefix, "lib", f"python{version}", "dist-packages")]
    venv = os.path.dirname(os.path.dirname(python))
    try:
        config = read_text(os.path.join(venv, "pyvenv.cfg"), 64_000)
    except (OSError, UnicodeDecodeError):
        return [folder for folder in base if os.path.isdir(folder)]
    settings = {key.strip().lower(): value.strip().lower()
                for key, _, value in (line.partition("=") for line in config.splitlines())}
    own = [os.path.join(venv, "lib", f"python{version}", "site-packages")]
    shared = base if settings.get("include-system-site-packages") == "true" else []
    return [folder for folder in own + shared if os.path.isdir(folder)]


def _not_root_only(path: str, entries: bool = False) -> str:
    """'' when only root can change `path`: it and every folder above it (as named and as resolved) owned by
    root and not writable by group or others, sticky folders excepted; with `entries`, also everything
    directly inside it. Otherwise what someone else can change."""
    for chain in (os.path.abspath(path), os.path.realpath(path)):
        parts = chain.strip("/").split("/")
        for depth in range(len(parts) + 1):
            here = "/" + "/".join(parts[:depth])
            if why := _unsafe(here):
                return why
    if entries:
        try:
            with os.scandir(path) as listing:
                for count, entry in enumerate(listing):
                    if count >= SITE_ENTRIES_LIMIT:
                        return f"{path} holds too many entries to check"
                    if why := _unsafe(entry.path):
                        return why
        except OSError as exc:
            return f"{path} cannot be listed ({exc.strerror or exc})"
    return ""


def _unsafe(path: str) -> str:
    try:
        status = os.lstat(path)
    except OSError as exc:
        return f"{path} cannot be checked ({exc.strerror or exc})"
    if status.st_uid != 0:
        return f"{path} belongs to uid {status.st_uid}"
    sticky_folder = stat.S_ISDIR(status.st_mode) and status.st_mode & stat.S_ISVTX
    if not stat.S_ISLNK(status.st_mode) and status.st_mode & 0o022 and not sticky_folder:
        return f"{path} can be written by group or others"
    return ""

