"""ThreadsSource: dumps of the watched Python processes, stuck threads, deadlocks and contention.

Watched pids are `config.pids` plus those added at runtime with `watch(pid)` (the Processes pane's
Enter, `--pid`). Every other Python process is swept by the HangFinder (`config.find_stuck`): the ones
where something looks stuck join the section as `found_by="scan"`. Each pid fails alone: its error and
remedy are stored in its own entry.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psutil

from tui import registry
from tui.config import Config
from tui.findings import Finding
from tui.source import Source, SourceUnavailable
from tui.threads import hotspots, objects, pyspy, pythonprocs
from tui.threads.deadlock import analyze_process, waits_for_lock
from tui.threads.finder import MAX_PAUSE_MS_PER_MIN, HangFinder
from tui.threads.hangs import analyze_hangs
from tui.threads.records import (Profile, ProcessThreads, PythonCandidate, ThreadRecord, ThreadsSection,
                                 locals_for_file)
from tui.threads.sampling import (
    SWEEP_PARALLEL,
    Sampled,
    Signature,
    SourceCache,
    StuckClock,
    confirm_native,
    mask_known_secrets,
    sample,
    sample_many,
    signature,
)

CANDIDATES_EVERY_S = 10.0  # the process list changes slowly; scanning /proc/*/maps each poll is waste
MAX_THREADS_KEPT = 1000  # a process with thousands of threads still renders; the rest is counted
SWEEP_SHARE_OF_TIMEOUT = 0.5  # first dumps of a sweep start within this share of collector_timeout; the rest wait
MAX_SECOND_LOOK_WAIT_S = 5.0  # a poll waits at most this long to look at new suspects again


class ThreadsSource(Source):
    name = registry.THREADS
    section_type = ThreadsSection

    @classmethod
    def strip_for_file(cls, section_json: dict, keep_locals: bool) -> None:
        locals_for_file(section_json, keep_locals)

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
        self._finder = HangFinder()
        self._suspects: dict[int, ProcessThreads] = {}  # the finder's last look at each suspect
        self._seen_suspect: set[int] = set()  # suspects as of the last poll: they need no second look now
        self._cpu = hotspots.CpuWatch()
        self._profiles: dict[int, Profile] = {}
        self._profiled_at: dict[int, float] = {}
        self._sweep_failed: dict[int, tuple[str, str]] = {}  # pid -> (reason, remedy) of its last failed look

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
        section = ThreadsSection(taken_at=time.time())
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
        self._forget_all_but({c.pid for c in section.candidates} | set(self.watched))
        if self.config.find_stuck:
            self._sweep(section, exclude=set(pids))
            self._unless_nothing_could_be_looked_at(section, pids)
        self._sources.release_trees()
        # profile every busy Python process, or only the named ones when the sweep is off
        section.profiles = self._profile_busy([c for c in section.candidates
                                               if self.config.find_stuck or c.pid in pids])
        return section

    def looked_at(self, pid: int) -> bool:
        """The sweep has dumped this process at least once."""
        return self._finder.scanned_at(pid) is not None

    def _unless_nothing_could_be_looked_at(self, section: ThreadsSection, watched: list[int]) -> None:
        """No pid named and the sweep could dump none of the Python processes (py-spy missing, no ptrace
        right): an empty section would read as "no hang anywhere" (doctor said OK); say why nothing was seen."""
        if watched or section.processes or not section.candidates:
            return
        if all(c.pid in self._sweep_failed for c in section.candidates):
            reason, remedy = next(iter(self._sweep_failed[c.pid] for c in section.candidates))
            raise SourceUnavailable(f"no Python process could be dumped to look for hangs "
                                    f"({len(section.candidates)} found): {reason}", remedy)

    def _forget_all_but(self, alive: set[int]) -> None:
        """Drop what the sweeps and profiles remember of processes that are gone (a host recycles workers:
        these would grow without end, and a later process reusing the pid would inherit them)."""
        known = {pid for pid, _ in self._sources.keys()} | self._stuck_clock.pids() | set(self._profiled_at)
        for pid in known - alive:
            self._stuck_clock.forget(pid)
            self._sources.forget(pid)
            self._profiled_at.pop(pid, None)
        for pid in self._sweep_failed.keys() - alive:
            del self._sweep_failed[pid]

    def _profile_busy(self, candidates: list[PythonCandidate]) -> dict[str, Profile]:
        """Profiles of the Python processes using at least cpu_hog_percent of a core (each redone at most
        every PROFILE_EVERY_S; dropped when it calms down)."""
        names = {c.pid: c.name for c in candidates if c.pid != os.getpid()}
        usage = self._cpu.percent(list(names))
        busy = {pid: pct for pid, pct in usage.items() if pct >= self.config.thresholds.cpu_hog_percent}
        now = time.monotonic()
        due = [pid for pid in busy if now - self._profiled_at.get(pid, float("-inf")) >= hotspots.PROFILE_EVERY_S]
        if due:
            with ThreadPoolExecutor(max_workers=min(4, len(due)), thread_name_prefix="tshoot-profile") as pool:
                outcomes = dict(zip(due, pool.map(self._record, due)))
            for pid, profile in outcomes.items():
                self._profiled_at[pid] = now
                if profile is not None:
                    profile.name, profile.cpu_percent = names[pid], round(busy[pid], 1)
                    self._profiles[pid] = profile
        self._profiles = {pid: p for pid, p in self._profiles.items() if pid in busy}
        return {str(pid): profile for pid, profile in self._profiles.items()}

    def _record(self, pid: int) -> Profile | None:
        try:
            return hotspots.record(pid, self._binary)
        except pyspy.DumpError:
            return None  # exited, or not readable: the Processes pane still shows its CPU

    def _sweep(self, section: ThreadsSection, exclude: set[int]) -> None:
        """Look at the Python processes nobody named; keep the suspects in the section.

        A process that turns suspect on its first look is looked at again `stuck_thread_s` after it, in
        the same poll: evidence of no progress for that long is what a finding needs, and a 3-second
        `doctor` run has no later poll to wait for. The wait runs from each one's first dump, while the
        sweep reads the sources of the others: the evidence is the time between the dumps."""
        due = self._finder.due(section.candidates, exclude | {os.getpid()}, time.monotonic())
        first_looks = self._look(due, section.candidates)
        new_suspects = [pid for pid in first_looks if pid not in self._seen_suspect]
        stuck_s = self.config.thresholds.stuck_thread_s
        if new_suspects and stuck_s - self.config.thread_sample_interval <= MAX_SECOND_LOOK_WAIT_S:
            # no progress for that long: the same stacks, and CPU time counted from the first look's
            self._look(new_suspects, section.candidates,
                       {pid: {t.tid: signature(t) for t in self._suspects[pid].threads} for pid in new_suspects},
                       {pid: first_looks[pid] for pid in new_suspects})
        now = time.monotonic()
        for pid in list(self._suspects):
            if pid in exclude or not self._finder.suspect(pid):
                del self._suspects[pid]
                continue
            self._suspects[pid].paused_ms_last_minute = self._finder.paused_ms_last_minute(pid, now)
            section.processes.setdefault(str(pid), self._suspects[pid])
        self._seen_suspect = set(self._suspects)
        others = [c for c in section.candidates if c.pid not in exclude and c.pid != os.getpid()]
        section.swept = sum(1 for c in others if self._finder.scanned_at(c.pid) is not None)
        section.unswept = len(others) - section.swept
        section.over_budget = self._finder.take_skipped()

    def _look(self, pids: list[int], candidates: list[PythonCandidate],
              before: dict[int, dict[int, Signature]] | None = None,
              earlier: dict[int, Sampled] | None = None) -> dict[int, Sampled]:
        """Dump `pids` in one sweep (once each for those whose stacks are in `before`, `stuck_thread_s` after
        their `earlier` look began), remember each as suspect or not; returns the suspects' looks."""
        if not pids:
            return {}
        by_pid = {c.pid: c for c in candidates}
        suspects = {}
        budget = self.config.collector_timeout * SWEEP_SHARE_OF_TIMEOUT
        # a first look at a process only decides suspicion: plain dumps that do not stop it; suspects get locals
        # (lock identities) and, where a lock wait is not confirmed yet, a native dump
        suspects_already = {pid for pid in pids if self._finder.suspect(pid)} | set(before or {})
        looked, entries = {}, {}
        earlier = earlier or {}
        not_before = {pid: (look.first_at or look.taken_at) + self.config.thresholds.stuck_thread_s
                      for pid, look in earlier.items()}
        for pid, sampled in sample_many(pids, self.config.thread_sample_interval, self._dump_timeout(), self._binary,
                                        before, budget, locals_for=suspects_already, not_before=not_before,
                                        pauses=self._finder, ticks_before={p: e.ticks for p, e in earlier.items()}):
            # each process is read while the others are dumped
            looked[pid], entries[pid] = sampled, self.collect_pid(pid, sampled, by_pid[pid], confirm=False)
        to_confirm = [entry for pid, entry in entries.items()
                      if pid in suspects_already and entry.error is None and _unconfirmed_lock_waits(entry.threads)]
        if to_confirm:  # native dumps are the slowest: several at once, like the sweep's
            with ThreadPoolExecutor(max_workers=SWEEP_PARALLEL, thread_name_prefix="tshoot-native") as pool:
                list(pool.map(lambda entry: self._confirm_lock_waits(entry, self._finder), to_confirm))
        for pid, entry in entries.items():
            entry.found_by = "scan"
            if entry.error is None:
                self._sweep_failed.pop(pid, None)
            else:
                self._sweep_failed[pid] = (entry.error, entry.remedy or "")
            # anything stuck at all, however briefly: look again so the stuck time can grow into a finding
            suspect = entry.error is None and bool(analyze_process(entry, 0.0) or analyze_hangs(entry, 0.0))
            self._finder.record(pid, time.monotonic(), suspect, by_pid[pid].cpu_seconds)
            if suspect:
                self._suspects[pid] = entry
                suspects[pid] = looked[pid]  # a suspect's look is no error
            else:
                self._suspects.pop(pid, None)
        return suspects

    def collect_pid(self, pid: int, sampled: Sampled | pyspy.DumpError | None = None,
                    candidate: PythonCandidate | None = None, confirm: bool = True) -> ProcessThreads:
        """Sample one process (or finish what a sweep sampled; its `candidate` already says what the process
        is and runs); every failure becomes this pid's error."""
        entry = ProcessThreads(pid=pid, samples=self.config.thread_samples,
                               sample_interval=self.config.thread_sample_interval)
        if candidate is not None:
            entry.name, entry.cmdline, started = candidate.name, candidate.cmdline, candidate.started
            runtime = pythonprocs.Runtime("python", candidate.python_version)
        else:
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
        if runtime.kind == "unknown":  # another user's process: a permission problem, not a verdict
            reason, remedy = pyspy.diagnose_permission(pid)
            entry.error = f"permission denied: tshoot may not read pid {pid}'s executable and memory maps, so it " \
                          f"cannot tell whether it runs Python ({reason})"
            entry.remedy = f"{remedy}; py-spy needs the same right to attach (root, with CAP_SYS_PTRACE)"
            return entry
        if runtime.kind != "python":
            if not psutil.pid_exists(pid):
                entry.error, entry.remedy = f"process {pid} exited", "pick another process"
                return entry
            entry.python = False
            entry.error, entry.remedy = "not a Python process", "choose a process from the Python list"
            return entry
        try:
            if sampled is None:
                sampled = sample(pid, self.config.thread_samples, self.config.thread_sample_interval,
                                 self._dump_timeout(), self._binary)
            elif isinstance(sampled, pyspy.DumpError):
                raise sampled
        except pyspy.DumpError as exc:
            entry.error, entry.remedy = exc.reason, exc.remedy
            if exc.not_python:  # we saw python in its executable or maps: py-spy cannot read this build
                entry.error = f"py-spy cannot read this Python ({runtime.version or 'version unknown'})"
                entry.remedy = "pip install -U py-spy (newer releases support newer CPython versions)"
            if exc.exited:
                self._stuck_clock.forget(pid)
            return entry
        entry.samples, entry.dump_seconds = sampled.samples, round(sampled.dump_seconds, 3)
        entry.paused_seconds = sampled.dump_seconds
        threads = sampled.threads
        if len(threads) > MAX_THREADS_KEPT:
            entry.warnings.append(f"{len(threads)} threads: showing the first {MAX_THREADS_KEPT}")
            threads = threads[:MAX_THREADS_KEPT]
        # the stacks compared were this far apart (a second look's stuck time runs from its first look)
        window = sampled.taken_at - sampled.first_at if sampled.first_at is not None else 0.0
        self._stuck_clock.update(pid, threads, window, sampled.taken_at)
        entry.warnings += self._sources.annotate(pid, threads, started)
        if any(waits_for_lock(t) for t in threads):  # lock identities matter only where a thread waits for one
            objects.resolve_lock_chains(pid, runtime.version, threads)  # soon after the dump: the objects are live
        mask_known_secrets(threads, sampled.secrets)
        self._stuck_clock.carry_native(pid, threads)  # a stack that has not moved since its native look
        entry.rlock_owners = pythonprocs.read_rlock_owners(pid, runtime.version, _rlock_addresses(threads))
        entry.threads = threads
        if confirm and _unconfirmed_lock_waits(threads, single_sample=sampled.samples == 1):
            self._confirm_lock_waits(entry, None)
        return entry

    def _confirm_lock_waits(self, entry: ProcessThreads, pauses: HangFinder | None) -> None:
        """A native dump to confirm the entry's lock waits (within the pause budget of `pauses`, for a process
        the sweep found; None for one the operator named); says so when the budget refused it."""
        confirmed_at = time.monotonic()
        native_seconds = confirm_native(entry.pid, entry.threads, self._dump_timeout(), self._binary, pauses)
        if native_seconds is None:
            entry.warnings.append(f"lock waits not confirmed from native frames: that dump would pause the process "
                                  f"beyond its budget ({MAX_PAUSE_MS_PER_MIN:.0f} ms a minute)")
            return
        self._stuck_clock.remember_native(entry.pid, entry.threads, confirmed_at)
        entry.dump_seconds = round(max(entry.dump_seconds, native_seconds), 3)
        entry.paused_seconds += native_seconds

    def analyze(self, section: ThreadsSection) -> list[Finding]:
        findings: list[Finding] = []
        for process in section.processes.values():
            findings += analyze_process(process, self.config.thresholds.stuck_thread_s)
            findings += analyze_hangs(process, self.config.thresholds.stuck_thread_s)
        findings += [f for profile in section.profiles.values() if (f := hotspots.hot_code_finding(profile))]
        if section.unswept or section.over_budget:
            left = []
            if section.unswept:
                left.append(f"{section.unswept} Python process(es) not looked at for hangs yet: the host is busy")
            if section.over_budget:
                left.append(f"{section.over_budget} dump(s) skipped: they would have paused a process beyond its "
                            f"budget of {MAX_PAUSE_MS_PER_MIN:.0f} ms a minute")
            findings.append(Finding(
                id="sweep-incomplete", severity="info", source=registry.THREADS, title="; ".join(left),
                detail=("Dumping every Python process took longer than its time budget, or a dump would have paused "
                        f"its process for more than {MAX_PAUSE_MS_PER_MIN:.0f} ms in a minute, so that look was left "
                        "for the next sweep: a hang there is not reported yet, or a lock wait stays unconfirmed. Run "
                        "again (the live app continues on its own), or name a suspect with --pid (no budget)."),
                subject={}, evidence={"not_looked_at": section.unswept, "skipped_for_pause_budget": section.over_budget},
                guide="hang"))
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


def _unconfirmed_lock_waits(threads: list[ThreadRecord], single_sample: bool = False) -> bool:
    """A thread blocked at a lock statement (its stack unchanged, or seen once) that no native dump has
    confirmed or refuted yet."""
    return any(waits_for_lock(t) and (t.stuck or single_sample) and t.native_lock_wait is None for t in threads)


def _rlock_addresses(threads: list[ThreadRecord]) -> list[int]:
    """Addresses of RLock objects in locals, and of the locks waited for that were read from memory
    (`self._rlock`): an RLock's owner can be read (the reader checks the type first)."""
    in_locals = {v.addr for t in threads for f in t.frames for v in f.locals
                 if v.addr and v.repr.startswith("<_thread.RLock")}
    waited = {f.waits.lock_addr for t in threads for f in t.frames if f.waits is not None and f.waits.lock_addr}
    return sorted(in_locals | waited)
