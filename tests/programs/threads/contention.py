"""One thread keeps a lock while it sleeps; two others queue for it. Contention, not a deadlock."""
import threading
import time

CACHE_LOCK = threading.Lock()
holding = threading.Event()


def slow_refresh():
    with CACHE_LOCK:
        holding.set()
        time.sleep(600)  # holds the lock for a long time


def read_cache():
    with CACHE_LOCK:  # waits for slow_refresh
        pass


holder = threading.Thread(target=slow_refresh, name="cache-refresher", daemon=True)
holder.start()
holding.wait()
readers = [threading.Thread(target=read_cache, name=f"cache-reader-{i}", daemon=True) for i in range(2)]
for reader in readers:
    reader.start()
time.sleep(0.3)
print("ready", flush=True)
holder.join()
