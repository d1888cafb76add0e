"""RLocks re-entered by their owner (fine), then taken in opposite orders by two threads (deadlock)."""
import threading
import time

both_hold_one = threading.Barrier(2)


def nested_update(mine, theirs):
    with mine:
        with mine:  # re-entering an RLock does not block
            both_hold_one.wait()
            with theirs:  # waits: the other thread owns it
                pass


first, second = threading.RLock(), threading.RLock()
threads = [threading.Thread(target=nested_update, args=(first, second), name="rlock-a"),
           threading.Thread(target=nested_update, args=(second, first), name="rlock-b")]
for thread in threads:
    thread.start()
time.sleep(0.3)
print("ready", flush=True)
for thread in threads:
    thread.join()
