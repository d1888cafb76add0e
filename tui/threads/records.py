"""The records the Threads source collects; plain JSON-friendly dataclasses (they go into snapshots)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tui.redact import redact_value

# What a snapshot keeps of a local unless the operator sets `snapshot_locals = true`: its name, its address and,
# for an object whose repr is only a type and an address (`<_thread.RLock at 0x7f...>`), that repr, which the
# deadlock analysis reads to name a lock. A value (a string, a dict, a number) may be a password or a token.
LOCAL_NOT_SAVED = "(value not saved)"
_TYPE_AND_ADDRESS = re.compile(r"<[\w.]+ (?:object )?at 0x[0-9a-fA-F]+>")


@dataclass
class LocalVar:
    name: str
    repr: str  # masked with tui.redact before it is stored
    addr: int = 0  # object address in the target process; qualifies lock identity
    is_arg: bool = False


@dataclass
class LockRef:
    expr: str  # source expression of the lock, e.g. "self._lock", "ACCOUNTS_LOCK"
    line: int  # the `with` / `acquire()` line
    module_level: bool = False  # the expression starts at a module-level name of the frame's file
    file: str = ""  # the file that names it, when not the frame's own (a lock held by a @contextmanager)
    via: str = ""  # the @contextmanager function that holds it for this frame (`with pool.checkout():`)
    # the object the last attribute of `expr` hangs on, read from the process's memory when the expression
    # goes through more than one attribute (`self.registry` in `self.registry._lock`); 0 when not read
    object_addr: int = 0
    object_type: str = ""  # that object's type name
    # the lock object itself, read from memory (`self._lock`'s value): the identity every name of it shares,
    # an alias (`lock = self._lock; with lock:`) and a Condition's lock included; 0 when not read
    lock_addr: int = 0


@dataclass
class Frame:
    function: str
    filename: str
    line: int
    line_text: str = ""  # the source line, read through /proc/<pid>/root
    locals: list[LocalVar] = field(default_factory=list)
    waits: LockRef | None = None  # lock the statement at `line` acquires (`with X:`, `X.acquire()`)
    held: list[LockRef] = field(default_factory=list)  # locks this frame holds at `line`
    takes_from: list[str] = field(default_factory=list)  # queues its function takes items from (`q.get()`)


@dataclass
class ThreadRecord:
    tid: int  # OS thread id (what top -H shows)
    ident: int  # Python thread ident (pthread id); RLock owners are stored as this
    name: str
    active: bool  # py-spy: on CPU (not idle in a syscall)
    owns_gil: bool
    frames: list[Frame] = field(default_factory=list)  # innermost first
    stuck: bool = False  # stack unchanged across every sample of the poll
    stuck_for_s: float = 0.0  # at least: since tshoot first saw this stack unchanged (across polls too)
    cpu_seconds: float | None = None  # CPU time it used between the first and the last dump of the look
    native_lock_wait: bool | None = None  # native frames show a lock acquire; None when not unwound
    native_reentrant: bool | None = None  # the native acquire is an RLock's


@dataclass
class RLockOwner:
    owner_ident: int  # 0 when nobody owns it
    count: int


@dataclass
class ProcessThreads:
    pid: int
    name: str = ""
    cmdline: str = ""
    python: bool = True
    python_version: str = ""
    error: str | None = None  # why this pid could not be dumped
    remedy: str = ""
    threads: list[ThreadRecord] = field(default_factory=list)
    samples: int = 0
    sample_interval: float = 0.0
    dump_seconds: float = 0.0  # slowest single py-spy dump: how long the target was paused
    paused_seconds: float = 0.0  # every dump of this look together
    paused_ms_last_minute: float = 0.0  # what the finder's sweeps cost this process in the last minute
    found_by: str = "operator"  # "operator" (--pid, the pane) or "scan" (the finder saw something stuck)
    warnings: list[str] = field(default_factory=list)  # e.g. source files newer than the process
    rlock_owners: dict[str, RLockOwner] = field(default_factory=dict)  # hex address -> owner read from memory
    jstack: str | None = None  # a JVM's own thread dump, when jstack is on PATH


@dataclass
class PythonCandidate:
    pid: int
    name: str
    cmdline: str
    python_version: str = ""
    threads: int = 0
    cpu_seconds: float = 0.0  # user + system since it started
    started: float = 0.0  # epoch seconds


@dataclass
class HotSpot:
    function: str
    location: str  # file:line
    self_percent: float  # of the samples: time spent in this function itself
    total_percent: float  # of the samples: time spent in it or in what it called


@dataclass
class Profile:
    """Where a busy Python process spends its CPU: py-spy's sampler, run without pausing the target."""

    pid: int
    name: str = ""
    cpu_percent: float = 0.0  # of one core, measured just before the profile
    samples: int = 0
    seconds: float = 0.0
    taken_at: float = 0.0
    hot: list[HotSpot] = field(default_factory=list)  # by self time, most first
    stacks: list[tuple[str, float]] = field(default_factory=list)  # the hottest whole stacks, outermost first


@dataclass
class ThreadsSection:
    processes: dict[str, ProcessThreads] = field(default_factory=dict)  # keyed by str(pid)
    candidates: list[PythonCandidate] = field(default_factory=list)  # Python processes, for the chooser
    profiles: dict[str, Profile] = field(default_factory=dict)  # busy Python processes, keyed by str(pid)
    swept: int = 0  # Python processes the sweep has looked at (find_stuck)
    unswept: int = 0  # Python processes the sweep has not looked at yet (its time budget ran out on a busy host)
    over_budget: int = 0  # dumps this poll's sweep skipped: they would have paused their process beyond its budget
    taken_at: float = 0.0  # unix time of this poll


def locals_for_file(section: dict[str, Any], keep_values: bool) -> dict[str, Any]:
    """A serialised ThreadsSection with each local's value replaced by LOCAL_NOT_SAVED (or, when the operator
    asked for values, redacted by its name again); changed in place and returned."""
    for process in (section.get("processes") or {}).values():
        for thread in process.get("threads") or []:
            for frame in thread.get("frames") or []:
                for var in frame.get("locals") or []:
                    shown = str(var.get("repr") or "")
                    if keep_values:
                        var["repr"] = redact_value(str(var.get("name") or ""), shown)
                    elif not _TYPE_AND_ADDRESS.fullmatch(shown):
                        var["repr"] = LOCAL_NOT_SAVED
    return section
