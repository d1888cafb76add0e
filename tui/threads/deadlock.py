"""Wait-for graph between the stuck threads of one process: deadlocks (cycles) and lock contention.

Pure functions over the collected records, so a replayed snapshot gives the same findings.
A lock's identity is the object it hangs on (address from py-spy's --locals) and its attribute:
`self._lock` on two objects is two locks, the same object under two names is one. Through more than one
attribute (`self.registry._lock`) the object is the one read from memory at collection time (LockRef.object_addr,
tui/threads/objects.py), so it meets `self._lock` of the Registry; unread, it stays keyed by its name and says so
("by name"). Where the lock object itself was read (LockRef.lock_addr) or a local is the lock, its own address
joins every name of it (`lock = self._lock; with lock:`). A lock held through a @contextmanager whose object
has no address (`with pool.checkout():`, pool a module global) may close a cycle with a wait inside that same
contextmanager on the same attribute: a "probable" deadlock that says its identity rests on a name. A module-level lock is its module and name. A Condition built on a lock is that lock, and a `queue.Queue`
blocked taking its own mutex waits for whoever holds `q.mutex`. Waits inside Condition.wait/Event/queue
get and put/join/sleep/socket have no owner and never make an edge: they are named for what they wait for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from tui import registry
from tui.findings import Finding
from tui.threads.records import Frame, LockRef, ProcessThreads, ThreadRecord
from tui.wording import human_duration

# Frames of the synchronisation primitives themselves: their internal locks are not the program's.
_SYNC_INTERNALS = ("threading.py", "queue.py")
_LOCK_WRAPPERS = {"Condition.__enter__", "Condition.__exit__", "__enter__", "__exit__"}
# Waiting with no owner to blame: a sleep, I/O, or a stdlib wait (Condition, Event, queue, join, a child process).
_SLEEP_CALL = re.compile(r"\bsleep\s*\(")
_IO_FILES = ("selectors.py", "socket.py", "ssl.py", "connection.py", "base_events.py")
_IO_CALL = re.compile(r"\b(recv\w*|accept|select|poll|epoll|read\w*|sendall|connect)\s*\(")
_NO_OWNER_FILES = ("threading.py", "queue.py", "subprocess.py", "_base.py", "popen_fork.py")
_NO_OWNER_CALL = re.compile(r"\b(wait\w*|join|get|communicate|result)\s*\(")
_ROOT = re.compile(r"^([A-Za-z_]\w*)(.*)$", re.S)
_ATTRIBUTES = re.compile(r"^(?:\.[A-Za-z_]\w*)+$")
_TYPE_IN_REPR = re.compile(r"^<([\w.]+) (?:object )?at 0x")
# repr of a Condition: `<Condition(<unlocked _thread.lock object at 0x7f..>, 0)>` names the lock it is built on
_CONDITION_LOCK = re.compile(r"^<Condition\(<[^<>]* at (0x[0-9a-f]+)>, \d+\)>$")
_QUEUE_FILE = "queue.py"
# `q.put(x)`, `cond.wait()`, `done.wait(5)`, `worker.join()`: the object a program's line waits on
WAIT_TARGET = re.compile(r"([\w.\[\]'\"]+)\.(put|get|wait|wait_for|join)\s*\(")


@dataclass
class LockId:
    key: str  # identity used for matching
    label: str  # what the operator reads
    resolved: bool  # identity rests on an address or a module-level name, not on a guess
    queue_mutex: bool = False  # a queue.Queue's own mutex, waited for inside put()/get()
    by_name: bool = False  # named through attributes not read from memory: not matched to its other names (an
    # orphaned lock names such holders as perhaps the same lock)
    addr: int = 0  # the lock object's own address, when known: every name of one lock meets on it
    via: str = ""  # held for this frame by that @contextmanager function (LockRef.via)
    attribute: str = ""  # the last attribute of its expression (`_lock` of `self.registry._lock`), for by-name matching

    def same(self, other: LockId) -> bool:
        """One lock: the same key, or the same object read from memory under two names (an alias, a chain)."""
        return self.key == other.key or bool(self.addr and self.addr == other.addr)


@dataclass
class Holding:
    lock: LockId
    at: str  # file:line


@dataclass
class ThreadLocks:
    thread: ThreadRecord
    waits: LockId | None = None
    waits_at: str = ""
    waits_line: str = ""
    holds: list[Holding] = field(default_factory=list)


def _at(frame: Frame, line: int | None = None) -> str:
    return f"{frame.filename}:{line or frame.line}"


def _is_sync_internal(frame: Frame) -> bool:
    return PurePath(frame.filename).name in _SYNC_INTERNALS and "python" in frame.filename


def lock_id(frame: Frame, ref: LockRef) -> LockId:
    """The identity of the lock `ref.expr` names in `frame`, with the lock object's address where known."""
    lock = _lock_key(frame, ref)
    lock.attribute = ref.expr.rsplit(".", 1)[1] if "." in ref.expr else ""
    lock.via = ref.via
    if ref.lock_addr:
        lock.addr = ref.lock_addr
    elif not lock.addr and lock.key.startswith("0x") and "." not in lock.key:
        lock.addr = int(lock.key, 16)  # a local that is the lock itself, or a Condition's lock
    return lock


def _lock_key(frame: Frame, ref: LockRef) -> LockId:
    expr = _stdlib_lock_expr(frame, ref.expr)
    if expr != ref.expr:
        ref = LockRef(expr, ref.line, ref.module_level)
    match = _ROOT.match(ref.expr)
    root, rest = (match.group(1), match.group(2)) if match else (ref.expr, "")
    local = next((v for v in frame.locals if v.name == root and v.addr), None)
    if local is not None and not rest and (condition := _CONDITION_LOCK.match(local.repr)):
        return LockId(condition.group(1), f"{ref.expr} (Condition on lock@{condition.group(1)})", True)
    if ref.object_addr and "." in ref.expr:  # `self.registry._lock`: the registry's address was read from memory
        attribute = ref.expr.rsplit(".", 1)[1]
        return LockId(f"{ref.object_addr:#x}.{attribute}",
                      f"{ref.expr} ({ref.object_type or 'object'}@{ref.object_addr:#x})", True)
    if local is not None:
        type_match = _TYPE_IN_REPR.match(local.repr)
        kind = type_match.group(1) if type_match else "object"
        if _queue_mutex_wait(frame) and ref.expr == "self.mutex":
            return LockId(f"{local.addr:#x}.mutex", f"the mutex of {kind}@{local.addr:#x}", True, queue_mutex=True)
        # through two attributes and not read from memory: the same lock named from elsewhere is not matched
        by_name = bool(_ATTRIBUTES.match(rest)) and rest.count(".") > 1
        return LockId(f"{local.addr:#x}{rest}", f"{ref.expr} ({kind}@{local.addr:#x}{', by name' if by_name else ''})",
                      True, by_name=by_name)
    module = PurePath(frame.filename).stem
    if _queue_mutex_wait(frame) and ref.expr == "self.mutex":
        return LockId(f"{frame.filename}:{frame.function}:self.mutex", "the mutex of a queue", False, queue_mutex=True)
    if ref.module_level:
        filename = ref.file or frame.filename
        return LockId(f"{filename}:{ref.expr}", f"{PurePath(filename).stem}.{ref.expr}", True)
    return LockId(f"{frame.filename}:{frame.function}:{ref.expr}", f"{ref.expr} (in {module}.{frame.function})", False)


# Standard-library objects whose acquire()/release() methods take a lock they keep in an attribute: the
# statement `self.acquire()` in logging's Handler.handle holds `self.lock`, the lock Handler.acquire waits for.
_WRAPPED_LOCKS = {("logging", "__init__.py"): {"self": "self.lock"}}


def _stdlib_lock_expr(frame: Frame, expr: str) -> str:
    """The expression of the lock itself, where the standard library wraps it in an object's own methods."""
    parts = PurePath(frame.filename).parts[-2:]
    return _WRAPPED_LOCKS.get(parts, {}).get(expr, expr) if "python" in frame.filename else expr


def program_frame(thread: ThreadRecord) -> Frame | None:
    """The innermost frame of the program's own statement (skipping Condition's __enter__ wrapper)."""
    for frame in thread.frames:
        if _is_sync_internal(frame) and frame.function in _LOCK_WRAPPERS:
            continue
        return frame
    return None


def _queue_mutex_wait(frame: Frame) -> bool:
    """queue.Queue's put/get blocked taking the queue's own mutex (`with self.not_full:`, a Condition on
    `self.mutex`): a lock wait whose holder is whichever thread took `q.mutex`."""
    return PurePath(frame.filename).name == _QUEUE_FILE and frame.waits is not None and frame.waits.expr == "self.mutex"


def waits_for_lock(thread: ThreadRecord) -> bool:
    """The thread is blocked at a lock statement of the program, or on a queue's mutex (before any native
    confirmation)."""
    frame = program_frame(thread)
    return (frame is not None and frame.waits is not None and not thread.active
            and (not _is_sync_internal(frame) or _queue_mutex_wait(frame)))


def thread_locks(thread: ThreadRecord) -> ThreadLocks:
    """What the thread waits for (if it is blocked acquiring a lock) and every lock it holds."""
    result = ThreadLocks(thread)
    if waits_for_lock(thread) and thread.native_lock_wait is not False:
        waiting_frame = program_frame(thread)
        result.waits = lock_id(waiting_frame, waiting_frame.waits)
        result.waits_at = _at(waiting_frame, waiting_frame.waits.line)
        result.waits_line = waiting_frame.line_text
        if _queue_mutex_wait(waiting_frame):  # the program's own line: `q.put(x)`, not queue.py's
            caller = next((f for f in thread.frames[thread.frames.index(waiting_frame) + 1:]
                           if not _is_sync_internal(f)), None)
            if caller is not None:
                result.waits_at, result.waits_line = _at(caller), caller.line_text
    for frame in thread.frames:
        if _is_sync_internal(frame):
            continue
        for ref in frame.held:
            result.holds.append(Holding(lock_id(frame, ref), _at(frame, ref.line)))
    return result


def thread_state(thread: ThreadRecord) -> str:
    """waiting for a lock / GIL / active / sleeping / waiting on I/O / waiting (no owner) / idle, plus how long
    it has been stuck at least."""
    locks = thread_locks(thread)
    if locks.waits is not None:
        state = f"waiting for {locks.waits.label}"
    elif thread.owns_gil:
        state = "GIL"
    elif thread.active:
        state = "active"
    elif (wait := _wait_without_owner(thread)) is not None:
        return wait
    else:
        state = "idle"
    spin = cpu_verdict(thread)
    if thread.stuck and (locks.waits is not None or state == "idle"):
        return f"{state}, {stuck_words(thread.stuck_for_s)}" + (f", {spin}" if spin else "")
    if spin == "spinning":  # on CPU with the same stack in every dump: a busy loop (or one long statement)
        return f"{state}, spinning: same stack, CPU time moving"
    return state


def stuck_words(seconds: float) -> str:
    """How long a stack has not moved, honestly: tshoot only knows since it first looked."""
    return f"stuck ≥ {human_duration(seconds)} (since first seen)"


SPINNING_CPU_S = 0.02  # two clock ticks at 100 Hz: a thread parked in a futex uses none between two dumps


def cpu_verdict(thread: ThreadRecord) -> str | None:
    """For a thread whose stack did not move across the look: "blocked" when its CPU time did not move
    either (/proc/PID/task/TID/stat), "spinning" (a busy loop) when it did; None when unknown or moving."""
    if not thread.stuck or thread.cpu_seconds is None:
        return None
    return "spinning" if thread.cpu_seconds >= SPINNING_CPU_S else "blocked"


def _wait_without_owner(thread: ThreadRecord) -> str | None:
    """"sleeping", "waiting on I/O", what a Condition/Event/queue/join wait waits for (a full queue, a
    notify), "waiting (no owner)" for the other stdlib waits, else None. Stuck ones say for how long."""
    if not thread.frames:
        return None
    innermost = thread.frames[0]
    filename = PurePath(innermost.filename).name
    if _SLEEP_CALL.search(innermost.line_text):
        return "sleeping"
    if filename in _IO_FILES or _IO_CALL.search(innermost.line_text):
        return "waiting on I/O"
    if filename in _NO_OWNER_FILES or _NO_OWNER_CALL.search(innermost.line_text):
        what = _sync_wait(thread)
        if what is None:
            return "waiting (no owner)"
        return f"{what}, {stuck_words(thread.stuck_for_s)}" if thread.stuck and thread.stuck_for_s else what
    return None


def _sync_wait(thread: ThreadRecord) -> str | None:
    """What a thread parked inside threading/queue waits for, in the program's own names: room in a full
    queue, an item, a notify on a condition, an event, a thread's end. None for other waits (a future)."""
    sync = []
    caller = None
    for frame in thread.frames:
        if _is_sync_internal(frame):
            sync.append(frame)
            continue
        caller = frame
        break
    target = WAIT_TARGET.search(caller.line_text) if caller is not None else None
    name = f" {target.group(1)}" if target else ""
    functions = [f.function.rsplit(".", 1)[-1] for f in sync]
    in_queue = [f.function.rsplit(".", 1)[-1] for f in sync if PurePath(f.filename).name == _QUEUE_FILE]
    if "put" in in_queue:
        return f"waiting for room in full queue{name}: until another thread takes an item"
    if "get" in in_queue:
        return f"waiting for an item from queue{name} (empty)"
    if "join" in in_queue:
        return f"waiting until every task of queue{name} is done"
    if "join" in functions or "_wait_for_tstate_lock" in functions:
        return f"waiting for thread{name} to finish"
    if any("_cond.wait" in f.line_text for f in sync):
        return f"waiting for event{name} to be set"
    if caller is not None and "/lib/python3." in caller.filename and "-packages/" not in caller.filename:
        return None  # a condition inside the standard library (a future's result()): named elsewhere
    if "wait" in functions or "wait_for" in functions:
        return f"waiting on condition{name}: until another thread notifies it"
    return None


def analyze_process(process: ProcessThreads, stuck_threshold_s: float) -> list[Finding]:
    """`deadlock` for every cycle in the wait-for graph; `lock-contention` for stuck waiters outside cycles."""
    if process.error or not process.threads:
        return []
    one_sample = process.samples <= 1  # cannot tell stuck from busy: consider every waiter, as probable
    locks = [thread_locks(t) for t in process.threads]
    by_ident = {t.thread.ident: t for t in locks}
    # a waiter whose CPU time moved since the first dump got the lock meanwhile (busy threads taking turns
    # at one lock show the same `with lock:` line in every dump): progress, not a wait
    waiters = [t for t in locks if t.waits is not None and (t.thread.stuck or one_sample)
               and cpu_verdict(t.thread) != "spinning"]
    edges: dict[int, list[tuple[ThreadLocks, bool]]] = {}  # waiter tid -> (holder, confirmed from memory)
    for waiter in waiters:
        edges[waiter.thread.tid] = _holders(waiter, locks, by_ident, process)
    # A lock one side names without an address (`pool.lock`, pool a module global held through a
    # @contextmanager) and the other reads from memory: matched on the attribute, only to close a cycle.
    by_name = {waiter.thread.tid: _holders_by_name(waiter, locks) for waiter in waiters if not edges[waiter.thread.tid]}
    findings = []
    in_cycles: set[int] = set()
    linked = {tid: edges[tid] or [(holder, False) for holder in by_name.get(tid, [])] for tid in edges}
    for number, cycle in enumerate(_cycles(waiters, linked)):
        in_cycles.update(t.thread.tid for t in cycle)
        named = [m for m in cycle if by_name.get(m.thread.tid)]
        findings.append(_deadlock_finding(process, cycle, number, one_sample, linked, named))
    findings.extend(_contention_findings(process, locks, waiters, edges, in_cycles, stuck_threshold_s, one_sample))
    return findings


def _holders(waiter: ThreadLocks, locks: list[ThreadLocks], by_ident: dict[int, ThreadLocks],
             process: ProcessThreads) -> list[tuple[ThreadLocks, bool]]:
    owner_addr = hex(waiter.waits.addr) if waiter.waits.addr else None
    owner = process.rlock_owners.get(owner_addr) if owner_addr else None
    if owner is not None:  # an RLock whose owner was read from memory: no need to guess
        holder = by_ident.get(owner.owner_ident)
        return [(holder, True)] if holder is not None and holder is not waiter else []
    holders = []
    for other in locks:
        if any(h.lock.same(waiter.waits) for h in other.holds):
            if other is waiter and waiter.thread.native_reentrant is not False:
                continue  # re-entering a lock it holds only blocks on a plain Lock, proven by native frames
            holders.append((other, False))
    if not holders and waiter.waits.queue_mutex:
        # a queue's mutex, held by a program frame that names the queue its own way (`self.jobs.mutex`, a
        # module-level `JOBS.mutex`, without an address): the thread holding some `….mutex` is the holder
        holders = [(other, False) for other in locks
                   if other is not waiter and any(h.lock.key.endswith(".mutex") for h in other.holds)]
    return holders


def _holders_by_name(waiter: ThreadLocks, locks: list[ThreadLocks]) -> list[ThreadLocks]:
    """Threads holding, through a @contextmanager with no address for its object (`with pool.checkout():`,
    pool a module global), the lock the waiter waits for inside that same contextmanager (`with self.lock:` in
    `checkout`): the same statement of the same function, so most likely the same lock; never two locks both
    read from memory, never a mere common attribute name (`_lock`)."""
    wanted, frame = waiter.waits, program_frame(waiter.thread)
    if not wanted.attribute or frame is None:
        return []
    function = frame.function.rsplit(".", 1)[-1]
    return [other for other in locks if other is not waiter and any(
        h.lock.via == function and h.lock.attribute == wanted.attribute and not (_anchored(h.lock) and _anchored(wanted))
        for h in other.holds)]


def _anchored(lock: LockId) -> bool:
    """Its identity rests on an address (its object's or its own), not on a name."""
    return bool(lock.addr) or (lock.key.startswith("0x") and not lock.by_name)


def _cycles(waiters: list[ThreadLocks], edges: dict[int, list[tuple[ThreadLocks, bool]]]) -> list[list[ThreadLocks]]:
    """Every elementary cycle, each once, starting at its lowest tid."""
    found: list[list[ThreadLocks]] = []
    by_tid = {w.thread.tid: w for w in waiters}

    def walk(start: int, node: ThreadLocks, path: list[ThreadLocks], on_path: set[int]) -> None:
        for holder, _ in edges.get(node.thread.tid, []):
            tid = holder.thread.tid
            if tid == start:
                found.append(list(path))
            elif tid > start and tid in by_tid and tid not in on_path:
                walk(start, holder, path + [holder], on_path | {tid})

    for start in sorted(by_tid):
        walk(start, by_tid[start], [by_tid[start]], {start})
    return found


def _deadlock_finding(process: ProcessThreads, cycle: list[ThreadLocks], number: int, one_sample: bool,
                      edges: dict[int, list[tuple[ThreadLocks, bool]]], named: list[ThreadLocks]) -> Finding:
    entries = []
    for index, member in enumerate(cycle):
        previous = cycle[index - 1]  # it waits for a lock this member holds
        held = next((h for h in member.holds if h.lock.same(previous.waits)), None)
        if held is None and previous in named:
            held = next((h for h in member.holds if h.lock.attribute == previous.waits.attribute), None)
        entries.append({
            "name": member.thread.name,
            "tid": member.thread.tid,
            "holds": held.lock.label if held else previous.waits.label,
            "held_at": held.at if held else "unknown (owner read from process memory)",
            "waits_for": member.waits.label,
            "waits_at": member.waits_at,
            "waits_line": member.waits_line,
            "cpu": cpu_verdict(member.thread),
            "stack": [f"{f.function} ({f.filename}:{f.line})" for f in member.thread.frames[:12]],
        })
    def edge_confirmed(index: int, member: ThreadLocks) -> bool:
        """Native frames show it in a lock acquire, or the owner of its RLock was read from memory."""
        holder = cycle[(index + 1) % len(cycle)]
        from_memory = any(h is holder and confirmed for h, confirmed in edges.get(member.thread.tid, []))
        return bool(member.thread.native_lock_wait) or from_memory

    confirmed = not named and not one_sample and all(
        edge_confirmed(i, m) and m.waits.resolved and all(h.lock.resolved for h in m.holds) for i, m in enumerate(cycle))
    names = " and ".join(f'"{m.thread.name}"' for m in cycle)
    identity = {"identity": "by name: " + "; ".join(
        f"{m.waits.label} is taken to be the lock another thread holds through the same @contextmanager "
        f"(same attribute '{m.waits.attribute}', its object not read from memory)" for m in named)} if named else {}
    return hang_finding(
        "deadlock", "critical", process,
        f"Deadlock in pid {process.pid} ({process.name}): {names} wait for each other's locks",
        ("Each of these threads holds a lock the next one waits for, so none can ever proceed. "
         "Restart the process to recover; fix the code so every path takes these locks in one order "
         "(or use one lock). The report lists where each lock was taken and where each thread waits."),
        {"threads": entries, "confidence": "confirmed" if confirmed else "probable", **identity},
        **({"cycle": number + 1} if number else {}),
    )


def _contention_findings(process: ProcessThreads, locks: list[ThreadLocks], waiters: list[ThreadLocks],
                         edges: dict[int, list[tuple[ThreadLocks, bool]]], in_cycles: set[int],
                         stuck_threshold_s: float, one_sample: bool) -> list[Finding]:
    by_lock: dict[str, list[ThreadLocks]] = {}
    for waiter in waiters:
        if waiter.thread.tid in in_cycles or (not one_sample and waiter.thread.stuck_for_s < stuck_threshold_s):
            continue
        by_lock.setdefault(f"{waiter.waits.addr:#x}" if waiter.waits.addr else waiter.waits.key, []).append(waiter)
    findings = []
    for queued in by_lock.values():
        lock = queued[0].waits
        holders = [h for h, _ in edges.get(queued[0].thread.tid, [])]
        holder = holders[0] if holders else None
        waiters = [{"name": w.thread.name, "tid": w.thread.tid, "waits_at": w.waits_at,
                    "stuck_at_least_s": w.thread.stuck_for_s, "cpu": cpu_verdict(w.thread)} for w in queued]
        longest = max(w.thread.stuck_for_s for w in queued)  # since tshoot first saw it: the wait may be older
        if holder is None:
            findings.append(_orphaned_lock_finding(process, lock, waiters, longest, _held_by_name(lock, locks)))
            continue
        holder_state = thread_state(holder.thread)
        held = next((h for h in holder.holds if h.lock.same(lock)), None)
        if held is None and lock.queue_mutex:  # a queue's mutex the holder names its own way
            held = next((h for h in holder.holds if h.lock.key.endswith(".mutex")), None)
            if held is not None:
                lock = LockId(lock.key, f"{held.lock.label} ({lock.label})", False)
        held_at = held.at if held else "unknown"
        holder_entry = {"name": holder.thread.name, "tid": holder.thread.tid, "state": holder_state, "held_at": held_at,
                        "cpu": cpu_verdict(holder.thread)}
        if holder_state == "waiting on I/O" and holder.thread.frames:
            blocked = holder.thread.frames[0]
            holder_entry["blocked_at"] = f"{blocked.filename}:{blocked.line}"
            holder_entry["blocked_line"] = blocked.line_text
            findings.append(_lock_finding(
                "lock-held-across-io", "warning", process, lock, holder_entry, waiters, longest,
                (f'{lock.label} in pid {process.pid} is held by "{holder.thread.name}" while it waits on I/O '
                 f"({blocked.line_text or blocked.function}); {len(queued)} thread(s) queued"),
                ("A thread took a lock and then blocked on a socket, file or subprocess while holding it, so "
                 "every other thread that needs the lock waits for that I/O too: one slow or dead peer stalls "
                 "the whole process. This is not a deadlock. Fix: do the I/O outside the lock (copy what you "
                 "need, release, then call), and give the call a timeout.")))
            continue
        findings.append(_lock_finding(
            "lock-contention", "warning", process, lock, holder_entry, waiters, longest,
            (f"{len(queued)} thread(s) of pid {process.pid} queued for {lock.label}, held by "
             f'"{holder.thread.name}" (tid {holder.thread.tid}, {holder_state})'),
            ("Threads are blocked on a lock that another thread keeps. This is not a deadlock: it clears "
             "when the holder releases it. Look at what the holder does while holding the lock "
             "(slow I/O, sleep, a long computation) and shorten that critical section.")))
    return findings


def _held_by_name(lock: LockId, locks: list[ThreadLocks]) -> list[dict]:
    """Threads holding a lock known only by its name (`self.registry._lock`, not read from memory) whose last
    attribute is the waited lock's: perhaps the same lock, which would make the waiters contention or a deadlock."""
    return [{"name": t.thread.name, "tid": t.thread.tid, "as": h.lock.label, "held_at": h.at}
            for t in locks for h in t.holds if h.lock.by_name and lock.attribute and h.lock.attribute == lock.attribute]


def _orphaned_lock_finding(process: ProcessThreads, lock: LockId, waiters: list[dict], longest: float,
                           maybe_held: list[dict]) -> Finding:
    """Waiters and no live thread that holds the lock: it was taken and never released (or, with `maybe_held`,
    a thread holds it under a name tshoot could not follow to the object)."""
    title = f"{len(waiters)} thread(s) of pid {process.pid} wait for {lock.label}, which no live thread holds"
    detail = ("The lock was acquired and never released: typically a thread that died holding it, or an "
              "`acquire()` whose `release()` an exception skipped. Nothing will ever release it, so the waiters "
              "hang until the process restarts. This is not a deadlock. Fix: take the lock with `with` (or "
              "release in `finally:`), and look in the logs for the exception that killed the holder. (A lock "
              "held by native code or by a frame tshoot could not read looks the same: check the evidence.)")
    if maybe_held:
        first = maybe_held[0]
        title = (f"{len(waiters)} thread(s) of pid {process.pid} wait for {lock.label}; no live thread is known to "
                 f'hold it, but "{first["name"]}" holds {first["as"]}')
        detail = ("No thread holds this lock through the same object, but some hold a lock of the same attribute "
                  "name reached through other objects (see maybe_held_by): tshoot could not read this Python's "
                  "objects to tell whether they are the same lock, so it compares them by name only. If they are, "
                  "the waiters are queued behind that thread (contention), or it waits for them in turn (a "
                  "deadlock): compare the stacks. If not, the lock was acquired and never released.")
    finding = _lock_finding("orphaned-lock", "critical", process, lock, None, waiters, longest, title, detail)
    if maybe_held:
        finding.evidence["maybe_held_by"] = maybe_held
    return finding


def _lock_finding(kind: str, severity: str, process: ProcessThreads, lock: LockId, holder: dict | None,
                  waiters: list[dict], longest: float, title: str, detail: str) -> Finding:
    """A finding about threads queued on one lock: its holder (None: nobody alive) and its waiters."""
    return hang_finding(kind, severity, process, title, detail,
                        {"lock": lock.label, "holder": holder, "waiters": waiters, "longest_stuck_at_least_s": longest},
                        lock=lock.label)


def hang_finding(kind: str, severity: str, process: ProcessThreads, title: str, detail: str,
                 evidence: dict[str, Any], guide: str = "hang", **subject: Any) -> Finding:
    """A Threads finding about `process` (and `subject`: its lock, pool, thread...), explained by the hang
    guide unless told otherwise. One the sweep found says what its dumps cost the process (the pause budget)."""
    if process.found_by == "scan":
        evidence = {**evidence, "paused_ms_last_minute": process.paused_ms_last_minute}
    return Finding(id=kind, severity=severity, source=registry.THREADS, title=title, detail=detail,
                   subject={"pid": process.pid, **subject}, evidence=evidence, guide=guide)


def format_deadlock_report(finding: Finding, stacks: bool = True) -> str:
    """The jstack-style text of a `deadlock` finding, for the pane and `tshoot doctor`; `stacks=False` is the summary."""
    threads = finding.evidence.get("threads", [])
    pid = finding.subject.get("pid")
    rule = "=" * 60
    lines = [f"Found one Python-level deadlock in pid {pid} ({finding.evidence.get('confidence', 'probable')}):", rule]
    for index, entry in enumerate(threads):
        holder = threads[(index + 1) % len(threads)]
        lines += [f'"{entry["name"]}" (tid {entry["tid"]}):',
                  f"  waiting to lock {entry['waits_for']},",
                  f'  which is held by "{holder["name"]}" (tid {holder["tid"]})']
    if not stacks:
        return "\n".join(lines)
    lines += ["", "Python stack information for the threads listed above:", rule]
    for entry in threads:
        lines.append(f'"{entry["name"]}" (tid {entry["tid"]}):')
        code = f"    {entry['waits_line']}" if entry.get("waits_line") else ""
        lines.append(f"  - waiting to lock {entry['waits_for']} at {entry['waits_at']}")
        if code:
            lines.append(code)
        lines.append(f"  - locked {entry['holds']} at {entry['held_at']}")
        lines += [f"    at {frame}" for frame in entry.get("stack", [])]
        lines.append("")
    lines.append("Found 1 deadlock.")
    return "\n".join(lines)
