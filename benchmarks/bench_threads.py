"""Threads source cost on a process with N threads: how long the target is paused, and dump + analysis time.

Run: .venv/bin/python benchmarks/bench_threads.py [--threads 50] [--rounds 10]
Goal (issue 3): for 50 threads, one dump plus analysis under 1 s, and the target paused no longer than
py-spy's own `dump` of it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from programs.threads.support import PROGRAMS, READY_TIMEOUT_S  # noqa: E402
from tui.config import Config  # noqa: E402
from tui.threads import pyspy  # noqa: E402
from tui.threads.deadlock import analyze_process  # noqa: E402
from tui.threads.source import ThreadsSource  # noqa: E402


def start(threads: int) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, str(PROGRAMS / "many_threads.py"), str(threads)],
                               stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while process.stdout.readline().strip() != "ready":
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit("the benchmark program did not start")
    return process


def timed(fn, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def report(label: str, times: list[float]) -> None:
    print(f"{label:56} median {statistics.median(times) * 1000:7.1f} ms   max {max(times) * 1000:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    binary = pyspy.find_pyspy()
    process = start(args.threads)
    try:
        pid = process.pid
        print(f"target pid {pid}: {args.threads} threads, {args.rounds} rounds, py-spy {binary}")
        report("py-spy dump (plain, the pause baseline)",
               timed(lambda: subprocess.run([binary, "dump", "--pid", str(pid)], capture_output=True, check=True), args.rounds))
        report("pyspy.dump --json (a sample between the first/last)",
               timed(lambda: pyspy.dump(pid, locals_=False, native=False, timeout=10, binary=binary), args.rounds))
        report("pyspy.dump --json --locals (last sample)",
               timed(lambda: pyspy.dump(pid, locals_=True, native=False, timeout=10, binary=binary), args.rounds))
        report("pyspy.dump --json --native (only if a lock wait shows)",
               timed(lambda: pyspy.dump(pid, locals_=False, native=True, timeout=10, binary=binary), args.rounds))
        single = ThreadsSource(Config(pids=[pid], thread_samples=1))
        entries = []
        report("one dump + source annotation + analysis (samples=1)",
               timed(lambda: entries.append(single.collect_pid(pid)) or analyze_process(entries[-1], 5.0), args.rounds))
        findings = analyze_process(entries[-1], 0.0)
        report("analysis alone", timed(lambda: analyze_process(entries[-1], 0.0), args.rounds))
        sampled = ThreadsSource(Config(pids=[pid], thread_samples=3, thread_sample_interval=0.5))
        polls = []
        report("default poll: 3 samples 0.5 s apart + analysis",
               timed(lambda: polls.append(sampled.collect_pid(pid)), max(2, args.rounds // 3)))
        print(f"slowest single dump inside a poll (target paused at most): {polls[-1].dump_seconds * 1000:.1f} ms")
        print(f"threads seen: {len(entries[-1].threads)}; findings: {sorted(f.id for f in findings)}")
    finally:
        process.kill()
        process.wait()


if __name__ == "__main__":
    main()
