"""Containers source cost with many containers, and how fast an engine event reaches the pane.

Run: .venv/bin/python benchmarks/bench_containers.py [--containers 100] [--running 20] [--rounds 20]
Goal (issue 5): with 100 containers (20 running) a refresh costs tshoot under 100 ms, and the pane
shows a state change within a second of the engine's event.

Creates `tshoot-bench-*` containers from the local busybox image and removes them at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tui.config import Config  # noqa: E402
from tui.containers.source import ContainersSource  # noqa: E402

IMAGE = os.environ.get("TSHOOT_TEST_DOCKER_IMAGE", "tshoot-busybox:latest")
PREFIX = "tshoot-bench-"
LOOP = ["sh", "-c", 'trap "exit 0" TERM; while true; do sleep 1; done']


def create(client: docker.DockerClient, total: int, running: int) -> list[str]:
    """`running` containers that keep running, the rest exited (the usual mix on a busy host)."""
    def one(i: int) -> str:
        keep = i < running
        container = client.containers.run(IMAGE, LOOP if keep else ["true"], name=f"{PREFIX}{i:03d}", detach=True)
        return container.id

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, range(total)))


def remove_all(client: docker.DockerClient) -> None:
    for summary in client.api.containers(all=True, filters={"name": PREFIX}):
        client.api.remove_container(summary["Id"], force=True)


def poll_costs(source: ContainersSource, rounds: int) -> tuple[list[float], list[float]]:
    """Wall and CPU (this process, all threads) time of steady-state polls, as the app runs them."""
    walls, cpus = [], []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        source.collect()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        time.sleep(0.2)
    return walls, cpus


def headless_latency(client: docker.DockerClient, source: ContainersSource, container_id: str, rounds: int) -> list[float]:
    """From the engine's `die` event time to a collected section showing `exited`, polling on each event."""
    changed = threading.Event()
    source.set_change_listener(changed.set)
    latencies = []
    for _ in range(rounds):
        changed.clear()
        client.api.kill(container_id)
        killed_at = _die_time(client, container_id)
        while True:
            changed.wait(5)
            changed.clear()
            record = next(r for r in source.collect().containers if r.id == container_id)
            if record.state == "exited":
                latencies.append(time.time() - killed_at)
                break
        client.api.start(container_id)
        source.collect()
    source.set_change_listener(None)
    return latencies


def _die_time(client: docker.DockerClient, container_id: str) -> float:
    """The engine's own timestamp of the container's death (FinishedAt), once it is set."""
    from tui.containers.analysis import _unix_time

    while True:
        state = client.api.inspect_container(container_id)["State"]
        if not state["Running"]:
            return _unix_time(state["FinishedAt"])
        time.sleep(0.005)


async def pane_latency(client: docker.DockerClient, container_id: str, rounds: int) -> list[float]:
    """The same through the real app: from the engine's death time to the table cell saying `exited`."""
    from tui.app import TshootApp
    from widgets.keyed_table import KeyedTable

    app = TshootApp(Config(interval=30.0), sources=[ContainersSource(Config())])  # ticks too slow to matter
    latencies = []
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("4")
        table = app.query_one("#ct-table", KeyedTable)

        def state() -> str:
            try:
                return str(table.get_cell(container_id, "state"))
            except Exception:  # row not there yet
                return ""

        async def until(wanted: str) -> None:
            while state() != wanted:
                await pilot.pause(0.01)

        await until("running")
        for _ in range(rounds):
            client.api.kill(container_id)
            await until("exited")
            latencies.append(time.time() - _die_time(client, container_id))
            client.api.start(container_id)
            await until("running")
    return latencies


def summary(label: str, values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return f"{label:<44} median {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms   max {ms[-1]:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--containers", type=int, default=100)
    parser.add_argument("--running", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    client = docker.from_env(timeout=30)
    remove_all(client)
    try:
        started = time.perf_counter()
        ids = create(client, args.containers, args.running)
        print(f"created {args.containers} containers ({args.running} running) in {time.perf_counter() - started:.1f}s")

        source = ContainersSource(Config())
        wall = time.perf_counter()
        source.collect()
        print(summary("first poll (full inspect of every container)", [time.perf_counter() - wall]))
        walls, cpus = poll_costs(source, args.rounds)
        print(summary("steady poll, wall time", walls))
        print(summary("steady poll, CPU time of tshoot", cpus))
        source._last_full_sync = 0.0  # force the periodic re-list (list + diff, no re-inspect)
        wall = time.perf_counter()
        source.collect()
        print(summary("poll with the periodic re-list", [time.perf_counter() - wall]))

        one = ids[0]
        running = ids[:args.running]
        wall = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda cid: client.api.stats(cid, stream=False, one_shot=True), running))
        print(f"stats API, one-shot, all {len(running)} running containers, 8 in parallel: "
              f"{(time.perf_counter() - wall) * 1000:.0f} ms")
        wall = time.perf_counter()
        client.api.stats(one, stream=False)
        print(f"stats API, classic stream=False, one container: {(time.perf_counter() - wall) * 1000:.0f} ms")

        print(summary("engine event -> collected section (headless)", headless_latency(client, source, one, 5)))
        source.close()
        print(summary("engine event -> pane table shows it (app)", asyncio.run(pane_latency(client, one, 5))))
    finally:
        remove_all(client)
        client.close()


if __name__ == "__main__":
    main()
