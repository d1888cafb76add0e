"""A ring of three transfers between accounts, each locking its own account then the next one."""
import threading
import time

all_hold_one = threading.Barrier(3)


class Account:
    def __init__(self, name):
        self.name = name
        self._lock = threading.Lock()

    def transfer_to(self, other):
        self._lock.acquire()
        try:
            all_hold_one.wait()
            other._lock.acquire()  # waits for the next account in the ring
            try:
                pass
            finally:
                other._lock.release()
        finally:
            self._lock.release()


accounts = [Account("a"), Account("b"), Account("c")]
threads = [threading.Thread(target=accounts[i].transfer_to, args=(accounts[(i + 1) % 3],), name=f"transfer-{i}")
           for i in range(3)]
for thread in threads:
    thread.start()
time.sleep(0.3)
print("ready", flush=True)
for thread in threads:
    thread.join()
