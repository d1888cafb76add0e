"""Findings from a processes section. Pure: the same code judges a live poll and a replayed snapshot."""

from __future__ import annotations

from collections import Counter

from tui import registry
from tui.config import Thresholds
from tui.findings import Finding
from tui.processes.records import ProcessesSection, ProcessRow

MB = 2**20


def analyze(section: ProcessesSection, limits: Thresholds) -> list[Finding]:
    findings: list[Finding] = []
    for row in section.rows:
        if row.pid != section.inspector_pid:
            findings += _row_findings(row, limits)
    findings += _memory_pressure(section, limits)
    zombies = [r for r in section.rows if r.state == "zombie"]
    if zombies:
        parents = Counter(r.ppid for r in zombies)
        by_pid = {r.pid: r for r in section.rows}
        findings.append(
            Finding(
                id="zombie-processes",
                severity="info",
                source=registry.PROCESSES,
                title=f"{len(zombies)} zombie process{'es' if len(zombies) > 1 else ''}",
                detail=(
                    "Zombies are finished children whose parent never collected their exit status. They hold "
                    "no memory, only a pid slot; many of them mean the parent has a bug (no wait()/SIGCHLD handling). "
                    "Restarting the parent clears them."
                ),
                subject={"pid": parents.most_common(1)[0][0], "name": _name(by_pid, parents.most_common(1)[0][0])},
                evidence={
                    "count": len(zombies),
                    "parents": [{"pid": p, "name": _name(by_pid, p), "zombies": n} for p, n in parents.most_common(5)],
                },
            )
        )
    return findings


def _row_findings(row: ProcessRow, limits: Thresholds) -> list[Finding]:
    out = []
    t = row.trend
    if (leak := _leak(row, limits)) is not None:
        out.append(leak)
    if t.samples >= 3 and t.cpu_median_percent >= limits.cpu_hog_percent:
        out.append(
            Finding(
                id="cpu-hog",
                severity="warning",
                source=registry.PROCESSES,
                title=f"{row.name} ({row.pid}) at {t.cpu_median_percent:.0f}% CPU (median) for {t.window_s:.0f}s",
                detail=(
                    "This process kept about a core busy over the observation window (the median of its samples, "
                    "so the dips a busy loop shows on a shared host do not hide it). If it is a Python process, "
                    "open it in Threads to see which stack is running; a busy loop, a retry storm or a "
                    "regex/serialisation hot spot is typical. Lower its priority with `renice +10 -p PID` while you look."
                ),
                subject={"pid": row.pid, "name": row.name},
                evidence={"cpu_median_percent": t.cpu_median_percent, "cpu_min_percent": t.cpu_min_percent,
                          "cpu_now_percent": row.cpu_percent, "window_s": t.window_s, "samples": t.samples},
                guide="slow",
            )
        )
    if t.d_state_samples >= 2:
        out.append(
            Finding(
                id="process-d-state",
                severity="warning",
                source=registry.PROCESSES,
                title=f"{row.name} ({row.pid}) stuck in uninterruptible sleep (D)",
                detail=(
                    "The process is waiting inside the kernel, usually on disk or network storage (NFS, a dying disk), "
                    "and cannot be killed until the I/O returns. Check `cat /proc/PID/stack`, `dmesg` for I/O errors "
                    "and the storage it uses."
                ),
                subject={"pid": row.pid, "name": row.name},
                evidence={"consecutive_samples": t.d_state_samples},
                guide="hang",
            )
        )
    return out


def _leak(row: ProcessRow, limits: Thresholds) -> Finding | None:
    """`memory-growth` when RSS rose steadily by an absolute amount, over the short window or the long one.

    Absolute, not relative: a 1.4 GB process leaking 30 MB/min is as urgent as a small one. The long window
    (RSS every 30 s for up to 30 minutes) keeps a slow leak reported for as long as it lasts.
    """
    t = row.trend
    windows = [  # (samples, slope MB/min, share of steps not shrinking, RSS at the start, seconds, which)
        (t.samples, t.rss_slope_mb_per_min, t.rss_rising_fraction, t.rss_first, t.window_s, "short"),
        (t.long_samples, t.long_rss_slope_mb_per_min, t.long_rss_rising_fraction, t.long_rss_first,
         t.long_window_s, "long"),
    ]
    for samples, slope, rising, first, window_s, which in windows:
        grown_mb = (row.rss - first) / MB
        if (samples >= limits.memory_growth_min_samples and slope >= limits.memory_growth_mb_per_min
                and rising >= 0.7 and grown_mb >= limits.memory_growth_min_mb):
            # a few MB of warm-up (imports, caches filling) is not a leak, however steep: hence the MB floor
            return Finding(
                id="memory-growth",
                severity="warning",
                source=registry.PROCESSES,
                title=f"{row.name} ({row.pid}) RSS rising {slope:.1f} MB/min",
                detail=(
                    f"Resident memory grew from {first / MB:.0f} MB to {row.rss / MB:.0f} MB over "
                    f"{window_s:.0f}s and did not fall back: a leak or an unbounded cache. For Python, compare "
                    "tracemalloc snapshots (top allocations by line) a few minutes apart; check caches and "
                    "module-level lists that only grow. Restarting buys time, not a fix."
                ),
                subject={"pid": row.pid, "name": row.name},
                evidence={
                    "slope_mb_per_min": slope,
                    "rss_first_mb": round(first / MB, 1),
                    "rss_now_mb": round(row.rss / MB, 1),
                    "grown_mb": round(grown_mb, 1),
                    "window_s": window_s,
                    "window": which,
                    "samples": samples,
                },
                guide="slow",
            )
    return None


def _memory_pressure(section: ProcessesSection, limits: Thresholds) -> list[Finding]:
    s = section.system
    available_pct = s.mem_available / s.mem_total * 100 if s.mem_total else 100.0
    swap_mb_s = (s.swap_in_bytes_s + s.swap_out_bytes_s) / MB
    if available_pct >= limits.memory_available_percent and swap_mb_s < limits.swap_in_out_mb_per_s:
        return []
    top = sorted(section.rows, key=lambda r: r.rss, reverse=True)[:5]
    return [
        Finding(
            id="memory-pressure",
            severity="critical",
            source=registry.PROCESSES,
            title=f"Memory pressure: {available_pct:.1f}% available, swapping {swap_mb_s:.1f} MB/s",
            detail=(
                "The machine is close to running out of memory: the kernel is swapping or will soon OOM-kill. "
                "The biggest processes are listed in the evidence; stop or restart the one that grew, and check "
                "`dmesg | grep -i oom` for kills that already happened."
            ),
            subject={"host": s.hostname},
            evidence={
                "available_percent": round(available_pct, 2),
                "swap_mb_per_s": round(swap_mb_s, 2),
                "top_rss": [{"pid": r.pid, "name": r.name, "rss_mb": round(r.rss / MB, 1)} for r in top],
            },
            guide="slow",
        )
    ]


def _name(by_pid: dict[int, ProcessRow], pid: int) -> str:
    return by_pid[pid].name if pid in by_pid else "?"
