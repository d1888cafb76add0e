"""The whole Logs path — reader, analysis, the app and the Logs pane following — on a log growing at 5,000 lines/s,
and the first screen of a 2 GB log.

Run: .venv/bin/python benchmarks/bench_logs_pane.py [--rate 5000] [--seconds 60]
Goals (issue 15): following a log at 5,000 lines/s costs tshoot under 15% of a core with memory bounded by
`log_lines_kept`; the first screen of a 2 GB file is up in under 1 s.

The real app runs headless (Textual's test driver renders every frame as a terminal would) with the real Logs
source following one file (`only_named`), the Logs pane shown and following. The writer is another process
(benchmarks/bench_logs.py --write: application lines, nginx access lines, PostgreSQL lines, tracebacks), so this
process's CPU time is tshoot's alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tui import registry  # noqa: E402
from tui.app import TshootApp  # noqa: E402
from tui.config import Config  # noqa: E402
from tui.logs.source import LogsSource  # noqa: E402

GIB = 1 << 30


def app_for(path: str) -> TshootApp:
    config = Config(log_paths=[path])
    return TshootApp(config, [LogsSource(config, only_named=True)])


async def first_screen(path: str) -> float:
    """Seconds from starting the app to the Logs pane showing the file's last line."""
    started = time.monotonic()
    app = app_for(path)
    async with app.run_test(size=(120, 40)) as pilot:
        app.action_show_pane(registry.LOGS)
        while "the last line of the big log" not in _screen(app):
            await pilot.pause(0.02)
            if time.monotonic() - started > 30:
                raise SystemExit("the last line never appeared")
        return time.monotonic() - started


async def follow(path: str, seconds: float) -> dict[str, float]:
    app = app_for(path)
    async with app.run_test(size=(120, 40)) as pilot:
        app.action_show_pane(registry.LOGS)
        await pilot.pause(3)  # the first polls and paints are start-up, not steady state
        cpu0, wall0 = time.process_time(), time.monotonic()
        await pilot.pause(seconds)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        section = app.sections.get(registry.LOGS)
        return {"cpu_percent": 100 * cpu / wall, "lines_kept": len(section.lines) if section else 0,
                "dropped": section.dropped if section else 0,
                "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _screen(app: TshootApp) -> str:
    return "\n".join("".join(segment.text for segment in strip) for strip in app.screen._compositor.render_strips())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        big = os.path.join(tmp, "big.log")
        with open(big, "wb") as f:  # 2 GB: sparse, then real lines at its end
            f.truncate(2 * GIB)
            f.seek(0, os.SEEK_END)
            f.write(b"".join(b"2026-11-30 03:00:%02d,000 INFO request %d served\n" % (n % 60, n) for n in range(500)))
            f.write(b"2026-11-30 03:01:00,000 ERROR the last line of the big log\n")
        print(f"first screen of a {os.path.getsize(big) / GIB:.1f} GB log: {asyncio.run(first_screen(big)):.2f} s")

        path = os.path.join(tmp, "app.log")
        Path(path).touch()
        writer = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "bench_logs.py"), "--write", path,
                                   "--rate", str(args.rate), "--seconds", str(args.seconds + 10)])
        try:
            result = asyncio.run(follow(path, args.seconds))
        finally:
            writer.kill()
            writer.wait()
        lines = sum(1 for _ in open(path, "rb"))
        print(f"following {args.rate} lines/s for {args.seconds:.0f} s ({lines} lines written): "
              f"{result['cpu_percent']:.1f}% of a core, {result['lines_kept']} lines kept "
              f"({result['dropped']} dropped), max RSS {result['max_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
