"""A worker took the registry lock and died on an error before releasing it; later callers wait forever."""
import threading
import time

REGISTRY_LOCK = threading.Lock()


def register_broken():
    REGISTRY_LOCK.acquire()
    raise RuntimeError("bad plugin")  # the release below is never reached


def lookup():
    with REGISTRY_LOCK:
        pass


threading.excepthook = lambda args: None  # keep the test output quiet
crashed = threading.Thread(target=register_broken, name="plugin-loader")
crashed.start()
crashed.join()
waiters = [threading.Thread(target=lookup, name=f"lookup-{i}", daemon=True) for i in range(2)]
for waiter in waiters:
    waiter.start()
time.sleep(0.3)
print("ready", flush=True)
time.sleep(600)
