"""A Python process that exits shortly after it is ready: the dump must say so, not crash."""
import time

print("ready", flush=True)
time.sleep(0.3)
