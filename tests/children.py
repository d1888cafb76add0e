"""Child processes that tests read through /proc, handed back only once they run their own program.

`Popen` returns while the child is still inside `execve`: until the kernel has laid out the new
program's stack, /proc/PID/cmdline and /proc/PID/environ are empty or still the parent's (measured
empty in 586 of 2000 spawns). A test that reads them right away is flaky, so children say when they
are ready: a Python child prints `ready`, and a program that cannot speak (`sleep`) is ready when the
kernel shows its own argv — cmdline and environ are published together at the end of exec.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

READY = "print('ready', flush=True)"


def python_child(code: str, *args: str, python: str = sys.executable, **popen) -> subprocess.Popen:
    """`python -c CODE ARGS...` (this interpreter unless told), returned after it printed `ready` (CODE must
    print it, e.g. with READY)."""
    child = subprocess.Popen([python, "-c", code, *args], stdout=subprocess.PIPE, text=True, **popen)
    line = child.stdout.readline().strip()
    if line != "ready":
        child.kill()
        child.wait()
        raise AssertionError(f"child did not say it was ready: {line!r}")
    return child


def program_child(argv: list[str], timeout: float = 10, **popen) -> subprocess.Popen:
    """`argv` (a program that prints nothing, like `sleep`), returned once /proc shows it running."""
    child = subprocess.Popen(argv, **popen)
    env = popen.get("env", os.environ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{child.pid}/cmdline", "rb") as f:
                shown = f.read().split(b"\0")[:-1]
            with open(f"/proc/{child.pid}/environ", "rb") as f:
                environ = f.read()
        except OSError:
            break
        if shown == [os.fsencode(arg) for arg in argv] and (environ or not env):
            return child
        time.sleep(0.005)
    child.kill()
    child.wait()
    raise AssertionError(f"{argv} never showed as running in /proc")
