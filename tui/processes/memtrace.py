"""Where a leaking Python process allocates: memray or tracemalloc run inside it for a few seconds, on request.

When the process can import memray (from an installation only root can change), `memray attach` tracks it
and its leaks view answers: the allocations made during the trace that are still live at its end
(tui/processes/memrayattach.py). Otherwise tracemalloc, as follows.

This is the live form of "compare two tracemalloc snapshots": tshoot writes a small script, has the target
run it in a thread of its own, and reads back the allocation sites that grew the most. The script starts
tracemalloc (unless the program already traces), takes a snapshot, waits, takes another, stops tracemalloc
again and writes the difference to a file; its thread then ends. Nothing stays in the target but the
memory tracemalloc freed.

How the script gets in:
- Python 3.14 and newer: `sys.remote_exec`, run by the target's own interpreter binary (no debugger).
- Older: gdb attaches, takes the GIL with PyGILState_Ensure, runs the script with PyRun_SimpleString and
  detaches (the pyrasite technique). The target is stopped while gdb is attached (about a second). If
  it was stopped inside the C allocator, the injected call can hang it: an operator confirms this first.
While tracing, the target's allocations are slower (roughly two to three times) and tracemalloc keeps a
traceback per live block (memory).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tui.actions import Verified
from tui.processes import memrayattach
from tui.processes.memrayattach import cost_of, find_memray
from tui.processes.records import AllocationSite, MemTrace
from tui.safefile import FileRefused, parse_json, read_bytes_as, reader_of
from tui.threads.pythonprocs import runtime_of

DEFAULT_SECONDS = 10.0
TOP_SITES = 15
FRAMES_PER_SITE = 6
INJECT_TIMEOUT_S = 20.0
MEMRAY = "memray attach"
RESULT_LIMIT = 2_000_000  # bytes of the result file read back
COST = ("the process is paused about a second while the script is injected (gdb) and allocates 2-3x slower "
        "while tracemalloc runs")

_SCRIPT = '''
def _tshoot_memtrace(path, seconds, top, frames):
    import json, os, time, tracemalloc
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start(frames)
    try:
        before = tracemalloc.take_snapshot()
        time.sleep(seconds)
        after = tracemalloc.take_snapshot()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    sites = [{"frames": [f"{f.filename}:{f.lineno}" for f in stat.traceback][-frames:],
              "size_diff": stat.size_diff, "count_diff": stat.count_diff, "size": stat.size}
             for stat in after.compare_to(before, "traceback")
             if not any(f.filename.endswith("tracemalloc.py") for f in stat.traceback)][:top]  # not our own cost
    growth = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    result = {"sites": sites, "growth": growth, "was_tracing": was_tracing, "still_tracing": tracemalloc.is_tracing()}
    with open(path + ".part", "w") as out:
        json.dump(result, out)
    os.replace(path + ".part", path)

import threading
threading.Thread(target=_tshoot_memtrace, args=ARGS, daemon=True, name="tshoot-memtrace").start()
'''


class MemTraceError(Exception):
    """The trace could not be taken; the message says why and what to do."""


def plan(pid: int) -> str:
    """What the trace of `pid` will do and cost, for the confirmation (decided again when it runs)."""
    runtime = runtime_of(pid)
    found, why_not = find_memray(pid, runtime.version) if runtime.kind == "python" else (None, "")
    if found is not None:
        return (f"memray attach for {DEFAULT_SECONDS:g}s (the process can import memray from {found.site}). "
                f"Cost: {cost_of(found)}.")
    return (f"run tracemalloc inside it for {DEFAULT_SECONDS:g}s. Cost: {COST}. Before Python 3.14 gdb stops it "
            "about a second to inject; in rare cases (stopped inside malloc) that can hang it."
            + (f" Not memray: {why_not}." if why_not else ""))


def trace_allocations(pid: int, seconds: float = DEFAULT_SECONDS, top: int = TOP_SITES) -> MemTrace:
    """The allocation sites that grew in `pid` over `seconds`: with memray attach when the process can import
    memray (tui/processes/memrayattach.py), else tracemalloc injected; MemTraceError otherwise."""
    runtime = runtime_of(pid)
    if runtime.kind != "python":
        raise MemTraceError(f"pid {pid} is not a Python process tshoot can read")
    found, why_not = find_memray(pid, runtime.version)
    script = None if found else (lambda inside: _SCRIPT.replace("args=ARGS", "args={!r}".format(
        (str(inside / "result.json"), float(seconds), int(top), FRAMES_PER_SITE))))
    with _private_folder(pid, script) as (folder, inside, owner):
        if found is not None:
            return _trace_with_memray(found, pid, seconds, top, str(inside / "capture.bin"), owner)
        threads_before = _threads(pid)
        method = _inject(pid, runtime.version, inside / "memtrace.py")
        result = _wait_for(pid, folder / "result.json", str(inside / "result.json"), seconds + INJECT_TIMEOUT_S)
        deadline = time.monotonic() + 3
        while _threads(pid) > threads_before and time.monotonic() < deadline:
            time.sleep(0.1)  # the trace thread ends right after writing its result
    if result.get("still_tracing") and not result.get("was_tracing"):
        raise MemTraceError(f"tracemalloc is still running in pid {pid} after the trace")
    try:  # written by the target: any local user's code may have put anything there
        sites = [AllocationSite([str(f) for f in s["frames"]], int(s["size_diff"]), int(s["count_diff"]),
                                int(s["size"])) for s in list(result.get("sites", []))[:top] if isinstance(s, dict)]
        growth = int(result.get("growth", 0))
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise MemTraceError(f"the trace result of pid {pid} has an unexpected shape ({type(exc).__name__})") from None
    return MemTrace(pid=pid, method=method, seconds=seconds, taken_at=time.time(), growth=growth, sites=sites,
                    cost=COST, note=why_not)


def _trace_with_memray(found: memrayattach.Memray, pid: int, seconds: float, top: int, capture: str,
                       owner: os.stat_result) -> MemTrace:
    try:
        result = memrayattach.trace(found, pid, seconds, top, FRAMES_PER_SITE, capture, owner, lambda: _threads(pid))
    except memrayattach.MemrayError as exc:
        raise MemTraceError(str(exc)) from None
    return MemTrace(pid=pid, method=MEMRAY, seconds=result.seconds, taken_at=time.time(), growth=result.growth,
                    sites=result.sites, cost=cost_of(found))


@contextmanager
def _private_folder(pid: int, script: Callable[[Path], str] | None) -> Iterator[tuple[Path, Path, os.stat_result]]:
    """A fresh folder in the target's own /tmp (also inside a container), handed to the target's user (0700,
    nobody else) for its results and removed afterwards: (the folder as tshoot sees it, as the target sees it,
    the target's owner). `script(inside)` is written into it as memtrace.py before the handover."""
    try:
        owner = os.stat(f"/proc/{pid}")
        folder = Path(tempfile.mkdtemp(prefix="tshoot-memtrace-", dir=f"/proc/{pid}/root/tmp"))
    except OSError as exc:
        raise MemTraceError(f"cannot prepare a folder the process can write to: {exc}") from None
    try:
        inside = Path("/tmp") / folder.name
        if script is not None:
            # written while the folder is still root's alone: once its user owns it, a link planted there
            # would make root write through it
            fd = os.open(folder / "memtrace.py", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                         0o644)
            with os.fdopen(fd, "w") as file:
                os.fchmod(fd, 0o644)
                file.write(script(inside))
        os.chown(folder, owner.st_uid, owner.st_gid)
        yield folder, inside, owner
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _inject(pid: int, version: str, script: Path) -> str:
    if not str(script).replace("/", "").replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise MemTraceError(f"unexpected characters in the script path {script}")  # it is spliced into code
    major, _, minor = version.partition(".")
    if version and (int(major), int(minor or 0)) >= (3, 14):
        try:
            exe = os.stat(f"/proc/{pid}/exe")
        except OSError as exc:
            raise MemTraceError(f"cannot read pid {pid}'s interpreter: {exc.strerror or exc}") from None
        if exe.st_uid != 0 or exe.st_mode & 0o022:  # tshoot runs it as root: it must be root's alone
            raise MemTraceError(f"pid {pid}'s interpreter is not owned by root (or others may write it): tshoot "
                                "will not run it as root to inject the trace")
        command = [f"/proc/{pid}/exe", "-c", f"import sys; sys.remote_exec({pid}, {str(script)!r})"]
        method = "sys.remote_exec"
    else:
        gdb = shutil.which("gdb")
        if gdb is None:
            raise MemTraceError("gdb is not installed (needed before Python 3.14): apt-get install gdb")
        run = f'exec(open("{script}").read(), {{}})'
        command = [gdb, "-p", str(pid), "-batch", "-nx", "-ex", "call (int)PyGILState_Ensure()",
                   "-ex", f"call (int)PyRun_SimpleString({json.dumps(run)})", "-ex", "call (void)PyGILState_Release($1)"]
        method = "gdb"
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=INJECT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise MemTraceError(f"{method} did not finish within {INJECT_TIMEOUT_S:g}s") from None
    if done.returncode != 0 or (method == "gdb" and "$2 = 0" not in done.stdout):
        detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise MemTraceError(f"{method} could not run the script in pid {pid}: {detail[0][:300]}")
    return method


def _threads(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def _wait_for(pid: int, result: Path, inside: str, timeout: float) -> dict:
    """The result file, read as the target's user would (never through a link it planted, never a FIFO)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.lexists(result):
            reader = reader_of(pid)
            try:
                if reader is None:
                    raise FileRefused(inside, "the process has exited")
                data = read_bytes_as(reader, f"/proc/{pid}/root", inside, RESULT_LIMIT)
                parsed = parse_json(data.decode("utf-8", errors="replace"), inside)
            except FileRefused as exc:
                raise MemTraceError(f"the trace result of pid {pid} was refused: {exc}") from None
            if not isinstance(parsed, dict):
                raise MemTraceError("the trace result is not an object")
            return parsed
        time.sleep(0.2)
    raise MemTraceError(f"no result from the process within {timeout:g}s (it may be blocked: see Threads)")


def stopped(trace: MemTrace) -> str:
    """What tshoot verified was gone from the process afterwards."""
    if trace.method == MEMRAY:
        return "memray's tracker stopped again, its threads ended"
    return "tracemalloc stopped again"


def memtrace_text(trace: MemTrace) -> str:
    """The sites that grew, most first, for the screen (the caller makes it literal)."""
    if trace.method == MEMRAY:
        what = (f"{trace.growth / 2**20:+.1f} MB allocated in {trace.seconds:.3g}s and still live at its end "
                f"(memray attach, leaks view; {stopped(trace)})")
    else:
        what = (f"the traced heap grew {trace.growth / 2**20:+.1f} MB in {trace.seconds:g}s "
                f"(injected with {trace.method}; {stopped(trace)})")
    lines = [f"pid {trace.pid}: {what}", f"Cost to the process: {trace.cost}."]
    lines += [f"Not memray: {trace.note}.", ""] if trace.note else [""]
    for site in trace.sites:
        where = site.frames[-1] if site.frames else "(no Python frame)"
        lines.append(f"{site.size_diff / 2**20:+8.2f} MB {site.count_diff:+8d} blocks  {where}")
        lines += [f"{'':28}called from {frame}" for frame in reversed(site.frames[:-1])]
    if not trace.sites:
        lines.append("Nothing grew while it was traced.")
    return "\n".join(lines)


def trace_action(pid: int, seconds: float, keep: dict[int, MemTrace]) -> Verified:
    """The `trace memory` action: the trace is kept for the pane and snapshots; the log says what grew."""
    trace = trace_allocations(pid, seconds)
    keep[pid] = trace
    top = trace.sites[0] if trace.sites else None
    where = f"; most at {top.frames[-1]} (+{top.size_diff / 2**20:.1f} MB)" if top else ""
    return Verified(True, f"traced pid {pid} for {trace.seconds:.3g}s with {trace.method}: heap "
                          f"+{trace.growth / 2**20:.1f} MB{where}; {stopped(trace)}")
