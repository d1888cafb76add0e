"""The same function gets two locks as arguments, in opposite orders from two threads."""
import threading
import time

both_hold_one = threading.Barrier(2)


def copy_between(first, second):
    with first:
        both_hold_one.wait()
        with second:  # waits for the other thread's `first`
            pass


left, right = threading.Lock(), threading.Lock()
threads = [threading.Thread(target=copy_between, args=(left, right), name="copy-left-right"),
           threading.Thread(target=copy_between, args=(right, left), name="copy-right-left")]
for thread in threads:
    thread.start()
time.sleep(0.3)
print("ready", flush=True)
for thread in threads:
    thread.join()
