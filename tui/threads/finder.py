"""Which Python processes to look at when nobody named one: every one, soon, within a pause budget.

An operator who has to guess a pid has already lost. The finder sweeps every Python process on the host:
two plain py-spy dumps a moment apart that do not stop it (`--nonblocking`; a thread whose stack did not
move is evidence). A process where the analysis sees anything stuck — a lock wait, a starved pool, a
blocked event loop — is a suspect: it is looked at again, stopped this time and with locals (lock
identities rest on object addresses), `stuck_thread_s` later and then on every poll, so its stuck time
grows into a finding; the others are looked at again after RESCAN_S, and only if they used CPU since: a
process that did not run cannot have changed what it waits for (most of a server's processes, idle, cost
one number read a minute).

py-spy pauses the target while it reads it (a few milliseconds for a small process; its wall time, the
bound we can measure, is tens). The budget is a hard rule: no dump that stops a process starts unless its
expected pause (that process's own recent dumps of the same kind: native unwinding costs about three
times a dump with locals) fits in what is left of MAX_PAUSE_MS_PER_MIN over the last minute, and a dump
that runs past what is left is killed (pyspy.dump resumes the target). What the budget refused is counted
and reported.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from tui.threads.records import PythonCandidate

RESCAN_S = 60.0  # a process that looked fine is looked at again after this
MAX_PAUSE_MS_PER_MIN = 250.0  # what tshoot may pause one target for, per minute, in all
MAX_PER_POLL = 128  # processes swept in one poll (two dumps each): a host of 50 in one go, with room
PAUSE_WINDOW_S = 60.0
LOCALS, NATIVE = "locals", "native"  # the dumps that stop the target (plain ones in a sweep do not)
# py-spy's wall time per kind of dump on a busy 2-core host, until a process has costs of its own
DEFAULT_PAUSE_S = {LOCALS: 0.07, NATIVE: 0.2}
COSTS_KEPT = 3  # the expected pause of a kind is the largest of the process's last few of that kind
KILL_MARGIN_S = 0.03  # a dump stopped at its timeout takes a while to end (more on a loaded host): room for it


def dump_kind(native: bool) -> str:
    return NATIVE if native else LOCALS


@dataclass
class _Seen:
    last_scan: float = float("-inf")
    suspect: bool = False
    cpu_seconds: float = -1.0  # the process's CPU time when it was last looked at
    started: float | None = None  # the process's start time: a reused pid is another process
    pauses: deque = field(default_factory=deque)  # (monotonic time, seconds paused)
    costs: dict[str, deque] = field(default_factory=dict)  # kind -> its last COSTS_KEPT pauses (seconds)

    def paused_s(self, now: float) -> float:
        while self.pauses and now - self.pauses[0][0] > PAUSE_WINDOW_S:
            self.pauses.popleft()
        return sum(seconds for _, seconds in self.pauses)

    def expected_s(self, kind: str) -> float:
        """This process's own cost of such a dump; before it has one, the default scaled by how its other
        kind compares with its default (a big process, or a loaded host, is slow at every kind)."""
        if self.costs.get(kind):
            return max(self.costs[kind])
        for known in self.costs:
            if self.costs[known]:
                return DEFAULT_PAUSE_S[kind] * max(self.costs[known]) / DEFAULT_PAUSE_S[known]
        return DEFAULT_PAUSE_S[kind]


class HangFinder:
    """Chooses the processes to sweep each poll, remembers what each sweep found, and keeps each process's
    pause ledger (dumps of different processes run at once: the ledger takes a lock)."""

    def __init__(self) -> None:
        self._seen: dict[int, _Seen] = {}
        self._lock = threading.Lock()
        self.skipped = 0  # dumps the pause budget refused since the last take_skipped()

    def due(self, candidates: list[PythonCandidate], exclude: set[int], now: float) -> list[int]:
        """Suspects first, then processes never looked at, then the longest unseen; no suspect whose look (a
        dump with locals) would not fit in its pause budget (the others' plain dumps do not stop them)."""
        live = {c.pid for c in candidates}
        with self._lock:
            for gone in self._seen.keys() - live:
                del self._seen[gone]
        chosen = []
        for candidate in candidates:
            if candidate.pid in exclude:
                continue
            seen = self._seen.get(candidate.pid)
            if seen is None or (seen.started is not None and seen.started != candidate.started):
                seen = self._seen[candidate.pid] = _Seen()  # new, or the pid now names another process
            seen.started = candidate.started
            if seen.suspect:
                if not self._fits(seen, LOCALS, now):
                    self.skipped += 1
                    continue
                chosen.append(candidate.pid)
            elif now - seen.last_scan >= RESCAN_S:
                if candidate.cpu_seconds == seen.cpu_seconds:
                    seen.last_scan = now  # it has not run since: the last verdict stands
                else:
                    chosen.append(candidate.pid)
        chosen.sort(key=lambda pid: (not self._seen[pid].suspect, self._seen[pid].last_scan))
        return chosen[:MAX_PER_POLL]

    def _fits(self, seen: _Seen, kind: str, now: float) -> bool:
        return seen.paused_s(now) + seen.expected_s(kind) + KILL_MARGIN_S <= MAX_PAUSE_MS_PER_MIN / 1000

    def allowance(self, pid: int, kind: str, now: float) -> float | None:
        """Seconds this dump may run (its timeout: what is left of the budget, less the time a killed py-spy
        takes to end), or None when its expected pause does not fit (the refusal is counted)."""
        with self._lock:
            seen = self._seen.setdefault(pid, _Seen())
            if not self._fits(seen, kind, now):
                self.skipped += 1
                return None
            return MAX_PAUSE_MS_PER_MIN / 1000 - seen.paused_s(now) - KILL_MARGIN_S

    def charge(self, pid: int, kind: str, now: float, paused_s: float, stopped: bool = False) -> None:
        """A dump of `kind` paused `pid` for `paused_s` (at most: py-spy's wall time), ending at `now`;
        `stopped`: it was killed at its timeout, what was left of the budget (counted as skipped)."""
        with self._lock:
            seen = self._seen.setdefault(pid, _Seen())
            seen.pauses.append((now, paused_s))
            seen.costs.setdefault(kind, deque(maxlen=COSTS_KEPT)).append(paused_s)
            if stopped:
                self.skipped += 1

    def take_skipped(self) -> int:
        with self._lock:
            skipped, self.skipped = self.skipped, 0
        return skipped

    def record(self, pid: int, now: float, suspect: bool, cpu_seconds: float = -1.0) -> None:
        seen = self._seen.setdefault(pid, _Seen())
        seen.last_scan, seen.suspect, seen.cpu_seconds = now, suspect, cpu_seconds

    def suspect(self, pid: int) -> bool:
        seen = self._seen.get(pid)
        return bool(seen and seen.suspect)

    def scanned_at(self, pid: int) -> float | None:
        seen = self._seen.get(pid)
        return seen.last_scan if seen and seen.last_scan > float("-inf") else None

    def paused_ms_last_minute(self, pid: int, now: float) -> float:
        with self._lock:
            seen = self._seen.get(pid)
            return round(seen.paused_s(now) * 1000, 1) if seen else 0.0
