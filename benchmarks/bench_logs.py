"""The Logs analysis path on a log growing at 5,000 lines/s: CPU of a core and memory.

Run: .venv/bin/python benchmarks/bench_logs.py [--rate 5000] [--seconds 60]
Goal (issue 15): classify + EventJoiner + Clusterer + AccessMeter keep up with 5,000 lines/s under 15% of a core,
with bounded memory.

A child process appends a realistic mix to a temp file at the rate (application lines of a dozen kinds with
varying values, nginx access lines with rt=, PostgreSQL lines, and a Python traceback now and then). This process
tails the file every 0.5 s and runs every line through the analysis, and every 2 s asks for what a poll shows
(clusters, access stats, findings). Two runs: the first measures CPU (this process's user+system time; the writer
is another process), the second memory with tracemalloc on (it slows Python down, so it is not timed).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tui.config import Thresholds  # noqa: E402
from tui.logs.analysis import AccessMeter, Clusterer, findings  # noqa: E402
from tui.logs.parse import EventJoiner, classify  # noqa: E402
from tui.logs.records import LogLine, LogsSection  # noqa: E402

POLL_S = 2.0
READ_S = 0.5
KEPT_LINES = 10_000  # the newest lines a section carries (the Logs source's cap)

TRACEBACK = """Traceback (most recent call last):
  File "/srv/app/views.py", line 88, in create_order
    order = service.place(cart, user)
  File "/srv/app/service.py", line 41, in place
    raise PaymentError(f"card declined for order {order_id}")
app.errors.PaymentError: card declined for order {order_id}"""


def line(rng: random.Random, now: float) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)) + f",{int(now * 1000) % 1000:03d}"
    clf = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))
    kind = rng.randrange(20)
    if kind < 8:
        status = rng.choice((200, 200, 200, 200, 201, 304, 404, 500))
        return (f'10.0.{rng.randrange(256)}.{rng.randrange(256)} - - [{clf}] "GET /api/orders/{rng.randrange(10**6)}'
                f'?page={rng.randrange(9)} HTTP/1.1" {status} {rng.randrange(9999)} "-" "Mozilla/5.0" '
                f"rt={rng.random() / 4:.3f} urt={rng.random() / 5:.3f}")
    if kind < 12:
        return (f"{stamp} INFO [{rng.randrange(100, 200)}] app.{rng.choice(('web', 'jobs', 'cache'))}: "
                f"{rng.choice(('served', 'queued', 'refreshed'))} item {rng.getrandbits(40):x} in "
                f"{rng.randrange(999)}ms for user {rng.randrange(10**5)}")
    if kind < 14:
        return (f"{stamp[:-4]}.{int(now * 1000) % 1000:03d} UTC [{rng.randrange(1000, 9000)}] LOG:  duration: "
                f"{rng.random() * 50:.3f} ms  statement: SELECT * FROM orders WHERE id = {rng.randrange(10**6)}")
    if kind < 16:
        return (f"{stamp} WARNING [{rng.randrange(100, 200)}] app.pool: pool at {rng.randrange(50, 99)}% "
                f"({rng.randrange(5, 20)} of 20) on 10.0.0.{rng.randrange(255)}:5432")
    if kind < 18:
        return f"{stamp} DEBUG [{rng.randrange(100, 200)}] app.cache: miss for /srv/cache/{rng.getrandbits(32):08x}.json"
    if kind < 19:
        return f"{stamp} ERROR [{rng.randrange(100, 200)}] app.web: upstream 10.0.0.{rng.randrange(9)} timed out"
    return (f"{stamp} ERROR [{rng.randrange(100, 200)}] app.web: request failed\n"
            + TRACEBACK.format(order_id=rng.randrange(10**6)))


def write(path: str, rate: int, seconds: float) -> None:
    """The writer child: `rate` lines a second (a traceback counts as one), in 10 ms batches."""
    rng = random.Random(1)
    start = time.monotonic()
    written = 0
    with open(path, "a", buffering=1 << 16) as out:
        while (elapsed := time.monotonic() - start) < seconds:
            due = int(elapsed * rate)
            now = time.time()
            out.write("".join(line(rng, now) + "\n" for _ in range(due - written)))
            out.flush()
            written = due
            time.sleep(0.01)


def analyse(path: str, seconds: float, trace_memory: bool) -> dict[str, float]:
    joiner, clusterer, meter = EventJoiner(), Clusterer(), AccessMeter()
    kept: list[LogLine] = []
    lines = events = 0
    buffer = b""
    if trace_memory:
        tracemalloc.start()
    cpu0, wall0 = time.process_time(), time.monotonic()
    next_poll = wall0 + POLL_S
    found = 0
    with open(path, "rb") as log:
        while time.monotonic() - wall0 < seconds:
            time.sleep(READ_S)
            buffer += log.read()
            *complete, buffer = buffer.split(b"\n")
            read_at = time.time()
            for raw in complete:
                text = raw.decode("utf-8", "replace")
                when, level, pid = classify(text)
                lines += 1
                done = joiner.feed(LogLine("file:app.log", when or read_at, text, level, pid, seq=lines), read_at)
                for event in done:
                    events += 1
                    clusterer.add(event)
                    meter.add(event)
                    kept.append(event)
            for event in joiner.flush(read_at):
                events += 1
                clusterer.add(event)
                meter.add(event)
                kept.append(event)
            del kept[:-KEPT_LINES]
            if time.monotonic() >= next_poll:
                next_poll += POLL_S
                now = time.time()
                section = LogsSection(taken_at=now, lines=list(kept), clusters=clusterer.clusters(now),
                                      access=meter.stats(now))
                found = len(findings(section, Thresholds()))
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    result = {"lines": lines, "events": events, "wall_s": wall, "lines_per_s": lines / wall,
              "cpu_percent": 100 * cpu / wall, "clusters": len(clusterer.clusters(time.time())), "findings": found}
    if trace_memory:
        result["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    result["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def run(rate: int, seconds: float, trace_memory: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "app.log")
        Path(path).touch()
        writer = subprocess.Popen([sys.executable, __file__, "--write", path, "--rate", str(rate),
                                   "--seconds", str(seconds + 2)])
        try:
            return analyse(path, seconds, trace_memory)
        finally:
            writer.kill()
            writer.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--write", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        write(args.write, args.rate, args.seconds)
        return
    for trace_memory in (False, True):
        result = run(args.rate, args.seconds, trace_memory)
        print(("memory run (tracemalloc on, not timed): " if trace_memory else "CPU run: ")
              + ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in result.items()),
              flush=True)


if __name__ == "__main__":
    main()
