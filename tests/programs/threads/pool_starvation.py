"""Every executor worker runs a request that waits for a sub-task queued behind it: pool starvation."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="render")
started = threading.Barrier(3)


def fetch_fragment(name: str) -> str:
    return f"<div>{name}</div>"


def render_page(page: str) -> str:
    started.wait()
    header = pool.submit(fetch_fragment, page + "-header")  # queued behind the requests holding every worker
    return header.result()  # waits forever: no worker is free to run it


requests = [pool.submit(render_page, f"page-{i}") for i in range(2)]
started.wait()
time.sleep(0.3)
print("ready", flush=True)
time.sleep(600)
