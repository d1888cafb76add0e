"""The classic two-lock deadlock, with the inner lock taken by a one-line `with b: pass`."""
import threading
import time

a, b = threading.Lock(), threading.Lock()
both = threading.Barrier(2)


def first():
    with a:
        both.wait()
        with b: pass  # noqa: E701


def second():
    with b:
        both.wait()
        with a: pass  # noqa: E701


threading.Thread(target=first, name="w1", daemon=True).start()
threading.Thread(target=second, name="w2", daemon=True).start()
time.sleep(0.5)
print("ready", flush=True)
time.sleep(600)
