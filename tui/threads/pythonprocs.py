"""Which processes run Python (from the executable or a libpython mapping), JVM thread dumps, RLock owners.

Everything here reads /proc directly and bounds its own waits; nothing pauses the target.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from tui.procfs import CLK_TCK, PerProcess, ProcessIdentity
from tui.redact import redact_text
from tui.threads.records import PythonCandidate, RLockOwner

_PYTHON_EXE = re.compile(r"^python(\d(\.\d+)?)?[a-z]?$|^pypy\d*(\.\d+)?$")
_LIBPYTHON = re.compile(r"libpython(\d\.\d+)")
_VERSION_IN_EXE = re.compile(r"python(\d\.\d+)")
JSTACK_LIMIT = 200_000  # characters of jstack output kept: enough for thousands of threads


@dataclass
class Runtime:
    kind: str  # "python", "jvm", "other", or "unknown": tshoot may not read its executable and memory maps
    version: str = ""


def runtime_of(pid: int) -> Runtime:
    """Python when the executable is a python binary or libpython is mapped; a JVM when libjvm is mapped;
    "unknown" when neither can be read (another user's process, tshoot not root): never "other" unseen."""
    exe = _exe_name(pid)
    if _PYTHON_EXE.match(exe):
        match = _VERSION_IN_EXE.search(exe)
        return Runtime("python", match.group(1) if match else _libpython_version(pid))
    maps = _maps(pid)
    libpython = _LIBPYTHON.search(maps)
    if libpython:
        return Runtime("python", libpython.group(1))
    if exe == "java" or "/libjvm.so" in maps:
        return Runtime("jvm")
    if not exe and not maps and _maps_denied(pid):
        return Runtime("unknown")
    return Runtime("other")


def _maps_denied(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/maps", "rb"):
            return False
    except PermissionError:
        return True
    except OSError:
        return False


class RuntimeCache:
    """What runs in each process, remembered while it lives: reading every process's maps on each
    rescan was most of the Threads pane's cost on a host with a thousand processes. An exec() changes
    the identity (a shell script that ends in `exec python app.py`); a process seen as not Python in its
    first minute is looked at again until it is older (uWSGI and embedders load libpython late)."""

    YOUNG_S = 60.0

    def __init__(self) -> None:
        self._boot_time = psutil.boot_time()
        # (runtime, seen while young) per process
        self._known: PerProcess[tuple[Runtime, bool]] = PerProcess(
            self._work_out, again=lambda value: value[1] and value[0].kind == "other")

    def _work_out(self, pid: int, identity: ProcessIdentity) -> tuple[Runtime, bool]:
        age = time.time() - (self._boot_time + identity.start_ticks / CLK_TCK)
        return runtime_of(pid), age < self.YOUNG_S

    def runtimes(self, exclude: set[int]) -> dict[int, Runtime]:
        """The runtime of every process on the host but `exclude`."""
        return {pid: runtime for pid, (_, (runtime, _)) in self._known.rescan(exclude).items()}


def count_uninspectable(exclude: set[int], runtimes: RuntimeCache | None = None) -> int:
    """Processes tshoot may not look into (other users', when not root): they may run Python too."""
    return sum(1 for runtime in (runtimes or RuntimeCache()).runtimes(exclude).values() if runtime.kind == "unknown")


def python_candidates(exclude: set[int], runtimes: RuntimeCache | None = None) -> list[PythonCandidate]:
    """Python processes on the host, busiest first, for the pane's chooser."""
    found = []
    for pid, runtime in (runtimes or RuntimeCache()).runtimes(exclude).items():
        if runtime.kind != "python":
            continue
        try:
            proc = psutil.Process(pid)
            with proc.oneshot():
                name, cmdline, cpu = proc.name(), proc.cmdline(), proc.cpu_times()
                threads, started = proc.num_threads(), proc.create_time()
        except psutil.Error:
            continue  # exited, or hidden from us, since the listing
        found.append(PythonCandidate(
            pid=pid, name=name, cmdline=redact_text(" ".join(cmdline)), python_version=runtime.version,
            threads=threads, cpu_seconds=round(cpu.user + cpu.system, 2), started=started))
    found.sort(key=lambda candidate: -candidate.cpu_seconds)
    return found


def describe(pid: int) -> tuple[str, str, float]:
    """Name, masked command line and start time (epoch seconds) of a process; raises psutil errors."""
    proc = psutil.Process(pid)
    with proc.oneshot():
        return proc.name(), redact_text(" ".join(proc.cmdline())), proc.create_time()


def jstack(pid: int, timeout: float) -> str | None:
    """`jstack -l PID` output (it ends with the JVM's own deadlock report), or None without jstack."""
    binary = shutil.which("jstack")
    if binary is None:
        return None
    try:
        result = subprocess.run([binary, "-l", str(pid)], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"jstack did not answer within {timeout:g}s"
    except OSError as exc:
        return f"cannot run jstack: {exc}"
    return redact_text((result.stdout or result.stderr)[:JSTACK_LIMIT])


def source_path(pid: int, filename: str) -> Path:
    """A frame's file as the process sees it: through its root, relative names against its cwd."""
    path = Path(filename)
    if not path.is_absolute():
        try:
            path = Path(psutil.Process(pid).cwd()) / path
        except (psutil.Error, OSError):
            pass
    return Path(f"/proc/{pid}/root") / str(path).lstrip("/")


# CPython 3.8-3.13 rlockobject on 64-bit: ob_refcnt, ob_type, rlock_lock, rlock_owner, rlock_count (checked on a
# live 3.13.0 RLock held three times). CPython main since keeps a _PyRecursiveMutex there instead: not read.
_RLOCK_LAYOUT_VERSIONS = {"3.8", "3.9", "3.10", "3.11", "3.12", "3.13"}
_TP_NAME_OFFSET = 24  # PyTypeObject: ob_refcnt, ob_type, ob_size, then tp_name


def read_rlock_owners(pid: int, version: str, addresses: list[int]) -> dict[str, RLockOwner]:
    """Owner thread ident and count of RLocks at known addresses, read from the process's memory.

    Only for Python versions whose layout is known, and only where the object's type name reads back
    as `_thread.RLock` — a wrong address yields nothing rather than a wrong owner.
    """
    if version not in _RLOCK_LAYOUT_VERSIONS or not addresses:
        return {}
    owners: dict[str, RLockOwner] = {}
    try:
        with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
            for addr in addresses:
                try:
                    mem.seek(addr)
                    _refcnt, type_addr, _lock, owner, count = struct.unpack("<qQQQQ", mem.read(40))
                    mem.seek(type_addr + _TP_NAME_OFFSET)
                    (name_addr,) = struct.unpack("<Q", mem.read(8))
                    mem.seek(name_addr)
                    if mem.read(14) != b"_thread.RLock\0":
                        continue
                except (OSError, struct.error, ValueError, OverflowError):
                    continue
                owners[hex(addr)] = RLockOwner(owner_ident=owner, count=count)
    except OSError:
        return {}
    return owners


def _exe_name(pid: int) -> str:
    try:
        return Path(psutil.Process(pid).exe()).name
    except (psutil.Error, OSError):
        return ""


def _maps(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/maps").read_text(errors="replace")
    except OSError:
        return ""


def _libpython_version(pid: int) -> str:
    match = _LIBPYTHON.search(_maps(pid))
    return match.group(1) if match else ""
