"""A module-level connection pool whose checkout() is a @contextmanager holding the pool lock across its yield.

"order-handler" checks a connection out through the module global `pool` (no local names it, so its address
is unknown there) and then wants the cache lock; "cache-refresher" holds the cache lock and waits inside
checkout() for `self.lock`, whose object is read from memory.
"""
import contextlib
import threading
import time


class Pool:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.connections = ["conn-1", "conn-2"]

    @contextlib.contextmanager
    def checkout(self):
        with self.lock:  # cache-refresher waits here: order-handler holds it through `pool.checkout()`
            connection = self.connections.pop()
            yield connection
            self.connections.append(connection)


def handle_order() -> None:
    with pool.checkout() as connection:
        checked_out.set()
        cache_held.wait()
        with cache_lock:  # order-handler waits here: cache-refresher holds it
            print(connection)


def refresh_cache() -> None:
    with cache_lock:
        cache_held.set()
        checked_out.wait()
        time.sleep(0.1)
        with pool.checkout():
            pass


pool = Pool()
cache_lock = threading.Lock()
checked_out, cache_held = threading.Event(), threading.Event()
threading.Thread(target=handle_order, name="order-handler", daemon=True).start()
threading.Thread(target=refresh_cache, name="cache-refresher", daemon=True).start()
time.sleep(0.5)
print("ready", flush=True)
time.sleep(600)
