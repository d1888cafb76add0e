"""A session store whose expiry takes its lock through a local alias (`lock = self._lock; with lock:`).

"expirer" holds the store lock under the name `lock` and wants the audit lock; "auditor" holds the audit lock
and wants `self._lock`: the same lock object, named two ways.
"""
import threading
import time


class SessionStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.audit_lock = threading.Lock()
        self.sessions: dict[str, float] = {}

    def expire(self) -> None:
        lock = self._lock
        with lock:
            expiring.set()
            auditing.wait()
            with self.audit_lock:  # expirer waits here: auditor holds it
                self.sessions.clear()

    def audit(self) -> None:
        with self.audit_lock:
            auditing.set()
            expiring.wait()
            time.sleep(0.1)
            with self._lock:  # auditor waits here: expirer holds it as `lock`
                print(len(self.sessions))


expiring, auditing = threading.Event(), threading.Event()
store = SessionStore()
threading.Thread(target=store.expire, name="expirer", daemon=True).start()
threading.Thread(target=store.audit, name="auditor", daemon=True).start()
time.sleep(0.5)
print("ready", flush=True)
time.sleep(600)
