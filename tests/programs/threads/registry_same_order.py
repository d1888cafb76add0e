"""Busy threads that take a registry's lock, then its exporter's buffer lock, under either name: never a deadlock.

"scrape-*" go through the exporter (`self.registry._lock`, then `self._buffer_lock`); "count-*" through the
registry (`self._lock`, then the exporter's `on_change` takes `self._buffer_lock`). One order everywhere.
"""
import threading
import time


class Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, int] = {}
        self.exporter: "Exporter | None" = None

    def inc(self, name: str) -> None:
        with self._lock:
            self._counters[name] = self._counters.get(name, 0) + 1
            self.exporter.on_change(name)


class Exporter:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._buffer_lock = threading.Lock()
        self._changed: set[str] = set()

    def render(self) -> int:
        with self.registry._lock:
            with self._buffer_lock:
                self._changed.clear()
                return len(self.registry._counters)

    def on_change(self, name: str) -> None:
        with self._buffer_lock:
            self._changed.add(name)


def scrape(exporter: Exporter) -> None:
    while True:
        exporter.render()
        sum(range(200))


def count(registry: Registry) -> None:
    while True:
        registry.inc("requests")
        sum(range(200))


registry = Registry()
registry.exporter = exporter = Exporter(registry)
threads = [threading.Thread(target=scrape, args=(exporter,), name=f"scrape-{i}", daemon=True) for i in range(2)]
threads += [threading.Thread(target=count, args=(registry,), name=f"count-{i}", daemon=True) for i in range(2)]
for thread in threads:
    thread.start()
time.sleep(0.3)
print("ready", flush=True)
threads[0].join()
