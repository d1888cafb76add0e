"""Several dumps a short interval apart: which threads are stuck, and for how long; source lines per frame.

A thread is stuck when its Python stack is identical in every sample of a poll; how long is counted
from the first poll that saw that same stack, so it keeps growing across refreshes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from tui.procfs import CLK_TCK, thread_cpu_ticks
from tui.redact import MASK, redact_code
from tui.safefile import SOURCE_FILE_LIMIT, FileRefused, read_bytes_as, reader_of
from tui.threads import pyspy
from tui.threads.finder import HangFinder, dump_kind
from tui.threads.locksites import EnteredCall, SourceIndex
from tui.threads.pythonprocs import source_path
from tui.threads.records import Frame, LockRef, ThreadRecord

Signature = tuple[tuple[str, str, int], ...]
# A process's start time is derived from boot time in whole seconds: a file written just before the start
# can look newer. Only a clearly later write means the lines on screen may not be the code that runs.
MTIME_TOLERANCE_S = 2.0
SWEEP_PARALLEL = 4  # py-spy runs at once in a sweep: short processes, mostly waiting on the target
MAX_PARSED_FILES = 64  # source files kept (lines and answers; trees are dropped after each poll), LRU
TREES_KEPT = 12  # syntax trees kept during a poll (~1 MB per thousand lines): the files most processes share


def signature(thread: ThreadRecord) -> Signature:
    return tuple((f.filename, f.function, f.line) for f in thread.frames)


@dataclass
class Sampled:
    threads: list[ThreadRecord]
    samples: int
    dump_seconds: float  # slowest single dump
    secrets: set[str] = field(default_factory=set)  # secret values seen in the locals, to mask where they repeat
    # monotonic times the first and the last dump started: the stacks compared are this far apart (a second
    # look, compared with an earlier look's stacks, has no first_at)
    first_at: float | None = None
    taken_at: float = 0.0
    ticks: dict[int, int] = field(default_factory=dict)  # each thread's CPU ticks when the first dump began


def sample(pid: int, samples: int, interval: float, timeout: float, binary: str | None) -> Sampled:
    """`samples` dumps, the last one with locals (object addresses qualify lock identities)."""
    samples = max(1, samples)
    signatures: list[dict[int, Signature]] = []
    slowest = 0.0
    ticks_before = thread_cpu_ticks(pid)
    began = []
    for index in range(samples):
        if index:
            time.sleep(interval)
        began.append(time.monotonic())
        result = pyspy.dump(pid, locals_=index == samples - 1, native=False, timeout=timeout, binary=binary)
        slowest = max(slowest, result.seconds)
        signatures.append({t.tid: signature(t) for t in result.threads})
    threads = result.threads
    if samples > 1:
        set_cpu_seconds(threads, ticks_before, thread_cpu_ticks(pid))
        for thread in threads:
            mine = signature(thread)
            thread.stuck = all(sample_sigs.get(thread.tid) == mine for sample_sigs in signatures)
    return Sampled(threads=threads, samples=samples, dump_seconds=slowest, secrets=result.secrets,
                   first_at=began[0], taken_at=began[-1])


def set_cpu_seconds(threads: list[ThreadRecord], before: dict[int, int], after: dict[int, int]) -> None:
    """Each thread's CPU time between two /proc readings around the dumps (None when it was not there for
    both): with an unchanged stack, none used means blocked, some means spinning."""
    for thread in threads:
        if thread.tid in before and thread.tid in after:
            thread.cpu_seconds = round(max(0, after[thread.tid] - before[thread.tid]) / CLK_TCK, 3)


def _hold_what_contextmanagers_hold(entered: list[tuple[Frame, list[EnteredCall]]],
                                    files: dict[str, SourceIndex]) -> None:
    """A frame inside `with pool.checkout():` holds the locks `checkout` (a @contextmanager) holds at its
    yield, named from the caller: `self.lock` in the generator is `pool.lock` here. The generator is looked
    up by name in the files this process's stacks run through; a name defined twice is left alone."""
    found: dict[str, list[tuple[str, str, list[LockRef]]]] = {}
    for filename, index in files.items():
        for name, (first_param, held) in index.contextmanagers().items():
            found.setdefault(name, []).append((filename, first_param, held))
    for frame, calls in entered:
        for call in calls:
            if len(found.get(call.name, [])) != 1:
                continue
            filename, first_param, held = found[call.name][0]
            for ref in held:
                root, _, rest = ref.expr.partition(".")
                if call.receiver and first_param and root == first_param:
                    frame.held.append(LockRef(f"{call.receiver}.{rest}" if rest else call.receiver, call.line,
                                              via=call.name))
                elif ref.module_level:
                    frame.held.append(LockRef(ref.expr, call.line, module_level=True, file=filename, via=call.name))


def budgeted_dump(pid: int, *, locals_: bool, native: bool, timeout: float, binary: str | None,
                  pauses: HangFinder | None) -> pyspy.Dump | None:
    """One dump that stops `pid`, only if its expected pause fits in what is left of the process's pause budget
    (`pauses`, the finder's ledger; None: no budget, the operator named the process), and stopped when it
    outruns what is left. None when it was not taken or was stopped (the process is left as it was seen last,
    for a later poll); what it cost is charged to the ledger either way."""
    kind = dump_kind(native)
    capped = False
    if pauses is not None:
        allowed = pauses.allowance(pid, kind, time.monotonic())
        if allowed is None:
            return None
        capped, timeout = allowed < timeout, min(timeout, allowed)
    try:
        result = pyspy.dump(pid, locals_=locals_, native=native, timeout=timeout, binary=binary)
    except pyspy.DumpError as exc:
        stopped = capped and exc.seconds >= timeout
        if pauses is not None:
            pauses.charge(pid, kind, time.monotonic(), exc.seconds, stopped)
        if stopped:
            return None
        raise
    if pauses is not None:
        pauses.charge(pid, kind, time.monotonic(), result.seconds)
    return result


def sample_many(pids: list[int], gap: float, timeout: float, binary: str | None,
                before: dict[int, dict[int, Signature]] | None = None, budget_s: float = float("inf"),
                locals_for: set[int] | None = None, not_before: dict[int, float] | None = None,
                pauses: HangFinder | None = None,
                ticks_before: dict[int, dict[int, int]] | None = None) -> Iterator[tuple[int, Sampled | pyspy.DumpError]]:
    """Two dumps of each process `gap` seconds apart, all processes in one sweep (SWEEP_PARALLEL py-spy runs at
    a time; a process's second dump waits only for its own gap), each process yielded as soon as its dumps
    are done, so the caller reads its sources while the others are dumped. The second dump has locals (only
    for `locals_for`, when given). Plain dumps do not stop the target (`--nonblocking`): they only tell which
    processes deserve a look with locals, which stops it and goes through `pauses`, the pause budget. A
    process in `before` (its stacks from an earlier look) gets only the second dump, compared with those, not
    before its `not_before` (monotonic time); its threads' CPU time is counted from `ticks_before` (the
    earlier look's `Sampled.ticks`). `Sampled.dump_seconds` is the sum of both dumps' py-spy wall times; only
    the one with locals paused the target (the plain one is nonblocking), so it is an upper bound.

    No first dump starts after `budget_s` (a loaded host makes every dump slow), and none that does not fit
    in its pause budget: the processes left out are not yielded, for a later sweep."""
    before, not_before = before or {}, dict(not_before or {})
    deadline = time.monotonic() + budget_s
    # per-thread CPU ticks just before each process's first dump (an earlier look's, for a second look)
    ticks: dict[int, dict[int, int]] = dict(ticks_before or {})
    began: dict[int, list[float]] = {}  # when each process's dumps started
    first: dict[int, pyspy.Dump] = {}

    def dump(pid: int, with_locals: bool) -> pyspy.Dump | pyspy.DumpError | None:
        fresh = pid not in before and pid not in began
        if fresh and time.monotonic() > deadline:
            return None
        time.sleep(max(0.0, not_before.get(pid, 0.0) - time.monotonic()))
        if fresh:
            ticks[pid] = thread_cpu_ticks(pid)
        began.setdefault(pid, []).append(time.monotonic())
        try:
            if not with_locals:
                return pyspy.dump(pid, locals_=False, native=False, timeout=timeout, binary=binary, nonblocking=True)
            return budgeted_dump(pid, locals_=True, native=False, timeout=timeout, binary=binary, pauses=pauses)
        except pyspy.DumpError as exc:
            return exc

    def second(pid: int) -> tuple[int, pyspy.Dump | pyspy.DumpError | None]:
        # locals (object addresses for lock identity) cost the target a longer pause: only where asked
        return pid, dump(pid, locals_for is None or pid in locals_for)

    with ThreadPoolExecutor(max_workers=SWEEP_PARALLEL, thread_name_prefix="tshoot-sweep") as pool:
        firsts = {pool.submit(dump, pid, False): pid for pid in pids if pid not in before}
        pending = set(firsts) | {pool.submit(second, pid) for pid in sorted(before, key=lambda p: not_before.get(p, 0))
                                 if pid in pids}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                if future in firsts:
                    pid, taken = firsts[future], future.result()
                    if isinstance(taken, pyspy.Dump):
                        first[pid], not_before[pid] = taken, began[pid][0] + gap
                        pending.add(pool.submit(second, pid))
                    elif taken is not None:
                        yield pid, taken
                    continue
                pid, after = future.result()
                if after is None or isinstance(after, pyspy.DumpError):
                    if after is not None:
                        yield pid, after
                    continue  # left out: this process's pause budget
                earlier = before[pid] if pid in before else {t.tid: signature(t) for t in first[pid].threads}
                if pid in ticks:
                    set_cpu_seconds(after.threads, ticks[pid], thread_cpu_ticks(pid))
                for thread in after.threads:
                    thread.stuck = earlier.get(thread.tid) == signature(thread)
                paused = after.seconds + (first[pid].seconds if pid in first else 0.0)
                yield pid, Sampled(threads=after.threads, samples=2, dump_seconds=paused, secrets=after.secrets,
                                   first_at=began[pid][0] if pid in first else None, taken_at=began[pid][-1],
                                   ticks=ticks.get(pid, {}))


def confirm_native(pid: int, threads: list[ThreadRecord], timeout: float, binary: str | None,
                   pauses: HangFinder | None = None) -> float | None:
    """One `--native` dump to confirm that suspected lock waiters sit in a native lock acquire.

    Native unwinding pauses the target several times longer than a plain dump, so it is taken only
    when the source shows a stuck thread at a lock statement. A thread whose stack moved meanwhile is
    left unconfirmed. Returns the dump's duration (0 when it failed), None when the pause budget refused it.
    """
    try:
        result = budgeted_dump(pid, locals_=False, native=True, timeout=timeout, binary=binary, pauses=pauses)
    except pyspy.DumpError:
        return 0.0  # some builds cannot be unwound natively: the waits stay "probable"
    if result is None:
        return None
    native = {t.tid: t for t in result.threads}
    for thread in threads:
        again = native.get(thread.tid)
        if again is not None and signature(again) == signature(thread):
            thread.native_lock_wait, thread.native_reentrant = again.native_lock_wait, again.native_reentrant
    return result.seconds


def mask_known_secrets(threads: list[ThreadRecord], secrets: set[str]) -> None:
    """Mask every repeat of a secret already masked in some local: in the other locals and the source lines.

    Longest first, so a secret that contains a shorter one is masked whole.
    """
    ordered = sorted(secrets, key=len, reverse=True)

    def masked(text: str) -> str:
        for secret in ordered:
            text = text.replace(secret, MASK)
        return text

    if not ordered:
        return
    for thread in threads:
        for frame in thread.frames:
            frame.line_text = masked(frame.line_text)
            for var in frame.locals:
                var.repr = masked(var.repr)


class StuckClock:
    """Remembers since when each (pid, tid) has shown its current stack, across polls, and what a native dump
    said of that stack (a lock wait confirmed once stays confirmed while the stack does not move: the native
    dump, the costliest pause, is not repeated every poll)."""

    def __init__(self) -> None:
        self._since: dict[tuple[int, int], tuple[Signature, float]] = {}
        # (pid, tid) -> (stack, when its native dump began, native_lock_wait, native_reentrant)
        self._native: dict[tuple[int, int], tuple[Signature, float, bool | None, bool | None]] = {}

    def update(self, pid: int, threads: list[ThreadRecord], window_s: float, now: float) -> None:
        seen = set()
        for thread in threads:
            key = (pid, thread.tid)
            seen.add(key)
            mine = signature(thread)
            previous = self._since.get(key)
            if not thread.stuck:
                self._since.pop(key, None)
                self._native.pop(key, None)
                continue
            if previous is None or previous[0] != mine:
                previous = (mine, now - window_s)  # it was already unchanged for the sampling window
                self._since[key] = previous
            thread.stuck_for_s = round(now - previous[1], 1)
        for key in [k for k in self._since if k[0] == pid and k not in seen]:
            del self._since[key]
        for key in [k for k in list(self._native) if k[0] == pid and k not in seen]:
            self._native.pop(key, None)

    def remember_native(self, pid: int, threads: list[ThreadRecord], at: float) -> None:
        """What a native dump begun at `at` said of each stuck thread's wait."""
        for thread in threads:
            if thread.stuck and thread.native_lock_wait is not None:
                self._native[(pid, thread.tid)] = (signature(thread), at, thread.native_lock_wait,
                                                   thread.native_reentrant)

    def carry_native(self, pid: int, threads: list[ThreadRecord]) -> None:
        """Give a stuck thread the answer of a native dump taken while its stack was already this one."""
        for thread in threads:
            known, since = self._native.get((pid, thread.tid)), self._since.get((pid, thread.tid))
            if (thread.native_lock_wait is None and known and since and thread.stuck
                    and known[0] == since[0] == signature(thread) and since[1] <= known[1]):
                thread.native_lock_wait, thread.native_reentrant = known[2], known[3]

    # forget() runs on the UI thread (the Threads pane's `x`) while a poll updates the clock: iterate over a
    # copy (list() of a dict is atomic) and pop, never iterate the live dict
    def forget(self, pid: int) -> None:
        for key in [k for k in list(self._since) if k[0] == pid]:
            self._since.pop(key, None)
        for key in [k for k in list(self._native) if k[0] == pid]:
            self._native.pop(key, None)

    def pids(self) -> set[int]:
        return {pid for pid, _ in list(self._since)}


@dataclass
class SourceCache:
    """Parsed source files, shared by every process that runs the same file (the standard library above
    all: one parse of threading.py serves a host of Python processes), re-read when the file changes."""

    _files: dict[tuple[int, str], tuple[float, SourceIndex | None]] = field(default_factory=dict)
    _parsed: dict[tuple[int, int, int, int], SourceIndex | None] = field(default_factory=dict)  # by file identity
    # the files whose syntax trees this poll may still need, least recently used first: a sweep of fifty
    # processes running threading.py asks about its lines fifty times, and parsing it again each time was
    # most of a sweep's time
    _recent: dict[int, SourceIndex] = field(default_factory=dict)

    def annotate(self, pid: int, threads: list[ThreadRecord], process_started: float) -> list[str]:
        """Fill each frame's line text and lock context; return warnings about files newer than the process."""
        warnings = []
        entered: list[tuple[Frame, list[EnteredCall]]] = []
        files: dict[str, SourceIndex] = {}
        for thread in threads:
            for frame in thread.frames:
                index, mtime = self._index(pid, frame.filename)
                if index is None:
                    continue
                files[frame.filename] = index
                if mtime > process_started + MTIME_TOLERANCE_S:
                    warning = f"{frame.filename} changed after the process started: lines may not match"
                    if warning not in warnings:
                        warnings.append(warning)
                frame.line_text = redact_code(index.line_text(frame.line))  # source may hold `PASSWORD = "..."`
                context = index.context(frame.line)
                frame.waits, frame.held, frame.takes_from = context.waits, context.held, context.takes_from
                if context.entered:
                    entered.append((frame, context.entered))
        if entered:
            _hold_what_contextmanagers_hold(entered, files)
        for index in files.values():
            self._recent[id(index)] = self._recent.pop(id(index), index)
        while len(self._recent) > TREES_KEPT:
            self._recent.pop(next(iter(self._recent))).release()
        return warnings

    def release_trees(self) -> None:
        """End of a poll: drop every syntax tree (the answers are kept; the trees were most of tshoot's memory)."""
        while self._recent:
            self._recent.popitem()[1].release()

    def _index(self, pid: int, filename: str) -> tuple[SourceIndex | None, float]:
        path = source_path(pid, filename)
        try:
            info = os.stat(path)
        except OSError:
            return None, 0.0
        cached = self._files.get((pid, filename))
        if cached is None or cached[0] != info.st_mtime:
            root = f"/proc/{pid}/root"
            reader = reader_of(pid)
            try:  # a frame's file name is whatever the process's code says: read only what its user could read
                if reader is None:
                    raise FileRefused(path, "the process has exited")
                data = read_bytes_as(reader, root, str(path)[len(root):], SOURCE_FILE_LIMIT)
            except FileRefused:
                data = None
            identity = (info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size)
            if data is not None and identity not in self._parsed:  # one parse serves every process reading it
                if len(self._parsed) >= MAX_PARSED_FILES:
                    self._parsed.pop(next(iter(self._parsed)))  # the least recently used parse goes first
                self._parsed[identity] = SourceIndex(data.decode("utf-8", errors="replace"))
            elif data is not None:
                self._parsed[identity] = self._parsed.pop(identity)  # used again: to the end of the line
            cached = (info.st_mtime, self._parsed.get(identity) if data is not None else None)
            self._files[(pid, filename)] = cached
        return cached[1], cached[0]

    def keys(self) -> list[tuple[int, str]]:
        return list(self._files)

    def forget(self, pid: int) -> None:  # on the UI thread while a poll fills the cache: see StuckClock.forget
        for key in [k for k in list(self._files) if k[0] == pid]:
            self._files.pop(key, None)
