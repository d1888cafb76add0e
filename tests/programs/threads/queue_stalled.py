"""A log shipper: request handlers put lines into a bounded queue that one shipper thread sends to a collector.

The collector accepts the connection and never answers, so the shipper blocks in recv(), nobody takes from the
queue any more, it fills up and every handler blocks in put(). No lock cycle: a stalled queue.
"""
import queue
import socket
import threading
import time

collector = socket.socket()  # accepts and never answers
collector.bind(("127.0.0.1", 0))
collector.listen()
outbox = queue.Queue(maxsize=10)


def ship():
    s = socket.create_connection(collector.getsockname())
    while True:
        s.sendall(outbox.get().encode())
        s.recv(16)  # the collector's acknowledgement never comes


def request_handler(i):
    while True:
        outbox.put(f"req {i} done\n")
        time.sleep(0.01)


threading.Thread(target=ship, name="log-shipper", daemon=True).start()
for i in range(3):
    threading.Thread(target=request_handler, args=(i,), name=f"handler-{i}", daemon=True).start()
while outbox.qsize() < outbox.maxsize:
    time.sleep(0.05)
time.sleep(0.3)
print("ready", flush=True)
time.sleep(600)
