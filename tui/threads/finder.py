"""Which Python processes to look at when nobody named one: every one, soon, within a pause budget.

An operator who has to guess a pid has already lost. The finder sweeps every Python process on the host:
two plain py-spy dumps a moment apart (a thread whose stack did not move is evidence), the second with
locals (lock identities rest on object addresses). A process where the analysis sees anything stuck — a
lock wait, a starved pool, a blocked event loop — is a suspect: it is looked at again on the next poll,
so its stuck time grows into a finding; the others are looked at again after RESCAN_S, and only if they
used CPU since: a process that did not run cannot have changed what it waits for (most of a server's
processes, idle, cost one number read a minute).

py-spy pauses the target while it reads it (a few milliseconds for a small process). The pause each
dump imposed is remembered per process, and a process that had MAX_PAUSE_MS_PER_MIN of pauses in the
last minute is left alone until that minute passes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from tui.threads.records import PythonCandidate

RESCAN_S = 60.0  # a process that looked fine is looked at again after this
MAX_PAUSE_MS_PER_MIN = 250.0  # what tshoot may pause one target for, per minute, in all
MAX_PER_POLL = 128  # processes swept in one poll (two dumps each): a host of 50 in one go, with room
PAUSE_WINDOW_S = 60.0


@dataclass
class _Seen:
    last_scan: float = float("-inf")
    suspect: bool = False
    cpu_seconds: float = -1.0  # the process's CPU time when it was last looked at
    started: float | None = None  # the process's start time: a reused pid is another process
    pauses: deque = field(default_factory=deque)  # (monotonic time, seconds paused)

    def paused_ms(self, now: float) -> float:
        while self.pauses and now - self.pauses[0][0] > PAUSE_WINDOW_S:
            self.pauses.popleft()
        return sum(seconds for _, seconds in self.pauses) * 1000


class HangFinder:
    """Chooses the processes to sweep each poll and remembers what each sweep found and cost."""

    def __init__(self) -> None:
        self._seen: dict[int, _Seen] = {}

    def due(self, candidates: list[PythonCandidate], exclude: set[int], now: float) -> list[int]:
        """Suspects first, then processes never looked at, then the longest unseen; none over its budget."""
        live = {c.pid for c in candidates}
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
            if seen.paused_ms(now) >= MAX_PAUSE_MS_PER_MIN:
                continue
            if seen.suspect:
                chosen.append(candidate.pid)
            elif now - seen.last_scan >= RESCAN_S:
                if candidate.cpu_seconds == seen.cpu_seconds:
                    seen.last_scan = now  # it has not run since: the last verdict stands
                else:
                    chosen.append(candidate.pid)
        chosen.sort(key=lambda pid: (not self._seen[pid].suspect, self._seen[pid].last_scan))
        return chosen[:MAX_PER_POLL]

    def record(self, pid: int, now: float, paused_s: float, suspect: bool, cpu_seconds: float = -1.0) -> None:
        seen = self._seen.setdefault(pid, _Seen())
        seen.last_scan, seen.suspect, seen.cpu_seconds = now, suspect, cpu_seconds
        if paused_s > 0:
            seen.pauses.append((now, paused_s))

    def suspect(self, pid: int) -> bool:
        seen = self._seen.get(pid)
        return bool(seen and seen.suspect)

    def scanned_at(self, pid: int) -> float | None:
        seen = self._seen.get(pid)
        return seen.last_scan if seen and seen.last_scan > float("-inf") else None

    def paused_ms_last_minute(self, pid: int, now: float) -> float:
        seen = self._seen.get(pid)
        return round(seen.paused_ms(now), 1) if seen else 0.0
