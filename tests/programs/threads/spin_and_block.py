"""Two threads stuck on the same line for good, one blocked and one spinning.

The exporter waits for the batch lock that the main thread keeps while it sleeps; the poller busy-waits on
a flag that nobody sets. Both stacks stand still; only the poller's CPU time moves.
"""
import threading
import time

BATCH_LOCK = threading.Lock()
state = {"ready": False}


def export_batch():
    with BATCH_LOCK:
        pass


def poll_until_ready():
    while not state["ready"]: pass  # noqa: E701  (one line: its stack is the same in every dump)


BATCH_LOCK.acquire()
threading.Thread(target=export_batch, name="exporter", daemon=True).start()
threading.Thread(target=poll_until_ready, name="poller", daemon=True).start()
time.sleep(0.3)
print("ready", flush=True)
time.sleep(600)
