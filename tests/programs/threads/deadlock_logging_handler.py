"""A metrics registry whose logging handler counts records: the handler's lock and the registry's lock cross.

"flusher" holds the registry lock and logs (it waits for the handler's lock); "worker" logs, so the logging
module holds the handler's lock while MetricsHandler.emit() waits for the registry lock.
"""
import logging
import threading
import time


class Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}

    def bump(self, name: str) -> None:
        with self._lock:
            self.counts[name] = self.counts.get(name, 0) + 1

    def flush(self) -> None:
        with self._lock:
            flushing.set()
            emitting.wait()
            log.info("flushed %d counters", len(self.counts))  # needs the handler's lock


class MetricsHandler(logging.Handler):
    def __init__(self, registry: Registry) -> None:
        super().__init__()
        self.registry = registry

    def emit(self, record: logging.LogRecord) -> None:
        emitting.set()
        flushing.wait()
        time.sleep(0.1)
        self.registry.bump(record.levelname)  # needs the registry lock


flushing, emitting = threading.Event(), threading.Event()
registry = Registry()
log = logging.getLogger("app")
log.setLevel(logging.INFO)
log.addHandler(MetricsHandler(registry))
log.propagate = False
threading.Thread(target=registry.flush, name="flusher", daemon=True).start()
threading.Thread(target=log.info, args=("request done",), name="worker", daemon=True).start()
time.sleep(0.5)
print("ready", flush=True)
time.sleep(600)
