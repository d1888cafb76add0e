"""Bytes written to the terminal per second in a steady state, tshoot next to htop (issue 14).

Run:  /work/main/.venv/bin/python benchmarks/bench_terminal_bytes.py            (about 4 minutes)
      /work/main/.venv/bin/python benchmarks/bench_terminal_bytes.py --tree DIR (tshoot from another checkout)

With 1,000 extra idle `sleep` children (one process group, all killed at the end), the real
`python -m tui.cli --interval 1` (this checkout, or --tree) and `htop -d 10` (both refresh once a second)
run in turn in a 200x50 pty we own, as an SSH login gets it. After each has painted and settled
(`--settle`, default 60 s: tshoot's collector learns which processes are idle over its first minute),
every byte it writes to the pty is counted over `--seconds` (default 60 s): what crosses the SSH link.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_processes import (  # noqa: E402
    EXTRA_IDLE, HTOP_PAINTED, SIZE, TSHOOT_PAINTED, htop_version, terminal_env,
)
from benchmarks.harness import IdleProcesses, TerminalProgram, exit_cleanly_on_signals  # noqa: E402


def bytes_per_second(argv: list[str], marker: bytes, settle_s: float, seconds: float, tree: Path) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-home-") as home:
        env = terminal_env(home) | {"PYTHONPATH": str(tree)}
        program = TerminalProgram(argv, SIZE, env, marker)
        try:
            program.wait_painted(timeout=60)
            time.sleep(settle_s)
            start, written = time.monotonic(), program.bytes_written
            time.sleep(seconds)
            return (program.bytes_written - written) / (time.monotonic() - start)
        finally:
            program.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="the counted window (default 60)")
    parser.add_argument("--settle", type=float, default=60, help="seconds after the first paint before counting")
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout whose tshoot runs (default: this one)")
    parser.add_argument("--no-htop", action="store_true", help="tshoot only")
    args = parser.parse_args()
    if not args.no_htop and not shutil.which("htop"):
        raise SystemExit("htop is not installed (the comparison): apt-get install -y htop")
    exit_cleanly_on_signals()
    load = IdleProcesses()
    try:
        load.resize(EXTRA_IDLE)
        # -P: `-m` would put the working directory first on sys.path, ahead of PYTHONPATH=--tree, so a run
        # started from one checkout measured that checkout whatever --tree said
        tshoot = bytes_per_second([sys.executable, "-P", "-m", "tui.cli", "--interval", "1"], TSHOOT_PAINTED,
                                  args.settle, args.seconds, args.tree.resolve())
        htop = None if args.no_htop else bytes_per_second(["htop", "-d", "10"], HTOP_PAINTED, args.settle,
                                                          args.seconds, args.tree.resolve())
    finally:
        load.stop()
    print(f"{EXTRA_IDLE} idle children, {SIZE[0]}x{SIZE[1]} pty, {args.settle:.0f} s settle, {args.seconds:.0f} s counted")
    print(f"tshoot --interval 1 ({args.tree.resolve()}): {tshoot / 1024:6.2f} KB/s")
    if htop is not None:
        print(f"htop {htop_version()} -d 10:{'':>{max(0, len(str(args.tree.resolve())) - 10)}} {htop / 1024:6.2f} KB/s"
              f"   (tshoot / htop = {tshoot / htop:.1f}x)")


if __name__ == "__main__":
    main()
