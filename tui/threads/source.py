"""ThreadsSource: dumps of the watched Python processes, stuck threads, deadlocks and contention.

Watched pids are `config.pids` plus those added at runtime with `watch(pid)` (the Processes pane's
Enter, `--pid`). Each pid fails alone: its error and remedy are stored in its own entry.
"""

from __future__ import annotations

import os
import threading
import time

import psutil

from tui.config import Config
from tui.findings import Finding
from tui.source import Source
from tui.threads import pyspy, pythonprocs
from tui.threads.deadlock import analyze_process, waits_for_lock
from tui.threads.records import ProcessThreads, PythonCandidate, ThreadRecord, ThreadsSection
from tui.threads.sampling import SourceCache, StuckClock, confirm_native, mask_known_secrets, sample

CANDIDATES_EVERY_S = 10.0  # the process list changes slowly; scanning /proc/*/maps each poll is waste
MAX_THREADS_KEPT = 1000  # a process with thousands of threads still renders; the rest is counted


class ThreadsSource(Source):
    name = "threads"
    title = "Threads"
    section_type = ThreadsSection

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self._watched: list[int] = list(dict.fromkeys(config.pids))
        self._only: int | None = None  # re-dump just this pid (the pane's selected one)
        self._live = True  # False holds the last dumps so an operator can read a stack that keeps still
        self._dump_requested = False
        self._last: dict[int, ProcessThreads] = {}
        self._lock = threading.Lock()
        self._stuck_clock = StuckClock()
        self._sources = SourceCache()
        self._candidates: list[PythonCandidate] = []
        self._candidates_at = -CANDIDATES_EVERY_S
        self._runtimes = pythonprocs.RuntimeCache()
        self._binary = pyspy.find_pyspy()

    @property
    def watched(self) -> list[int]:
        with self._lock:
            return list(self._watched)

    def watch(self, pid: int) -> None:
        with self._lock:
            if pid not in self._watched:
                self._watched.append(pid)

    def unwatch(self, pid: int) -> None:
        with self._lock:
            if pid in self._watched:
                self._watched.remove(pid)
            if self._only == pid:
                self._only = None
        self._stuck_clock.forget(pid)
        self._sources.forget(pid)

    def focus(self, pid: int | None) -> None:
        """Re-dump only `pid` on each poll, keeping the other watched pids' last dumps; None dumps all."""
        with self._lock:
            self._only = pid

    def set_live(self, live: bool) -> None:
        """Live: re-dump on every poll. Held: keep the last dumps until `request_dump()`."""
        with self._lock:
            self._live = live

    def request_dump(self) -> None:
        """The next poll dumps even when held."""
        with self._lock:
            self._dump_requested = True

    def collect(self) -> ThreadsSection:
        with self._lock:
            pids, only, live, forced = list(self._watched), self._only, self._live, self._dump_requested
            self._dump_requested = False
        section = ThreadsSection(collected_at=time.time())
        for pid in pids:
            keep = pid in self._last and ((only is not None and pid != only) or not (live or forced))
            if keep and not psutil.pid_exists(pid):
                keep = False  # a held dump of a process that has exited is not kept: this poll says it exited
            entry = self._last[pid] if keep else self.collect_pid(pid)
            self._last[pid] = section.processes[str(pid)] = entry
            if entry.error and not psutil.pid_exists(pid):
                self.unwatch(pid)  # shown once as exited, then dropped: no list of the long dead
        for gone in self._last.keys() - set(self.watched):
            del self._last[gone]
        section.candidates = self._python_candidates()
        return section

    def collect_pid(self, pid: int) -> ProcessThreads:
        """Sample one process; every failure becomes this pid's error with its remedy."""
        entry = ProcessThreads(pid=pid, samples=self.config.thread_samples,
                               sample_interval=self.config.thread_sample_interval)
        try:
            entry.name, entry.cmdline, started = pythonprocs.describe(pid)
        except psutil.NoSuchProcess:
            entry.error, entry.remedy = f"process {pid} does not exist (it exited?)", "pick another process"
            return entry
        except psutil.Error as exc:
            entry.error, entry.remedy = f"cannot read process {pid}: {exc}", "run tshoot with sudo"
            return entry
        runtime = pythonprocs.runtime_of(pid)
        entry.python_version = runtime.version
        if runtime.kind == "jvm":
            entry.python = False
            entry.jstack = pythonprocs.jstack(pid, self.config.collector_timeout)
            entry.error = "not a Python process (a JVM)" + ("" if entry.jstack else "; jstack is not on PATH")
            entry.remedy = "its jstack output is shown below" if entry.jstack else "install a JDK to get jstack"
            return entry
        if runtime.kind != "python":
            if not psutil.pid_exists(pid):
                entry.error, entry.remedy = f"process {pid} exited", "pick another process"
                return entry
            entry.python = False
            entry.error, entry.remedy = "not a Python process", "choose a process from the Python list"
            return entry
        try:
            sampled = sample(pid, self.config.thread_samples, self.config.thread_sample_interval,
                             self._dump_timeout(), self._binary)
        except pyspy.DumpError as exc:
            entry.error, entry.remedy = exc.reason, exc.remedy
            if exc.not_python:  # we saw python in its executable or maps: py-spy cannot read this build
                entry.error = f"py-spy cannot read this Python ({runtime.version or 'version unknown'})"
                entry.remedy = "pip install -U py-spy (newer releases support newer CPython versions)"
            if exc.exited:
                self._stuck_clock.forget(pid)
            return entry
        entry.samples, entry.dump_seconds = sampled.samples, round(sampled.dump_seconds, 3)
        threads = sampled.threads
        if len(threads) > MAX_THREADS_KEPT:
            entry.warnings.append(f"{len(threads)} threads: showing the first {MAX_THREADS_KEPT}")
            threads = threads[:MAX_THREADS_KEPT]
        window = (sampled.samples - 1) * self.config.thread_sample_interval
        self._stuck_clock.update(pid, threads, window, time.monotonic())
        entry.warnings += self._sources.annotate(pid, threads, started)
        mask_known_secrets(threads, sampled.secrets)
        if any(t.stuck or sampled.samples == 1 for t in threads if waits_for_lock(t)):
            native_seconds = confirm_native(pid, threads, self._dump_timeout(), self._binary)
            entry.dump_seconds = round(max(entry.dump_seconds, native_seconds), 3)
        entry.rlock_owners = pythonprocs.read_rlock_owners(pid, runtime.version, _rlock_addresses(threads))
        entry.threads = threads
        return entry

    def analyze(self, section: ThreadsSection) -> list[Finding]:
        findings: list[Finding] = []
        for process in section.processes.values():
            findings += analyze_process(process, self.config.thresholds.stuck_thread_s)
        return findings

    def _dump_timeout(self) -> float:
        return max(2.0, min(self.config.collector_timeout / 2, 10.0))

    def _python_candidates(self) -> list[PythonCandidate]:
        now = time.monotonic()
        if now - self._candidates_at >= CANDIDATES_EVERY_S:
            self._candidates = pythonprocs.python_candidates({os.getpid()}, self._runtimes)
            self._candidates_at = now
        self._candidates = [c for c in self._candidates if psutil.pid_exists(c.pid)]  # exited since the scan
        return self._candidates


def _rlock_addresses(threads: list[ThreadRecord]) -> list[int]:
    """Addresses of RLock objects held in locals: their owner can be read from memory."""
    return sorted({v.addr for t in threads for f in t.frames for v in f.locals
                   if v.addr and v.repr.startswith("<_thread.RLock")})
