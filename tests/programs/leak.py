"""Leaks about 20 MB/s until killed (bounded at 600 MB), touching every page so RSS really grows."""
import sys
import time

hoard = []
print("ready", flush=True)
while len(hoard) < 600:
    hoard.append(bytearray(b"x" * (1 << 20)))
    time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0.05)
time.sleep(3600)
