"""Dump the machine's Python processes when nobody named one, so a deadlock is found without knowing its pid.

Bounded: at most `limit` processes — multi-threaded ones first (a lock deadlock needs threads), then
the busiest and the oldest — each sampled exactly as the Threads pane samples a watched pid, under
the same timeouts, a few at a time. tshoot never dumps itself.
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from tui.config import Config
from tui.findings import Finding
from tui.threads import pythonprocs
from tui.threads.deadlock import analyze_process
from tui.threads.hangs import analyze_hangs
from tui.threads.records import ProcessThreads, PythonCandidate
from tui.threads.source import ThreadsSource

MAX_SCANNED = 8
PARALLEL_DUMPS = 4  # each dump pauses only its own target; 4 keeps a 2-core machine responsive


@dataclass
class MachineScan:
    processes: list[ProcessThreads] = field(default_factory=list)  # every process tried, dumped or not
    findings: list[Finding] = field(default_factory=list)
    left_out: list[PythonCandidate] = field(default_factory=list)  # Python processes beyond the limit


def scan_order(candidate: PythonCandidate) -> tuple[bool, float, float]:
    """Multi-threaded first, then the most CPU time used, then the oldest."""
    return candidate.threads <= 1, -candidate.cpu_seconds, candidate.started


def scan_python_processes(config: Config, limit: int = MAX_SCANNED) -> MachineScan:
    """Dump up to `limit` Python processes of this machine and analyse each like the Threads pane does."""
    candidates = sorted(pythonprocs.python_candidates(exclude={os.getpid()}), key=scan_order)
    chosen, left_out = candidates[:max(0, limit)], candidates[max(0, limit):]

    def dump(candidate: PythonCandidate) -> ProcessThreads:
        return ThreadsSource(dataclasses.replace(config, pids=[candidate.pid])).collect_pid(candidate.pid)

    with ThreadPoolExecutor(max_workers=PARALLEL_DUMPS, thread_name_prefix="threads-scan") as pool:
        processes = list(pool.map(dump, chosen))
    stuck_s = config.thresholds.stuck_thread_s  # judged as the Threads source judges: lock cycles and the other hangs
    findings = [f for process in processes for f in (*analyze_process(process, stuck_s), *analyze_hangs(process, stuck_s))]
    return MachineScan(processes, findings, left_out)


def describe_process(process: ProcessThreads) -> str:
    """`pid 123 python app.py`, the command line cut to a readable length."""
    command = process.cmdline or process.name
    return f"pid {process.pid} {command[:80]}" + ("…" if len(command) > 80 else "")
