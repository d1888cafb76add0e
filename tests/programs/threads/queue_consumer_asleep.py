"""An uploader backs off for an hour after one failed upload while the uploads queue it drains fills up: the
submitters block in put(). The queue is passed around as an argument, so its address matches producer and consumer."""
import queue
import threading
import time


def upload_all(uploads):
    while True:
        item = uploads.get()
        if item == "fails":
            time.sleep(3600)  # back off before retrying: nothing is taken meanwhile


def submit(uploads, number):
    while True:
        uploads.put(f"file {number}")
        time.sleep(0.01)


uploads = queue.Queue(maxsize=4)
uploads.put("fails")
threading.Thread(target=upload_all, args=(uploads,), name="uploader", daemon=True).start()
for number in range(2):
    threading.Thread(target=submit, args=(uploads, number), name=f"submitter-{number}", daemon=True).start()
while uploads.qsize() < uploads.maxsize:
    time.sleep(0.05)
time.sleep(0.3)
print("ready", flush=True)
time.sleep(600)
