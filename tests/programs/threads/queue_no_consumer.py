"""A job queue whose only worker died on a bad job: the queue fills up and every submitter blocks in put()."""
import queue
import threading
import time


def work(jobs):
    while True:
        job = jobs.get()
        if job["size"] < 0:
            raise ValueError(f"bad job {job}")  # the worker dies: nobody takes from the queue any more


def submit(jobs, number):
    while True:
        jobs.put({"id": number, "size": 1})
        time.sleep(0.01)


threading.excepthook = lambda args: None  # keep the test output quiet
jobs = queue.Queue(maxsize=5)
jobs.put({"id": -1, "size": -1})
worker = threading.Thread(target=work, args=(jobs,), name="worker", daemon=True)
worker.start()
worker.join()
for number in range(2):
    threading.Thread(target=submit, args=(jobs, number), name=f"submitter-{number}", daemon=True).start()
while jobs.qsize() < jobs.maxsize:
    time.sleep(0.05)
time.sleep(0.3)
print("ready", flush=True)
time.sleep(600)
