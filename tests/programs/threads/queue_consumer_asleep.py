"""An uploader retries one failed upload every second, forever, while the uploads queue it drains fills up: the
submitters block in put(). A back-off of seconds is not progress (a loop pacing itself per item sleeps far
less). The queue is passed around as an argument, so its address matches producer and consumer."""
import queue
import threading
import time


def upload(item):
    return False  # the storage endpoint refuses every upload


def upload_all(uploads):
    while True:
        item = uploads.get()
        while not upload(item):
            time.sleep(1.0)  # back off before retrying: nothing is taken meanwhile


def submit(uploads, number):
    while True:
        uploads.put(f"file {number}")
        time.sleep(0.01)


uploads = queue.Queue(maxsize=4)
threading.Thread(target=upload_all, args=(uploads,), name="uploader", daemon=True).start()
for number in range(2):
    threading.Thread(target=submit, args=(uploads, number), name=f"submitter-{number}", daemon=True).start()
while uploads.qsize() < uploads.maxsize:
    time.sleep(0.05)
time.sleep(0.3)
print("ready", flush=True)
time.sleep(600)
