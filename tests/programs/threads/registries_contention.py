"""Two registries of one class, each with its own `_lock` and its own exporter: two locks, never one.

Each exporter holds its registry's lock (as `self.registry._lock`) while it waits on a slow push; a worker
of each registry queues for that registry's lock (as `self._lock`). Two separate contentions, no deadlock.
"""
import threading
import time


class Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, int] = {}

    def inc(self, name: str) -> None:
        with self._lock:  # each worker waits here for its own registry's exporter
            self._counters[name] = self._counters.get(name, 0) + 1


class Exporter:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def push(self, started: threading.Event) -> None:
        with self.registry._lock:
            started.set()
            time.sleep(600)  # a push that never returns, with the registry locked


for name in ("requests", "jobs"):
    registry, started = Registry(), threading.Event()
    threading.Thread(target=Exporter(registry).push, args=(started,), name=f"export-{name}", daemon=True).start()
    started.wait()
    threading.Thread(target=registry.inc, args=(name,), name=f"count-{name}", daemon=True).start()
time.sleep(0.5)
print("ready", flush=True)
time.sleep(600)
