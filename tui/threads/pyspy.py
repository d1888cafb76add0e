"""Run `py-spy dump` on one process, always under a timeout, and parse its JSON into thread records.

py-spy pauses the target while it reads it. A dump that outlives its timeout is killed, and the target
is sent SIGCONT if it was left stopped, so neither tshoot nor the inspected process ever stays frozen.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tui.procfs import read_small, split_stat
from tui.redact import is_secret_key, redact_value, url_passwords
from tui.threads.records import Frame, LocalVar, ThreadRecord

CAP_SYS_PTRACE = 19
# Native functions a thread sits in while it blocks on a threading.Lock / RLock (CPython 3.8-3.13).
_LOCK_ACQUIRE_NATIVE = {"lock_PyThread_acquire_lock", "rlock_acquire", "PyThread_acquire_lock_timed",
                        "acquire_timed", "_PyMutex_LockTimed", "_PyRecursiveMutex_LockTimed"}
_REENTRANT_NATIVE = {"rlock_acquire", "_PyRecursiveMutex_LockTimed"}
_NOT_A_SECRET_VALUE = {"None", "True", "False"}  # `token = None` must not mask every "None" in the dump
MIN_SECRET_CHARS = 4  # shorter values ("", "x", "1") would mask unrelated text everywhere


class DumpError(Exception):
    """A dump failed; `reason` says why in the operator's words and `remedy` what to do."""

    def __init__(self, reason: str, remedy: str = "", *, not_python: bool = False, exited: bool = False,
                 seconds: float = 0.0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.remedy = remedy
        self.not_python = not_python
        self.exited = exited
        self.seconds = seconds  # how long py-spy ran (and may have paused the target) before it failed


@dataclass
class Dump:
    threads: list[ThreadRecord] = field(default_factory=list)
    seconds: float = 0.0  # wall time of the py-spy run: an upper bound on how long the target was paused (0: it was not)
    secrets: set[str] = field(default_factory=set)  # values masked in locals; never stored, used to mask repeats


def find_pyspy() -> str | None:
    """The py-spy binary of the installed package (venv bin, then the distribution's files), else PATH."""
    beside_python = shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if beside_python:
        return beside_python
    try:
        files = importlib.metadata.distribution("py-spy").files or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name == "py-spy":
            located = Path(file.locate()).resolve()
            if located.is_file() and os.access(located, os.X_OK):
                return str(located)
    return shutil.which("py-spy")


def dump(pid: int, *, locals_: bool, native: bool, timeout: float, binary: str | None = None,
         nonblocking: bool = False) -> Dump:
    """One `py-spy dump --json` of `pid`; raises DumpError with the reason and the remedy (its `seconds`: how
    long py-spy ran). `nonblocking` reads the target without stopping it: a stack read while it changes can
    be torn, good enough to tell which processes deserve a real look (`seconds` is then 0)."""
    binary = binary or find_pyspy()
    if binary is None:
        raise DumpError("py-spy is not installed", "pip install py-spy (it ships the binary); or put py-spy on PATH")
    command = [binary, "dump", "--pid", str(pid), "--json"]
    command += ["--locals"] if locals_ else []
    command += ["--native"] if native else []
    command += ["--nonblocking"] if nonblocking else []
    started = time.monotonic()
    try:  # the timeout counts from before the start, like the pause it bounds (a loaded host is slow to fork)
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
            try:
                stdout, stderr = process.communicate(timeout=max(0.0, started + timeout - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()  # the kernel detaches a dead tracer: the target runs again
                paused = time.monotonic() - started
                process.communicate()
                _resume_if_stopped(pid)
                raise DumpError(f"py-spy did not finish within {timeout:g}s (killed; the process was resumed)",
                                "the process may be huge or py-spy may not support its Python version; retry, or "
                                "raise collector_timeout in the config", seconds=paused) from None
    except OSError as exc:
        raise DumpError(f"cannot run py-spy at {binary}: {exc}", "reinstall py-spy: pip install --force-reinstall py-spy") from None
    seconds = time.monotonic() - started
    if process.returncode != 0:
        failure = explain_failure(pid, stderr + stdout)
        failure.seconds = 0.0 if nonblocking else seconds
        raise failure
    seconds = 0.0 if nonblocking else seconds
    try:
        raw = json.loads(stdout)
    except json.JSONDecodeError as exc:
        raise DumpError(f"py-spy printed output that is not JSON ({exc})", "check the py-spy version: pip install -U py-spy") from None
    return Dump(threads=parse_threads(raw, pid), seconds=seconds, secrets=secrets_in_locals(raw))


def parse_threads(raw: list[dict], pid: int = 0) -> list[ThreadRecord]:
    """Thread records from py-spy's JSON: Python frames innermost first, native frames folded into flags.

    py-spy leaves the name empty when it cannot read it; the main thread (os thread id == pid) is MainThread.
    """
    threads = []
    for entry in raw:
        python_frames, native_names = [], []
        for frame in entry.get("frames") or []:
            if frame.get("module") is None:  # py-spy sets `module` only on native frames
                python_frames.append(_frame(frame))
            elif not python_frames:  # native frames inside the innermost Python frame
                native_names.append(frame.get("name", ""))
        unwound = any(frame.get("module") is not None for frame in entry.get("frames") or [])
        tid = int(entry.get("os_thread_id") or 0)
        threads.append(ThreadRecord(
            tid=tid,
            ident=int(entry.get("thread_id") or 0),
            name=entry.get("thread_name") or ("MainThread" if pid and tid == pid else "(no name)"),
            active=bool(entry.get("active")),
            owns_gil=bool(entry.get("owns_gil")),
            frames=python_frames,
            native_lock_wait=bool(_LOCK_ACQUIRE_NATIVE.intersection(native_names)) if unwound else None,
            native_reentrant=bool(_REENTRANT_NATIVE.intersection(native_names)) if unwound else None,
        ))
    return threads


def secrets_in_locals(raw: list[dict]) -> set[str]:
    """The secret values py-spy's locals hold (a secret-named local's value, a URL's password), 4+ characters,
    so the same text can be masked wherever else it shows up in this dump."""
    found = set()
    for entry in raw:
        for frame in entry.get("frames") or []:
            for var in frame.get("locals") or []:
                value = _unquoted(var.get("repr") or "")
                if is_secret_key(var.get("name", "")) and value not in _NOT_A_SECRET_VALUE:
                    found.add(value)
                found.update(url_passwords(value))
    return {secret for secret in found if len(secret) >= MIN_SECRET_CHARS}


def _unquoted(text: str) -> str:
    """A str/bytes repr without its quotes: `'abc'` and `b"abc"` are abc."""
    body = text[1:] if text[:1] == "b" else text
    return body[1:-1] if len(body) >= 2 and body[0] in "'\"" and body[-1] == body[0] else text


def _frame(frame: dict) -> Frame:
    return Frame(
        function=frame.get("name") or "?",
        filename=frame.get("filename") or "?",
        line=int(frame.get("line") or 0),
        locals=[LocalVar(name=v.get("name", "?"), repr=redact_value(v.get("name", ""), v.get("repr") or ""),
                         addr=int(v.get("addr") or 0), is_arg=bool(v.get("arg")))
                for v in frame.get("locals") or []],
    )


def explain_failure(pid: int, output: str) -> DumpError:
    """Turn py-spy's error text into the reason and the exact remedy."""
    text = output.lower()
    if "permission denied" in text or "operation not permitted" in text or "os error 1)" in text:
        reason, remedy = diagnose_permission(pid)
        return DumpError(reason, remedy)
    if (not Path(f"/proc/{pid}").exists() or "check that the process is running" in text
            or "no such process" in text):  # ESRCH: it exited (a zombie still has its /proc entry)
        return DumpError(f"process {pid} exited", "pick another process", exited=True)
    if "failed to find python version" in text or "failed to find a python interpreter" in text:
        return DumpError(f"pid {pid} is not a Python process (or py-spy cannot read its Python version)",
                         "choose a Python process; for an unusual Python build try: pip install -U py-spy",
                         not_python=True)
    first_error = next((line for line in output.splitlines() if line.strip().lower().startswith("error")), output.strip()[:200])
    return DumpError(f"py-spy failed on pid {pid}: {first_error}", "pip install -U py-spy; check the Python version is supported")


def diagnose_permission(pid: int) -> tuple[str, str]:
    """Why ptrace was refused here: not root, kernel.yama.ptrace_scope, or a container without SYS_PTRACE."""
    try:
        target_uid = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        target_uid = None
    return permission_remedy(os.geteuid(), target_uid, _read_int("/proc/sys/kernel/yama/ptrace_scope"), _cap_eff())


def permission_remedy(euid: int, target_uid: int | None, ptrace_scope: int | None, cap_eff: int | None) -> tuple[str, str]:
    """The reason and remedy for a refused ptrace, from the facts that decide it (pure, so it is testable)."""
    has_ptrace_cap = cap_eff is not None and bool(cap_eff >> CAP_SYS_PTRACE & 1)
    if ptrace_scope == 3:
        return ("ptrace is disabled on this host (kernel.yama.ptrace_scope=3)",
                "the setting cannot be lowered until reboot: set kernel.yama.ptrace_scope=1 in /etc/sysctl.d and reboot")
    if euid == 0 and not has_ptrace_cap:
        return ("tshoot runs as root but without the SYS_PTRACE capability (a container?)",
                "docker run --cap-add SYS_PTRACE ... (Kubernetes: securityContext.capabilities.add: [SYS_PTRACE])")
    if euid != 0 and target_uid is not None and target_uid != euid:
        return (f"the process belongs to uid {target_uid} and tshoot runs as uid {euid}",
                "run tshoot with sudo, or as the process's user")
    if euid != 0 and ptrace_scope in (1, 2):
        return (f"kernel.yama.ptrace_scope={ptrace_scope} lets only root attach to other processes",
                "run tshoot with sudo, or: sudo sysctl -w kernel.yama.ptrace_scope=0")
    return ("permission denied attaching to the process", "run tshoot with sudo (root with CAP_SYS_PTRACE)")


def _resume_if_stopped(pid: int) -> None:
    """A killed py-spy normally detaches cleanly; if the target is still stopped ('T'), continue it."""
    stat = read_small(f"/proc/{pid}/stat")
    if not stat or split_stat(stat)[1][0] not in (b"T", b"t"):
        return
    try:
        os.kill(pid, signal.SIGCONT)
    except OSError:
        pass  # gone, or not ours to signal: nothing to resume


def _read_int(path: str) -> int | None:
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


def _cap_eff() -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return None
