"""What the live Processes pane costs the sick server it runs on (issue 2, "Performance").

Run:  .venv/bin/python benchmarks/bench_processes.py --quick   (about 6 minutes: a 2-minute live run)
      .venv/bin/python benchmarks/bench_processes.py           (about 15 minutes: a 10-minute live run)

With 1,000 extra idle processes (`sleep` children in one process group, all killed at the end),
the real `tshoot --interval 1` and `htop -d 10` run in turn in a 200x50 pty we own: first full paint,
own CPU (% of one core) and resident memory over the run, and the bytes written to the terminal
(what crosses an SSH link); the first minute (the collector is still learning which processes
are idle: it needs a whole trend window of unchanged samples) and the last minute are shown apart. Then `tshoot snapshot` wall time, and how the collector poll and the
pane update grow from 100 to 1,000 to 5,000 processes (the pane driven headless through the same
SourceUpdated message a live poll posts). Targets: CPU <= 5% of a core, RSS < 100 MB, first paint
< 1 s, `snapshot --observe 0` < 2 s, flat memory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.harness import IdleProcesses, TerminalProgram, exit_cleanly_on_signals, process_count  # noqa: E402

SIZE = (200, 50)
EXTRA_IDLE = 1000
SCALING_TOTALS = (100, 1000, 5000)
TSHOOT = str(Path(sys.executable).with_name("tshoot"))
TSHOOT_PAINTED = b"processes, sorted by"  # the table's border title: written with the first rows
HTOP_PAINTED = b"TIME+  Command"  # htop's column header: written with the first rows
MB = 2**20
SAMPLE_EVERY_S = 10.0  # CPU and RSS of the live run


@dataclass
class LiveRun:
    name: str
    first_paint_s: float
    window_s: float
    cpu_percent: float  # of one core, over the window
    cpu_first_minute: float
    cpu_last_minute: float
    rss: list[int]  # sampled over the window
    bytes_per_s: float


def terminal_env(home: str) -> dict[str, str]:
    """A terminal as an SSH login gets one: TERM forwarded, COLORTERM not (ssh does not send it)."""
    return {"PATH": os.environ["PATH"], "HOME": home, "TERM": "xterm-256color", "LANG": "C.UTF-8"}


def watch_live(name: str, argv: list[str], marker: bytes, seconds: float, sample_every: float = SAMPLE_EVERY_S,
               settle_s: float = 5.0) -> LiveRun:
    """Start `argv` in the pty, wait for its first paint, let it settle, then sample it for `seconds`."""
    with tempfile.TemporaryDirectory(prefix="bench-home-") as home:
        program = TerminalProgram(argv, SIZE, terminal_env(home), marker)
        try:
            first_paint = program.wait_painted(timeout=30)
            time.sleep(settle_s)
            samples = [program.usage()]
            bytes_at_start = program.bytes_written
            while samples[-1].at - samples[0].at < seconds - 0.05:
                time.sleep(min(sample_every, seconds - (samples[-1].at - samples[0].at)))
                samples.append(program.usage())
            written = program.bytes_written - bytes_at_start
        finally:
            program.stop()

    def cpu(first, last) -> float:
        return (last.cpu_s - first.cpu_s) / (last.at - first.at) * 100

    minute = max(1, round(60 / sample_every))
    window = samples[-1].at - samples[0].at
    return LiveRun(
        name=name,
        first_paint_s=first_paint,
        window_s=window,
        cpu_percent=cpu(samples[0], samples[-1]),
        cpu_first_minute=cpu(samples[0], samples[min(minute, len(samples) - 1)]),
        cpu_last_minute=cpu(samples[max(0, len(samples) - 1 - minute)], samples[-1]),
        rss=[s.rss for s in samples],
        bytes_per_s=written / window,
    )


def time_snapshot(observe: float, runs: int) -> list[float]:
    times = []
    with tempfile.TemporaryDirectory(prefix="bench-snap-") as out:
        for i in range(runs):
            started = time.monotonic()
            subprocess.run([TSHOOT, "snapshot", "--observe", str(observe), "-o", f"{out}/s{i}.json"],
                           check=True, capture_output=True, stdin=subprocess.DEVNULL)
            times.append(time.monotonic() - started)
    return times


@dataclass
class ScalingRow:
    processes: int
    first_poll_ms: float  # a new collector reads every command line and owner once
    poll_ms: list[float]  # steady polls, 1 s apart (every 5th also refreshes listening sockets)
    first_show_ms: float  # CPU of the pane's first update + paint (every row is new)
    show_section_ms: list[float]  # pane.show_section alone, steady
    update_paint_ms: list[float]  # CPU from posting SourceUpdated to the painted frame, steady


def measure_scaling(load: IdleProcesses, totals: tuple[int, ...], polls: int) -> list[ScalingRow]:
    from tui.processes.collect import ProcessCollector

    rows = []
    for total in totals:
        load.resize_to_total(total)
        collector = ProcessCollector()
        started = time.perf_counter()
        sections = [collector.poll()]
        first_poll = time.perf_counter() - started
        poll_times = []
        for _ in range(polls):
            time.sleep(1.0)
            started = time.perf_counter()
            sections.append(collector.poll())
            poll_times.append(time.perf_counter() - started)
        first_show, shows, paints = asyncio.run(pane_costs(sections))
        rows.append(ScalingRow(len(sections[-1].rows), first_poll * 1000, ms(poll_times), first_show * 1000,
                               ms(shows), ms(paints)))
    return rows


async def pane_costs(sections: list) -> tuple[float, list[float], list[float]]:
    """Feed each section to a headless 200x50 app as a live poll would; CPU per update, painted."""
    from tests.uihelpers import feed, frozen_app

    app = frozen_app()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.pane("processes")
        show_section = pane.show_section
        shows: list[float] = []

        def timed_show(section) -> None:
            started = time.process_time()
            show_section(section)
            shows.append(time.process_time() - started)

        pane.show_section = timed_show  # the instance attribute shadows the method the app calls
        paints = []
        for section in sections:
            started = time.process_time()
            feed(app, "processes", section, [])
            await pilot.pause()
            paints.append(time.process_time() - started)
    return paints[0], shows[1:], paints[1:]


def ms(seconds: list[float]) -> list[float]:
    return [s * 1000 for s in seconds]


def median_max(values: list[float]) -> str:
    return f"{statistics.median(values):7.1f} / {max(values):7.1f}"


def report(machine: str, live: list[LiveRun], snap0: list[float], snap_default: list[float],
           scaling: list[ScalingRow]) -> str:
    lines = [machine, ""]
    lines.append(f"{'live, 1,000 extra idle processes, 200x50':44} {'first paint':>11} {'CPU % core':>10} "
                 f"{'1st/last min':>13} {'RSS first/last/max MB':>22} {'bytes/s':>8} {'window':>7}")
    for run in live:
        lines.append(
            f"{run.name:44} {run.first_paint_s:10.2f}s {run.cpu_percent:10.1f} "
            f"{run.cpu_first_minute:6.1f}/{run.cpu_last_minute:<6.1f} "
            f"{run.rss[0] / MB:8.1f}/{run.rss[-1] / MB:6.1f}/{max(run.rss) / MB:6.1f} "
            f"{run.bytes_per_s:8.0f} {run.window_s:6.0f}s"
        )
    for run in live:
        per_minute = run.rss[:: max(1, round(60 / SAMPLE_EVERY_S))]
        lines.append(f"{run.name}: RSS MB at each minute: " + " ".join(f"{rss / MB:.1f}" for rss in per_minute))
    lines.append("")
    lines.append(f"tshoot snapshot --observe 0: median {statistics.median(snap0):.2f} s, max {max(snap0):.2f} s "
                 f"({len(snap0)} runs); --observe 3 (default): {statistics.median(snap_default):.2f} s")
    lines.append("")
    lines.append(f"{'processes':>9} {'1st poll ms':>11} {'poll ms median/max':>19} {'1st show ms':>11} "
                 f"{'show_section ms':>17} {'update+paint CPU ms':>19}")
    for row in scaling:
        lines.append(f"{row.processes:9d} {row.first_poll_ms:11.1f} {median_max(row.poll_ms):>19} "
                     f"{row.first_show_ms:11.1f} {median_max(row.show_section_ms):>17} "
                     f"{median_max(row.update_paint_ms):>19}")
    return "\n".join(lines)


def describe_machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{time.strftime('%Y-%m-%d %H:%M %Z')}  {platform.node()}: {os.cpu_count()} x {cpu}, "
            f"{os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} GiB, Linux {platform.release()}, "
            f"Python {platform.python_version()}; load {load}; {process_count()} processes before the load")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 2-minute live run of tshoot instead of 10 minutes")
    args = parser.parse_args()
    if not shutil.which("htop"):
        raise SystemExit("htop is not installed (the comparison): apt-get install -y htop")
    exit_cleanly_on_signals()
    tshoot_seconds, htop_seconds, polls, snapshot_runs = (125, 60, 5, 3) if args.quick else (600, 120, 10, 5)
    machine = describe_machine()
    load = IdleProcesses()
    try:
        print(f"spawning {EXTRA_IDLE} idle processes ...", flush=True)
        load.resize(EXTRA_IDLE)
        print(f"tshoot --interval 1 for {tshoot_seconds} s ...", flush=True)
        live = [watch_live("tshoot --interval 1", [TSHOOT, "--interval", "1"], TSHOOT_PAINTED, tshoot_seconds)]
        print(f"htop -d 10 for {htop_seconds} s ...", flush=True)
        live.append(watch_live(f"htop {htop_version()} -d 10", ["htop", "-d", "10"], HTOP_PAINTED, htop_seconds))
        print("tshoot snapshot ...", flush=True)
        snap0 = time_snapshot(0, snapshot_runs)
        snap_default = time_snapshot(3, 1)
        print(f"scaling {SCALING_TOTALS} ...", flush=True)
        scaling = measure_scaling(load, SCALING_TOTALS, polls)
    finally:
        load.stop()
    print()
    print(report(machine, live, snap0, snap_default, scaling))
    print(f"\nprocesses left after clean-up: {process_count()}")


def htop_version() -> str:
    out = subprocess.run(["htop", "--version"], capture_output=True, text=True).stdout.split()
    return out[1] if len(out) > 1 else "?"


if __name__ == "__main__":
    main()
