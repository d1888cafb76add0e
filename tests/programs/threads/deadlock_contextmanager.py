"""A connection pool whose checkout() is a @contextmanager that holds the pool lock across its yield.

"report" checks a connection out (holding the pool lock inside the generator, which is on no stack while
the `with` block runs) and then wants the cache lock; "refresh" holds the cache lock and wants a connection.
"""
import threading
import time
from contextlib import contextmanager


class Pool:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.connections = ["conn-1"]

    @contextmanager
    def checkout(self):
        with self.lock:
            yield self.connections[0]


class Cache:
    def __init__(self) -> None:
        self._lock = threading.Lock()


def report(pool: Pool, cache: Cache) -> None:
    with pool.checkout() as conn:
        checked_out.set()
        cache_held.wait()
        with cache._lock:  # waits: refresh holds it
            print(conn)


def refresh(pool: Pool, cache: Cache) -> None:
    with cache._lock:
        cache_held.set()
        checked_out.wait()
        with pool.checkout():  # waits inside checkout() for the pool lock: report holds it
            pass


checked_out, cache_held = threading.Event(), threading.Event()
pool, cache = Pool(), Cache()
threading.Thread(target=report, args=(pool, cache), name="report", daemon=True).start()
threading.Thread(target=refresh, args=(pool, cache), name="refresh", daemon=True).start()
time.sleep(0.5)
print("ready", flush=True)
time.sleep(600)
