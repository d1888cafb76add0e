"""Fifty threads of every kind, for the benchmark: a deadlocked pair, lock waiters, sleepers, queue consumers, busy."""
import queue
import sys
import threading
import time

count = int(sys.argv[1]) if len(sys.argv) > 1 else 50
LEFT, RIGHT, SLOW = threading.Lock(), threading.Lock(), threading.Lock()
pair_ready = threading.Barrier(2)
jobs = queue.Queue()


def crossed(first, second):
    with first:
        pair_ready.wait()
        with second:
            pass


def hold_slow():
    with SLOW:
        time.sleep(3600)


def wait_slow():
    with SLOW:
        pass


def busy():
    while True:
        sum(range(1000))
        time.sleep(0.01)


kinds = [wait_slow, lambda: time.sleep(3600), jobs.get, busy]
workers = [threading.Thread(target=crossed, args=(LEFT, RIGHT), name="pair-a"),
           threading.Thread(target=crossed, args=(RIGHT, LEFT), name="pair-b"),
           threading.Thread(target=hold_slow, name="slow-holder")]
workers += [threading.Thread(target=kinds[i % len(kinds)], name=f"worker-{i}") for i in range(count - 4)]
for worker in workers:
    worker.daemon = True
    worker.start()
time.sleep(0.5)
print("ready", flush=True)
time.sleep(3600)
