"""Hangs that are not lock cycles: a starved executor, a blocked event loop, an exhausted connection pool.

Both look like a healthy idle process from the outside (no CPU, threads parked in waits), and neither is
a deadlock: each has its own finding id, evidence (threads, file:line) and fix. Pure functions over the
collected records, like the deadlock analysis, so a replayed snapshot gives the same findings.
"""

from __future__ import annotations

from pathlib import PurePath

from tui.findings import Finding
from tui.threads.deadlock import cpu_verdict, hang_finding, stuck_words, thread_state
from tui.threads.records import Frame, ProcessThreads, ThreadRecord

_EXECUTOR_FILE = ("concurrent", "futures", "thread.py")
_FUTURES_BASE = ("concurrent", "futures", "_base.py")
_FUTURE_WAITS = {"Future.result", "Future.exception", "wait", "as_completed", "result", "exception"}
_ASYNCIO_DIR = "asyncio"


def analyze_hangs(process: ProcessThreads, stuck_threshold_s: float) -> list[Finding]:
    """`pool-starvation`, `event-loop-blocked` and `pool-exhausted` for one dumped process."""
    if process.error or not process.threads:
        return []
    return [*_pool_starvation(process, stuck_threshold_s), *_blocked_loops(process, stuck_threshold_s),
            *_pool_exhausted(process, stuck_threshold_s)]


def _in(frame: Frame, parts: tuple[str, ...]) -> bool:
    return PurePath(frame.filename).parts[-len(parts):] == parts


def _stuck_long_enough(thread: ThreadRecord, threshold_s: float) -> bool:
    """Off CPU with the same stack in every sample, for at least the threshold."""
    return thread.stuck and not thread.active and thread.stuck_for_s >= threshold_s


def _program_frame(thread: ThreadRecord, below: int) -> Frame | None:
    """The innermost frame of the program's own code among the first `below` frames (not the standard
    library, not an installed package): the line the operator has to change."""
    for frame in thread.frames[:below]:
        path = frame.filename
        if "/lib/python3." not in path and "site-packages" not in path and "dist-packages" not in path:
            return frame
    return None


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
