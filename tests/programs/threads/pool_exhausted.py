"""A web app whose request handler leaks connections: two requests took a pooled connection, began a
transaction and never gave it back (idle in transaction); every later request waits in the pool checkout.

Run with the database URL as the first argument (the real PostgreSQL of the tests); with "slow" as the
second, the two requests instead hold their connections running a long query (the pool is too small).
"""
import sys
import threading
import time

from sqlalchemy import create_engine, text

engine = create_engine(sys.argv[1], pool_size=2, max_overflow=0, pool_timeout=600)
leaked = []


def leaky_handler():
    conn = engine.connect()  # checked out ...
    conn.execute(text("SELECT 1"))  # ... a transaction begins (autobegin) ...
    leaked.append(conn)  # ... and the connection is never closed: the pool never gets it back


def slow_handler():
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_sleep(600)"))  # holds its connection, busy, for a long time


def report_handler():
    with engine.connect() as conn:  # waits: both pooled connections are leaked
        conn.execute(text("SELECT 2"))


slow = len(sys.argv) > 2 and sys.argv[2] == "slow"
for _ in range(2):
    if slow:
        threading.Thread(target=slow_handler, daemon=True, name="slow-report").start()
    else:
        leaky_handler()
time.sleep(0.5)
waiters = [threading.Thread(target=report_handler, name=f"request-{i}", daemon=True) for i in range(3)]
for waiter in waiters:
    waiter.start()
time.sleep(0.5)
print("ready", flush=True)
time.sleep(600)
