"""Healthy controls: a bounded queue kept full by fast producers and drained by a slow but working consumer,
and idle consumers waiting on an empty queue. Nothing is stalled."""
import queue
import threading
import time


def produce(events, number):
    while True:
        events.put(f"event {number}")
        time.sleep(0.05)  # building the next event


def consume(events):
    while True:
        events.get()
        time.sleep(0.03)  # a slow upstream: slower than the producers together, but it answers


def wait_for_jobs(jobs):
    while True:
        jobs.get()


events = queue.Queue(maxsize=5)
jobs = queue.Queue(maxsize=5)  # nobody submits: its consumers are idle
for number in range(3):
    threading.Thread(target=produce, args=(events, number), name=f"producer-{number}", daemon=True).start()
threading.Thread(target=consume, args=(events,), name="slow-consumer", daemon=True).start()
for number in range(2):
    threading.Thread(target=wait_for_jobs, args=(jobs,), name=f"idle-consumer-{number}", daemon=True).start()
while events.qsize() < events.maxsize:
    time.sleep(0.05)
time.sleep(0.3)
print("ready", flush=True)
time.sleep(600)
