"""An audit-log shipper: request handlers put records into a bounded queue that one shipper thread drains.

The shipper died on a bad record, so the queue filled up and a handler blocks in put() forever. A stats
thread counts the backlog under the queue's own mutex and then hangs on a socket while holding it, so the
next handler blocks taking the mutex inside put(): that one waits for the stats thread, not for room.
"""
import queue
import socket
import threading
import time

AUDIT = queue.Queue(maxsize=2)
metrics_server, metrics_client = socket.socketpair()  # the metrics endpoint never answers


def ship():
    AUDIT.get()
    raise ValueError("bad record")  # the shipper dies: nobody takes from the queue any more


def handle_request(number):
    AUDIT.put({"request": number, "user": "alice"})


def report_backlog():
    with AUDIT.mutex:
        backlog = len(AUDIT.queue)
        metrics_client.sendall(b"backlog %d\n" % backlog)
        metrics_client.recv(16)  # the acknowledgement never comes


threading.excepthook = lambda args: None  # keep the test output quiet
shipper = threading.Thread(target=ship, name="shipper", daemon=True)
shipper.start()
for number in range(3):
    AUDIT.put({"request": number})
shipper.join()
threading.Thread(target=handle_request, args=(3,), name="handler-full", daemon=True).start()
time.sleep(0.2)
threading.Thread(target=report_backlog, name="stats", daemon=True).start()
time.sleep(0.2)
threading.Thread(target=handle_request, args=(4,), name="handler-mutex", daemon=True).start()
time.sleep(0.3)
print("ready", flush=True)
time.sleep(600)
