"""tshoot's memory over a long session that visits every pane: the real binary in tmux, RSS sampled each minute.

Run: .venv/bin/python benchmarks/bench_memory_soak.py [--minutes 30] [--dwell 20]
Goal (issue 12): memory stays flat (bounded) over 30 minutes of use, every pane visited again and again — the
caches, histories, log rings and tables of each pane are all exercised, not only the first one.

tshoot runs as an operator would start it (`tshoot --read-only`, every source found by itself: processes, Python
threads, the local databases and Docker engine, the logs on the box) in a 160x45 tmux window; every `--dwell`
seconds the next pane's key is pressed, in registry order, and the resident set of the tshoot process is read
from /proc each minute. Prints the minute-by-minute RSS and the growth from minute 2 (start-up settled) to the end.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tui import registry  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise ProcessLookupError(pid)


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--dwell", type=float, default=20.0, help="seconds on each pane")
    args = parser.parse_args()
    own = ROOT / ".venv" / "bin" / "tshoot"  # this tree's tshoot, not whichever the PATH finds
    tshoot = str(own) if own.exists() else shutil.which("tshoot") or "tshoot"
    session = f"soak-{uuid.uuid4().hex[:6]}"
    tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "45", f"exec {tshoot} --read-only")
    try:
        time.sleep(3)
        pid = int(tmux("display-message", "-p", "-t", session, "#{pane_pid}").strip())
        keys = [spec.key for spec in registry.specs()]
        start = time.monotonic()
        samples: list[float] = []
        next_sample, turn = start, 0
        while time.monotonic() - start < args.minutes * 60:
            if time.monotonic() >= next_sample:
                samples.append(rss_mb(pid))
                print(f"minute {len(samples) - 1:3d}: {samples[-1]:6.1f} MB", flush=True)
                next_sample += 60
            tmux("send-keys", "-t", session, keys[turn % len(keys)])
            turn += 1
            time.sleep(args.dwell)
        samples.append(rss_mb(pid))
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    settled = samples[min(2, len(samples) - 1)]
    print(f"{turn} pane visits; RSS first {samples[0]:.1f} MB, at minute 2 {settled:.1f} MB, last {samples[-1]:.1f} MB, "
          f"max {max(samples):.1f} MB; growth after start-up {samples[-1] - settled:+.1f} MB")


if __name__ == "__main__":
    main()
