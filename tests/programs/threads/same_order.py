"""Busy threads that always take the two locks in the same order: never a deadlock."""
import threading
import time

FIRST = threading.Lock()
SECOND = threading.Lock()


def work(counter):
    while True:
        with FIRST:
            with SECOND:
                counter[0] += 1
            sum(range(200))


threads = [threading.Thread(target=work, args=([0],), name=f"busy-{i}", daemon=True) for i in range(4)]
for thread in threads:
    thread.start()
time.sleep(0.3)
print("ready", flush=True)
threads[0].join()
