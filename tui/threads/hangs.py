"""Hangs that are not lock cycles: a starved executor, a blocked event loop, an exhausted connection pool, a full
queue whose consumer is stuck.

All look like a healthy idle process from the outside (no CPU, threads parked in waits), and none is
a deadlock: each has its own finding id, evidence (threads, file:line) and fix. Pure functions over the
collected records, like the deadlock analysis, so a replayed snapshot gives the same findings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePath

from tui.findings import Finding
from tui.threads.deadlock import WAIT_TARGET, cpu_verdict, hang_finding, stuck_words, thread_state
from tui.threads.records import Frame, ProcessThreads, ThreadRecord

_EXECUTOR_FILE = ("concurrent", "futures", "thread.py")
_FUTURES_BASE = ("concurrent", "futures", "_base.py")
_FUTURE_WAITS = {"Future.result", "Future.exception", "wait", "as_completed", "result", "exception"}
_ASYNCIO_DIR = "asyncio"


def analyze_hangs(process: ProcessThreads, stuck_threshold_s: float) -> list[Finding]:
    """`pool-starvation`, `event-loop-blocked`, `pool-exhausted` and `queue-stalled` for one dumped process."""
    if process.error or not process.threads:
        return []
    return [*_pool_starvation(process, stuck_threshold_s), *_blocked_loops(process, stuck_threshold_s),
            *_pool_exhausted(process, stuck_threshold_s), *_queues_stalled(process, stuck_threshold_s)]


def _in(frame: Frame, parts: tuple[str, ...]) -> bool:
    return PurePath(frame.filename).parts[-len(parts):] == parts


def _stuck_long_enough(thread: ThreadRecord, threshold_s: float) -> bool:
    """Off CPU with the same stack in every sample, for at least the threshold."""
    return thread.stuck and not thread.active and thread.stuck_for_s >= threshold_s


def _program_frame(thread: ThreadRecord, below: int) -> Frame | None:
    """The innermost frame of the program's own code among the first `below` frames (not the standard
    library, not an installed package): the line the operator has to change."""
    return next((frame for frame in thread.frames[:below] if _is_program(frame)), None)


def _is_program(frame: Frame) -> bool:
    path = frame.filename
    return "/lib/python3." not in path and "site-packages" not in path and "dist-packages" not in path


def _pool_starvation(process: ProcessThreads, threshold_s: float) -> list[Finding]:
    pools: dict[str, list[ThreadRecord]] = {}  # work queue address -> the workers that take from it
    for thread in process.threads:
        worker = next((f for f in thread.frames if f.function == "_worker" and _in(f, _EXECUTOR_FILE)), None)
        if worker is None:
            continue
        queue = next((v for v in worker.locals if v.name == "work_queue"), None)
        key = f"{queue.addr:#x}" if queue is not None and queue.addr else thread.name.rsplit("_", 1)[0]
        pools.setdefault(key, []).append(thread)
    findings = []
    for workers in pools.values():
        waiting = [w for w in workers if _waits_on_future(w) and _stuck_long_enough(w, threshold_s)]
        if len(waiting) != len(workers):
            continue  # a free or working worker can still run the queued tasks
        prefix = workers[0].name.rsplit("_", 1)[0]
        entries = []
        for worker in workers:
            task_index = next(i for i, f in enumerate(worker.frames) if f.function.endswith("_WorkItem.run"))
            task = _program_frame(worker, task_index) or worker.frames[0]
            entries.append({"name": worker.name, "tid": worker.tid, "waits_at": f"{task.filename}:{task.line}",
                            "waits_line": task.line_text, "stuck_at_least_s": worker.stuck_for_s,
                            "cpu": cpu_verdict(worker)})
        findings.append(hang_finding(
            "pool-starvation", "critical", process,
            (f"Executor {prefix!r} in pid {process.pid} is starved: all {len(workers)} workers wait for "
             "futures that need a free worker"),
            ("Every worker of this thread pool runs a task that waits for another future, and none is free "
             "to run the tasks queued behind them: the pool waits for itself and makes no progress. This is "
             "not a lock deadlock. Fix: never block a pool's worker on a future submitted to the same pool "
             "(run the sub-task inline, use a second executor for sub-tasks, or make the caller async); "
             "raising max_workers only moves the limit. Restart the process to recover."),
            {"workers": entries, "pool_threads": len(workers)},
            pool=prefix,
        ))
    return findings


def _waits_on_future(thread: ThreadRecord) -> bool:
    """Inside a task, blocked in Future.result()/wait()/as_completed() of concurrent.futures."""
    in_task = any(f.function.endswith("_WorkItem.run") for f in thread.frames)
    return in_task and any(_in(f, _FUTURES_BASE) and f.function in _FUTURE_WAITS for f in thread.frames)


def _blocked_loops(process: ProcessThreads, threshold_s: float) -> list[Finding]:
    findings = []
    for thread in process.threads:
        handle = next((i for i, f in enumerate(thread.frames)
                       if f.function.endswith("Handle._run") and _ASYNCIO_DIR in PurePath(f.filename).parts), None)
        if handle is None or not any(f.function.endswith("_run_once") for f in thread.frames[handle:]):
            continue  # not an event loop, or a loop idle in select(): healthy
        verdict = cpu_verdict(thread)  # the thread's CPU time says it better than py-spy's idle guess
        busy = verdict == "spinning" if verdict else (thread.active or thread.owns_gil)
        if not (thread.stuck and (busy or _stuck_long_enough(thread, threshold_s))):
            continue
        culprit = _program_frame(thread, handle) or thread.frames[0]
        coroutine = thread.frames[handle - 1] if handle else culprit
        how = "running CPU-bound code" if busy else f"blocked in a synchronous call ({thread_state(thread)})"
        findings.append(hang_finding(
            "event-loop-blocked", "critical", process,
            (f"The asyncio event loop of pid {process.pid} (thread \"{thread.name}\") is {how} in "
             f"{coroutine.function}, {stuck_words(thread.stuck_for_s)}"),
            ("A coroutine called blocking code, so the event loop cannot run anything else: every request, "
             "timer and health check of this process waits behind it (timeouts, a /health that hangs). "
             "This is not a deadlock. Fix: await the async form (asyncio.sleep, an async HTTP/DB client) or "
             "move the call off the loop with `await asyncio.to_thread(...)` / `loop.run_in_executor(...)`; "
             "run with PYTHONASYNCIODEBUG=1 to have asyncio log every slow callback."),
            {
                "thread": thread.name,
                "tid": thread.tid,
                "coroutine": f"{coroutine.function} ({coroutine.filename}:{coroutine.line})",
                "blocked_at": f"{culprit.filename}:{culprit.line}",
                "blocked_line": culprit.line_text,
                "state": thread_state(thread),
                "stuck_at_least_s": thread.stuck_for_s,
                "cpu": verdict,
                "stack": [f"{f.function} ({f.filename}:{f.line})" for f in thread.frames[:handle + 1]],
            },
            tid=thread.tid,
        ))
    return findings


_SQLALCHEMY_POOL = ("sqlalchemy", "pool", "impl.py")


def _pool_exhausted(process: ProcessThreads, threshold_s: float) -> list[Finding]:
    """Threads stuck in SQLAlchemy's QueuePool checkout: every pooled connection is out and none comes back.

    Whether the pool is too small or its connections leak is told by the database side (the process's own
    sessions: busy, or idle in transaction) — tui/correlate.py adds that when the Databases pane sees them."""
    pools: dict[str, list[tuple[ThreadRecord, Frame]]] = {}
    timeouts: dict[str, str] = {}
    for thread in process.threads:
        index = next((i for i, f in enumerate(thread.frames)
                      if f.function.endswith("_do_get") and _in(f, _SQLALCHEMY_POOL)), None)
        if index is None or not _stuck_long_enough(thread, threshold_s):
            continue
        frame = thread.frames[index]
        pool = next((v for v in frame.locals if v.name == "self"), None)
        key = f"{pool.repr.split(' at ')[0].lstrip('<')}@{pool.addr:#x}" if pool is not None and pool.addr else "QueuePool"
        queue_get = thread.frames[index - 1] if index else frame  # Queue.get(block, timeout): the pool_timeout
        waits = next((v.repr for v in queue_get.locals if v.name == "timeout"), "")
        timeouts.setdefault(key, waits)
        asked = _program_frame(thread, len(thread.frames)) or frame
        pools.setdefault(key, []).append((thread, asked))
    findings = []
    for pool, waiting in pools.items():
        findings.append(hang_finding(
            "pool-exhausted", "critical", process,
            (f"{len(waiting)} thread(s) of pid {process.pid} wait for a database connection from "
             f"SQLAlchemy's pool ({pool})"),
            ("Every connection of the pool is checked out and none is coming back, so requests queue in "
             "the checkout until pool_timeout and then fail with `TimeoutError: QueuePool limit ... "
             "reached`. Either connections leak (checked out and never closed: look for sessions of this "
             "process that sit idle in transaction) or the pool is too small for the load (its sessions "
             "are all running queries). Fix a leak with `with engine.connect() as conn:` / "
             "`with Session() as s:`; size the pool (pool_size, max_overflow) to the worker threads."),
            {
                "pool": pool,
                "pool_timeout": timeouts.get(pool, ""),
                "waiters": [{"name": t.name, "tid": t.tid, "asked_at": f"{f.filename}:{f.line}", "line": f.line_text,
                             "stuck_at_least_s": t.stuck_for_s, "cpu": cpu_verdict(t)} for t, f in waiting],
            },
            guide="db-connection",
            pool=pool,
        ))
    return findings


_QUEUE_FILE = "queue.py"
_SLEEP_SECONDS = re.compile(r"\bsleep\s*\(\s*(\d+(?:\.\d*)?|\.\d+)\s*\)")


@dataclass
class _Queue:
    """One full queue as its blocked producers name it: the address of the Queue object (py-spy --locals of
    queue.py's put, when the dump had locals) and the expression the program's put() line uses."""

    addr: int
    name: str
    producers: list[tuple[ThreadRecord, Frame]] = field(default_factory=list)  # with the program's put() frame

    @property
    def label(self) -> str:
        where = f"Queue@{self.addr:#x}" if self.addr else ""
        return f"{self.name} ({where})" if self.name and where else self.name or where or "a queue"


def _queue_call(thread: ThreadRecord, method: str) -> int | None:
    """Index of the standard library's queue.py `method` frame (Queue.put, Queue.get) on the stack."""
    return next((i for i, f in enumerate(thread.frames) if f.function.rsplit(".", 1)[-1] == method
                 and PurePath(f.filename).name == _QUEUE_FILE and "/lib/python3." in f.filename), None)


def _queue_named(thread: ThreadRecord, index: int) -> tuple[int, str, Frame | None]:
    """The queue the queue.py frame at `index` works on: its address, and its name in the program's calling line."""
    queue = next((v for v in thread.frames[index].locals if v.name == "self"), None)
    caller = next((f for f in thread.frames[index + 1:] if _is_program(f)), None)
    target = WAIT_TARGET.search(caller.line_text) if caller is not None else None
    return (queue.addr if queue is not None else 0), (target.group(1) if target else ""), caller


def _full_queues(process: ProcessThreads, threshold_s: float) -> dict[str, _Queue]:
    """Threads stuck in put() waiting for room (the `not_full` condition, not the queue's mutex), by queue."""
    queues: dict[str, _Queue] = {}
    for thread in process.threads:
        index = _queue_call(thread, "put")
        if index is None or thread.frames[index].waits is not None or not _stuck_long_enough(thread, threshold_s):
            continue  # not in put(), or in put() taking the queue's mutex: a lock wait, judged by deadlock.py
        addr, name, caller = _queue_named(thread, index)
        where = caller or thread.frames[index]
        key = f"{addr:#x}" if addr else (name or f"{where.filename}:{where.line}")  # unnamed: one put() site
        queues.setdefault(key, _Queue(addr, name)).producers.append((thread, where))
    return queues


def _takes_from(thread: ThreadRecord, queue: _Queue) -> str | None:
    """How `thread` is known to take from `queue` ("address" or "name"), or None: it is blocked in that
    queue's get(), or a function on its stack calls `.get()` on it."""
    index = _queue_call(thread, "get")
    if index is not None:
        addr, name, _ = _queue_named(thread, index)
        if addr and queue.addr:
            return "address" if addr == queue.addr else None
        return "name" if name and name == queue.name else None
    for frame in thread.frames:
        for taken in frame.takes_from:
            local = next((v for v in frame.locals if v.name == taken and v.addr), None)
            if local is not None and queue.addr:
                if local.addr == queue.addr:
                    return "address"
            elif taken == queue.name:
                return "name"
    return None


def _moving(thread: ThreadRecord, threshold_s: float) -> bool:
    """Seen making progress: its stack changed within the threshold, or it sits in a short sleep (a loop pacing
    itself a little per item, sampled at the same line each time; under a quarter of the threshold). A retry
    back-off of seconds is not progress: that consumer is failing."""
    if not thread.stuck or thread.stuck_for_s < threshold_s:
        return True
    program = _program_frame(thread, len(thread.frames))
    sleep = _SLEEP_SECONDS.search(program.line_text) if program is not None else None
    return sleep is not None and float(sleep.group(1)) < threshold_s / 4


def _consumer_doing(thread: ThreadRecord) -> str:
    """What a stuck consumer does instead of taking from the queue, in a few words with its line."""
    blocked = thread.frames[0] if thread.frames else None
    line = f" ({blocked.line_text})" if blocked is not None and blocked.line_text else ""
    state = thread_state(thread)
    if cpu_verdict(thread) == "spinning" or thread.active:
        return f"busy on CPU{line}"
    if state == "waiting on I/O":
        return f"blocked on I/O{line}"
    if state == "sleeping":
        return f"sleeping{line}"
    return state


def _queues_stalled(process: ProcessThreads, threshold_s: float) -> list[Finding]:
    """A bounded queue is full, its producers block in put(), and whoever takes from it is stuck elsewhere or gone.

    tshoot sees stacks, not the queue's length: producers that never leave put() and consumers whose stacks do
    not move, both for the threshold. A consumer seen moving or waiting in get(), or a thread of the producers'
    code seen past its put(), says items are taken: silent."""
    findings = []
    for queue in _full_queues(process, threshold_s).values():
        stuck = {t.tid for t, _ in queue.producers}
        consumers = [(t, how) for t in process.threads if t.tid not in stuck and (how := _takes_from(t, queue))]
        if any(_queue_call(t, "get") is not None or _moving(t, threshold_s) for t, _ in consumers):
            continue  # a consumer takes items or its stack moves: a busy queue, not a stalled one
        putting = {(f.filename, f.function) for _, f in queue.producers}
        if any(t.tid not in stuck and _queue_call(t, "put") is None and _moving(t, threshold_s)
               and any((f.filename, f.function) in putting for f in t.frames) for t in process.threads):
            continue  # another thread of the producers' code got through put() and went on: items are taken
        longest = max(t.stuck_for_s for t, _ in queue.producers)
        evidence = {
            "queue": queue.label,
            "identified_by": _identified_by(queue, [how for _, how in consumers]),
            "producers": [{"name": t.name, "tid": t.tid, "puts_at": f"{f.filename}:{f.line}", "line": f.line_text,
                           "stuck_at_least_s": t.stuck_for_s, "cpu": cpu_verdict(t)}
                          for t, f in sorted(queue.producers, key=lambda p: p[0].name)],
            "consumers": [_consumer_entry(t) for t, _ in consumers],
        }
        producers = f"{len(queue.producers)} thread(s) blocked in put(), {stuck_words(longest)}"
        if consumers:
            first = consumers[0][0]
            title = (f"Queue {queue.label} of pid {process.pid} is full and its consumer \"{first.name}\" is "
                     f"{_consumer_doing(first)}: {producers}")
            severity, detail = "warning", _STALLED_CONSUMER
        else:
            title = f"Queue {queue.label} of pid {process.pid} is full and no live thread takes from it: {producers}"
            severity, detail = "critical", _NO_CONSUMER
        findings.append(hang_finding("queue-stalled", severity, process, title, detail, evidence,
                                     queue=queue.name or queue.label))
    return findings


def _identified_by(queue: _Queue, matches: list[str]) -> str:
    """How the consumers were matched to the producers' queue: the same object, or only the same name."""
    if any(how == "name" for how in matches):
        return f"name: the producers put() to and the consumers get() from {queue.name!r} (by name, not by object)"
    return "address" if queue.addr else "name"


def _consumer_entry(thread: ThreadRecord) -> dict:
    blocked = thread.frames[0] if thread.frames else Frame("", "", 0)
    code = _program_frame(thread, len(thread.frames)) or blocked
    return {"name": thread.name, "tid": thread.tid, "doing": _consumer_doing(thread), "state": thread_state(thread),
            "blocked_at": f"{blocked.filename}:{blocked.line}", "blocked_line": blocked.line_text,
            "code_at": f"{code.filename}:{code.line}", "stuck_at_least_s": thread.stuck_for_s,
            "cpu": cpu_verdict(thread)}


_FIX = ("Fix: give the consumer's blocking call a timeout (socket.settimeout, an HTTP client's timeout) and "
        "retry or drop; in producers use put(timeout=...) or put_nowait() and shed load when the queue is full "
        "(drop, count, log), so request threads never wait on a background consumer; supervise the consumer "
        "(log its exception, restart it). Restart the process to recover.")
_STALLED_CONSUMER = (
    "A bounded queue.Queue is full, so every put() blocks until an item is taken, and the thread that takes "
    "items is stuck elsewhere (a call without a timeout to a peer that never answers, a long sleep, a loop): the "
    "producers, often request handlers, hang behind it. This is not a deadlock. tshoot sees stacks, not the "
    "queue's length: a consumer that is only slow but sits on one line looks the same over a short look, and "
    "its stack moves over a longer one. " + _FIX)
_NO_CONSUMER = (
    "A bounded queue.Queue is full and no live thread's stack takes from it: its consumer died (an exception "
    "ended its thread: look in the log) or was never started, so every put() blocks forever. This is not a "
    "deadlock. (A consumer that takes items in a function not on its stack right now looks the same: check "
    "the other threads.) " + _FIX)
