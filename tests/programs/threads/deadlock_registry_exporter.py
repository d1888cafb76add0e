"""A metrics registry and its exporter: one lock, reached as `self._lock` and as `self.registry._lock`.

"scrape" renders the metrics: it takes the registry's lock through the exporter (`self.registry._lock`),
then the exporter's buffer lock. "flusher" holds the buffer lock, fails to send, and counts the failure
in the registry (`self._lock` inside Registry.inc): the other order.
"""
import threading
import time


class Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, int] = {}

    def inc(self, name: str) -> None:
        with self._lock:  # flusher waits here: scrape holds it as self.registry._lock
            self._counters[name] = self._counters.get(name, 0) + 1


class Exporter:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._buffer_lock = threading.Lock()
        self._buffer: list[str] = []

    def render(self) -> str:
        with self.registry._lock:
            lines = [f"{name} {value}" for name, value in self.registry._counters.items()]
            rendering.set()
            flushing.wait()
            with self._buffer_lock:  # scrape waits here: flusher holds it
                lines += self._buffer
        return "\n".join(lines)

    def flush(self) -> None:
        with self._buffer_lock:
            flushing.set()
            rendering.wait()
            time.sleep(0.1)
            self.registry.inc("export_failures")  # the send failed: count it


rendering, flushing = threading.Event(), threading.Event()
registry = Registry()
exporter = Exporter(registry)
threading.Thread(target=exporter.render, name="scrape", daemon=True).start()
threading.Thread(target=exporter.flush, name="flusher", daemon=True).start()
time.sleep(0.5)
print("ready", flush=True)
time.sleep(600)
