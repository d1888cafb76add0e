"""Finding hung Python processes nobody named: `tshoot doctor` with no --pid on a host of many Python processes.

Run: .venv/bin/python benchmarks/bench_finder.py [--healthy 45] [--minutes 2] [--doctor-runs 3]
Goal (issue 13): 50 Python processes, 5 of them hung in different ways: `doctor` under 5 s, every hung one
found; then the live Threads source's background sweep costs under 1% of a core at the default interval,
and the pause imposed on each target is reported.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from programs.threads.support import start_program, stop  # noqa: E402
from tui.config import Config  # noqa: E402
from tui.threads.source import ThreadsSource  # noqa: E402

HUNG = {  # program -> the finding it must give
    "pool_starvation.py": "pool-starvation",
    "blocked_event_loop.py": "event-loop-blocked",
    "orphaned_lock.py": "orphaned-lock",
    "lock_across_io.py": "lock-held-across-io",
    "deadlock_ring.py": "deadlock",
    "queue_stalled.py": "queue-stalled",
}
# what a server mostly runs: idle services; one in twenty also keeps a core busy
HEALTHY = ["waits_no_owner.py"] * 17 + ["idle_pool_and_loop.py", "same_order.py", "queue_healthy.py"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--healthy", type=int, default=45,
                        help=f"healthy Python processes next to the {len(HUNG)} hung ones")
    parser.add_argument("--minutes", type=float, default=2.0, help="how long to measure the live sweep")
    parser.add_argument("--doctor-runs", type=int, default=3, help="doctor runs, one after the other (a minute apart "
                        "would leave each a fresh pause budget; back to back, later runs start with none spent too: "
                        "each is its own process)")
    args = parser.parse_args()
    started: list[subprocess.Popen] = []
    try:
        hung = {}
        for name, finding in HUNG.items():
            started.append(start_program(name))
            hung[started[-1].pid] = finding
        healthy = []
        for index in range(args.healthy):
            started.append(start_program(HEALTHY[index % len(HEALTHY)]))
            healthy.append(started[-1])
        print(f"{len(hung)} hung + {len(healthy)} healthy Python processes")

        mine = set(hung) | {p.pid for p in healthy}
        for _ in range(args.doctor_runs):
            began = time.perf_counter()
            result = subprocess.run([sys.executable, "-m", "tui.cli", "doctor", "--json"], capture_output=True,
                                    text=True, cwd=ROOT)
            took = time.perf_counter() - began
            findings = json.loads(result.stdout)["findings"]
            found: dict[int, set[str]] = {}
            for f in findings:  # hot-code is a busy process, not a hang
                if f["source"] == "threads" and f["id"] not in ("hot-code", "sweep-incomplete"):
                    found.setdefault(f["subject"].get("pid"), set()).add(f["id"])
            missed = {pid: want for pid, want in hung.items() if want not in found.get(pid, set())}
            false = [pid for pid in found if pid in mine and pid not in hung]
            left = [f["title"] for f in findings if f["id"] == "sweep-incomplete"]
            print(f"doctor, no --pid: {took:.2f} s, exit {result.returncode}; hung found {len(hung) - len(missed)}/"
                  f"{len(hung)}; missed {missed or 'none'}; healthy reported {false or 'none'}; other Python processes "
                  f"on the host reported {len([p for p in found if p not in mine])}; left: {left or 'nothing'}")

        source = ThreadsSource(Config())
        source.collect()  # the first sweep (every process dumped, sources parsed): reported by doctor above
        worst = max(source._finder.paused_ms_last_minute(pid, time.monotonic()) for pid in mine)
        cpu_before = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        wall_before = time.monotonic()
        interval = Config().interval * Config().hidden_interval_factor  # the Threads pane hidden: the usual case
        skipped = 0
        while time.monotonic() - wall_before < args.minutes * 60:
            skipped += getattr(source.collect(), "over_budget", 0)
            now = time.monotonic()
            worst = max([worst] + [source._finder.paused_ms_last_minute(pid, now) for pid in mine])
            time.sleep(interval)
        wall = time.monotonic() - wall_before
        cpu_after = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = sum(a.ru_utime + a.ru_stime - b.ru_utime - b.ru_stime for a, b in zip(cpu_after, cpu_before))
        now = time.monotonic()
        pauses = [source._finder.paused_ms_last_minute(p.pid, now) for p in healthy]
        hung_pauses = [source._finder.paused_ms_last_minute(pid, now) for pid in hung]
        print(f"live sweep every {interval:g} s for {wall:.0f} s after the first: {cpu / wall * 100:.2f}% of a core "
              f"(tshoot and its py-spy runs)")
        print(f"pause per healthy target in the last minute: median {statistics.median(pauses):.0f} ms, "
              f"max {max(pauses):.0f} ms; per hung target: max {max(hung_pauses):.0f} ms; the most any target "
              f"was paused in a minute, after any poll: {worst:.0f} ms; dumps refused by the budget: {skipped}")
    finally:
        for process in started:
            stop(process)


if __name__ == "__main__":
    main()
