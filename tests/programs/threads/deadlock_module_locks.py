"""Two threads take two module-level locks in opposite orders: a classic deadlock."""
import threading
import time

ORDERS_LOCK = threading.Lock()
STOCK_LOCK = threading.Lock()
both_hold_one = threading.Barrier(2)


def place_order():
    with ORDERS_LOCK:
        both_hold_one.wait()
        with STOCK_LOCK:  # waits: restock holds STOCK_LOCK
            pass


def restock():
    with STOCK_LOCK:
        both_hold_one.wait()
        with ORDERS_LOCK:  # waits: place_order holds ORDERS_LOCK
            pass


threads = [threading.Thread(target=place_order, name="order-worker"),
           threading.Thread(target=restock, name="restock-worker")]
for thread in threads:
    thread.start()
time.sleep(0.3)
print("ready", flush=True)
for thread in threads:
    thread.join()
