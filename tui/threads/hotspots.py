"""Why is it slow: where a CPU-hungry Python process spends its time, from py-spy's sampler.

`py-spy record --nonblocking` reads the target's stacks without stopping it (unlike `dump`), at PROFILE_RATE
samples a second for PROFILE_SECONDS. Only Python processes that use at least `cpu_hog_percent` of a core
are profiled, each at most once every PROFILE_EVERY_S, so an idle host costs nothing and a busy one a few
tens of milliseconds of py-spy's own CPU per minute.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections import Counter

from tui import registry
from tui.findings import Finding
from tui.procfs import cpu_percent, cpu_ticks, read_small, split_stat
from tui.threads import pyspy
from tui.threads.records import HotSpot, Profile

PROFILE_SECONDS = 2.0
PROFILE_RATE = 50  # samples a second
PROFILE_EVERY_S = 60.0
TOP_FUNCTIONS = 8
TOP_STACKS = 3


def record(pid: int, binary: str | None, seconds: float = PROFILE_SECONDS, rate: int = PROFILE_RATE) -> Profile:
    """Sample `pid` for `seconds` without pausing it; raises pyspy.DumpError with the reason."""
    binary = binary or pyspy.find_pyspy()
    if binary is None:
        raise pyspy.DumpError("py-spy is not installed", "pip install py-spy")
    with tempfile.TemporaryDirectory(prefix="tshoot-profile-") as folder:  # private (0700), removed after
        out = os.path.join(folder, "stacks.txt")
        command = [binary, "record", "--pid", str(pid), "--duration", f"{max(1, round(seconds))}",
                   "--rate", str(rate), "--nonblocking", "--format", "raw", "--output", out]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 10)
        except subprocess.TimeoutExpired:
            raise pyspy.DumpError(f"py-spy record did not finish within {seconds + 10:g}s") from None
        if result.returncode != 0 or not os.path.exists(out):
            raise pyspy.explain_failure(pid, result.stderr + result.stdout)
        with open(out, encoding="utf-8", errors="replace") as collapsed:
            profile = parse_collapsed(collapsed.read(4_000_000))
    profile.pid, profile.seconds, profile.taken_at = pid, seconds, time.time()
    return profile


def parse_collapsed(text: str) -> Profile:
    """py-spy's raw format: one line per distinct stack, `outer (file:line);...;inner (file:line) COUNT`."""
    own: Counter[str] = Counter()
    within: Counter[str] = Counter()
    stacks: Counter[str] = Counter()
    total = 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = [frame for frame in stack.split(";") if frame]
        if not frames:
            continue
        own[frames[-1]] += samples
        for frame in set(frames):
            within[frame] += samples
        stacks[stack] += samples
    if not total:
        return Profile(pid=0)

    def percent(samples: int) -> float:
        return round(samples / total * 100, 1)

    hot = []
    for frame, samples in own.most_common(TOP_FUNCTIONS):
        function, location = _split_frame(frame)
        hot.append(HotSpot(function, location, percent(samples), percent(within[frame])))
    top = [(" → ".join(_split_frame(f)[0] for f in stack.split(";")), percent(n)) for stack, n in stacks.most_common(TOP_STACKS)]
    return Profile(pid=0, samples=total, hot=hot, stacks=top)


def _split_frame(frame: str) -> tuple[str, str]:
    """`match_all (hot.py:5)` -> ("match_all", "hot.py:5")."""
    function, _, location = frame.partition(" (")
    return function, location.rstrip(")")


class CpuWatch:
    """CPU% of one core per process between two polls, from /proc/<pid>/stat (one small read per process)."""

    def __init__(self) -> None:
        self._last: dict[int, tuple[int, float]] = {}

    def percent(self, pids: list[int]) -> dict[int, float]:
        now = time.monotonic()
        result = {}
        seen = {}
        for pid in pids:
            raw = read_small(f"/proc/{pid}/stat")
            if not raw:
                continue
            ticks = cpu_ticks(split_stat(raw)[1])
            seen[pid] = (ticks, now)
            if pid in self._last and now > self._last[pid][1]:
                before, then = self._last[pid]
                result[pid] = cpu_percent(ticks, before, now - then)
        self._last = seen
        return result


def hot_code_finding(profile: Profile) -> Finding | None:
    """`hot-code`: the function a busy Python process spends most of its CPU in, with the rest as evidence."""
    if not profile.hot:
        return None
    top = profile.hot[0]
    return Finding(
        id="hot-code",
        severity="info",
        source=registry.THREADS,
        title=(f"pid {profile.pid} ({profile.name or 'python'}) at {profile.cpu_percent:.0f}% CPU spends "
               f"{top.self_percent:.0f}% of it in {top.function} ({top.location})"),
        detail=("Sampled without pausing the process. The functions below take the CPU (self: in the function "
                "itself; total: with what it calls). A regex, (de)serialisation, a loop over a growing list or "
                "a retry without a pause is typical; fix the top one first and measure again."),
        subject={"pid": profile.pid},
        evidence={
            "hot": [{"function": h.function, "location": h.location, "self_percent": h.self_percent,
                     "total_percent": h.total_percent} for h in profile.hot],
            "stacks": [{"stack": stack, "percent": share} for stack, share in profile.stacks],
            "samples": profile.samples, "seconds": profile.seconds,
        },
        guide="slow",
    )
