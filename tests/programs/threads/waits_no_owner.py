"""Threads that wait without anyone owning what they wait for: Condition, queue, Event, join, sleep, socket."""
import queue
import socket
import threading
import time

condition = threading.Condition()
jobs = queue.Queue()
stop = threading.Event()
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen()


def wait_for_signal():
    with condition:
        condition.wait()


def take_job():
    jobs.get()


def accept_client():
    listener.accept()


def nap():
    api_token = "tok-hunter2-secret"  # a secret in locals: must be masked in every record
    time.sleep(600 + len(api_token))


targets = {"cond-waiter": wait_for_signal, "queue-consumer": take_job, "event-waiter": stop.wait,
           "socket-acceptor": accept_client, "sleeper": nap}
threads = [threading.Thread(target=target, name=name, daemon=True) for name, target in targets.items()]
for thread in threads:
    thread.start()
joiner = threading.Thread(target=threads[0].join, name="joiner", daemon=True)
joiner.start()
time.sleep(0.3)
print("ready", flush=True)
joiner.join()
