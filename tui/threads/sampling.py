"""Several dumps a short interval apart: which threads are stuck, and for how long; source lines per frame.

A thread is stuck when its Python stack is identical in every sample of a poll; how long is counted
from the first poll that saw that same stack, so it keeps growing across refreshes.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from tui.redact import MASK, redact_text
from tui.safefile import SOURCE_FILE_LIMIT, FileRefused, read_bytes_as, reader_of
from tui.threads import pyspy
from tui.threads.locksites import SourceIndex
from tui.threads.pythonprocs import source_path
from tui.threads.records import ThreadRecord

Signature = tuple[tuple[str, str, int], ...]
# A process's start time is derived from boot time in whole seconds: a file written just before the start
# can look newer. Only a clearly later write means the lines on screen may not be the code that runs.
MTIME_TOLERANCE_S = 2.0


def signature(thread: ThreadRecord) -> Signature:
    return tuple((f.filename, f.function, f.line) for f in thread.frames)


@dataclass
class Sampled:
    threads: list[ThreadRecord]
    samples: int
    dump_seconds: float  # slowest single dump
    secrets: set[str] = field(default_factory=set)  # secret values seen in the locals, to mask where they repeat


def sample(pid: int, samples: int, interval: float, timeout: float, binary: str | None) -> Sampled:
    """`samples` dumps, the last one with locals (object addresses qualify lock identities)."""
    samples = max(1, samples)
    signatures: list[dict[int, Signature]] = []
    slowest = 0.0
    for index in range(samples):
        if index:
            time.sleep(interval)
        result = pyspy.dump(pid, locals_=index == samples - 1, native=False, timeout=timeout, binary=binary)
        slowest = max(slowest, result.seconds)
        signatures.append({t.tid: signature(t) for t in result.threads})
    threads = result.threads
    if samples > 1:
        for thread in threads:
            mine = signature(thread)
            thread.stuck = all(sample_sigs.get(thread.tid) == mine for sample_sigs in signatures)
    return Sampled(threads=threads, samples=samples, dump_seconds=slowest, secrets=result.secrets)


def confirm_native(pid: int, threads: list[ThreadRecord], timeout: float, binary: str | None) -> float:
    """One `--native` dump to confirm that suspected lock waiters sit in a native lock acquire.

    Native unwinding pauses the target several times longer than a plain dump, so it is taken only
    when the source shows a stuck thread at a lock statement. A thread whose stack moved meanwhile is
    left unconfirmed. Returns the dump's duration (0 when it could not be taken).
    """
    try:
        result = pyspy.dump(pid, locals_=False, native=True, timeout=timeout, binary=binary)
    except pyspy.DumpError:
        return 0.0  # some builds cannot be unwound natively: the waits stay "probable"
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
    """Remembers since when each (pid, tid) has shown its current stack, across polls."""

    def __init__(self) -> None:
        self._since: dict[tuple[int, int], tuple[Signature, float]] = {}

    def update(self, pid: int, threads: list[ThreadRecord], window_s: float, now: float) -> None:
        seen = set()
        for thread in threads:
            key = (pid, thread.tid)
            seen.add(key)
            mine = signature(thread)
            previous = self._since.get(key)
            if not thread.stuck:
                self._since.pop(key, None)
                continue
            if previous is None or previous[0] != mine:
                previous = (mine, now - window_s)  # it was already unchanged for the sampling window
                self._since[key] = previous
            thread.stuck_for_s = round(now - previous[1], 1)
        for key in [k for k in self._since if k[0] == pid and k not in seen]:
            del self._since[key]

    def forget(self, pid: int) -> None:
        for key in [k for k in self._since if k[0] == pid]:
            del self._since[key]


@dataclass
class SourceCache:
    """Parsed source files per (pid, filename), re-read when the file changes."""

    _files: dict[tuple[int, str], tuple[float, SourceIndex | None]] = field(default_factory=dict)

    def annotate(self, pid: int, threads: list[ThreadRecord], process_started: float) -> list[str]:
        """Fill each frame's line text and lock context; return warnings about files newer than the process."""
        warnings = []
        for thread in threads:
            for frame in thread.frames:
                index, mtime = self._index(pid, frame.filename)
                if index is None:
                    continue
                if mtime > process_started + MTIME_TOLERANCE_S:
                    warning = f"{frame.filename} changed after the process started: lines may not match"
                    if warning not in warnings:
                        warnings.append(warning)
                frame.line_text = redact_text(index.line_text(frame.line))  # source may hold `PASSWORD = "..."`
                context = index.context(frame.line)
                frame.waits, frame.held = context.waits, context.held
        return warnings

    def _index(self, pid: int, filename: str) -> tuple[SourceIndex | None, float]:
        path = source_path(pid, filename)
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            return None, 0.0
        cached = self._files.get((pid, filename))
        if cached is None or cached[0] != mtime:
            root = f"/proc/{pid}/root"
            reader = reader_of(pid)
            try:  # a frame's file name is whatever the process's code says: read only what its user could read
                if reader is None:
                    raise FileRefused(path, "the process has exited")
                data = read_bytes_as(reader, root, str(path)[len(root):], SOURCE_FILE_LIMIT)
                cached = (mtime, SourceIndex(data.decode("utf-8", errors="replace")))
            except FileRefused:
                cached = (mtime, None)
            self._files[(pid, filename)] = cached
        return cached[1], mtime

    def forget(self, pid: int) -> None:
        for key in [k for k in self._files if k[0] == pid]:
            del self._files[key]
