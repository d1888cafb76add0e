"""A config store whose change notifications use a Condition built on the store's own lock.

A watcher waits for a change that never comes. The reloader takes the store's lock and hangs reading the
config server's socket; a reader then blocks entering the Condition, which is the same lock: it waits for
the reloader, it is not a lock nobody holds.
"""
import socket
import threading
import time

config_server, config_client = socket.socketpair()  # the config server never answers


class ConfigStore:
    def __init__(self):
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.settings = {"pool_size": 5}

    def wait_for_change(self):
        with self._changed:
            self._changed.wait()

    def reload(self):
        with self._lock:
            self.settings = {"raw": config_client.recv(4096)}

    def get(self, key):
        with self._changed:
            return self.settings.get(key)


store = ConfigStore()
threading.Thread(target=store.wait_for_change, name="watcher", daemon=True).start()
time.sleep(0.1)
threading.Thread(target=store.reload, name="reloader", daemon=True).start()
time.sleep(0.1)
threading.Thread(target=store.get, args=("pool_size",), name="reader", daemon=True).start()
time.sleep(0.3)
print("ready", flush=True)
time.sleep(600)
