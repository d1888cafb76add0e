"""Healthy controls: an idle executor, an idle asyncio loop and a worker busy on CPU. Nothing is stuck."""
import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="idle")
pool.submit(lambda: None).result()
pool.submit(lambda: None).result()


def crunch():
    total = 0
    while True:
        total = (total + 1) % 1000003


async def serve() -> None:
    print("ready", flush=True)
    await asyncio.sleep(600)


threading.Thread(target=crunch, name="cruncher", daemon=True).start()
time.sleep(0.2)
asyncio.run(serve())
