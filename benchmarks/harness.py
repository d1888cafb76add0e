"""Benchmark plumbing: idle `sleep` children as load, and programs run in a pty we own.

Every child started here is ended on the way out — on a normal return, an exception, SIGTERM/SIGHUP
(turned into SystemExit so `finally` blocks run) and at interpreter exit (atexit) — because a
benchmark that leaves 5,000 sleepers or a full-screen program behind spoils the next measurement.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import pty
import signal
import struct
import subprocess
import termios
import threading
import time
from dataclasses import dataclass

CLK_TCK = os.sysconf("SC_CLK_TCK")


def exit_cleanly_on_signals() -> None:
    """SIGTERM and SIGHUP raise SystemExit, so try/finally and atexit clean-ups run."""

    def leave(signum: int, _frame) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, leave)
    signal.signal(signal.SIGHUP, leave)


def process_count() -> int:
    return sum(1 for entry in os.listdir("/proc") if entry.isdigit())


class IdleProcesses:
    """`sleep 3600` children in one process group of their own: one killpg ends them all.

    The first child leads the group and is never removed before `stop()`, so the group exists
    for as long as any child is added to it.
    """

    def __init__(self) -> None:
        self._children: list[subprocess.Popen] = []
        atexit.register(self.stop)

    @property
    def count(self) -> int:
        return len(self._children)

    def resize(self, count: int) -> None:
        while len(self._children) < count:
            group = self._children[0].pid if self._children else 0
            self._children.append(
                subprocess.Popen(["sleep", "3600"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, process_group=group)
            )
        while len(self._children) > max(count, 1):
            child = self._children.pop()
            child.kill()
            child.wait()
        if count == 0:
            self.stop()

    def resize_to_total(self, total: int) -> int:
        """Add or remove children so the machine runs about `total` processes; returns the real total."""
        others = process_count() - self.count
        self.resize(max(0, total - others))
        return process_count()

    def stop(self) -> None:
        if not self._children:
            return
        try:
            os.killpg(self._children[0].pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for child in self._children:
            child.kill()  # a child that left the group still goes
            child.wait()
        self._children.clear()


@dataclass
class Usage:
    """What /proc says one process has used so far."""

    at: float  # time.monotonic()
    cpu_s: float  # user + system, including reaped children
    rss: int  # bytes


class TerminalProgram:
    """A full-screen program on a pty of a fixed size, with every byte it writes counted.

    `pty.fork()` gives the child the pty as its controlling terminal; the window size is set in the
    child before exec so the program never sees another size.
    """

    def __init__(self, argv: list[str], size: tuple[int, int], env: dict[str, str], marker: bytes) -> None:
        columns, rows = size
        self.marker = marker
        self.bytes_written = 0
        self.first_paint_s: float | None = None  # exec -> marker seen in the output
        self._painted = threading.Event()
        self._tail = b""
        self.started = time.monotonic()
        pid, fd = pty.fork()
        if pid == 0:  # the child: set the size, become the program
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
                os.execvpe(argv[0], argv, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self._reader = threading.Thread(target=self._read, name=f"pty-{pid}", daemon=True)
        self._reader.start()
        atexit.register(self.stop)

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # EIO: the program has gone and the pty is closed
                return
            if not chunk:
                return
            self.bytes_written += len(chunk)
            if self.first_paint_s is None:
                seen = self._tail + chunk
                if self.marker in seen:
                    self.first_paint_s = time.monotonic() - self.started
                    self._painted.set()
                self._tail = seen[-len(self.marker):]

    def wait_painted(self, timeout: float) -> float:
        if not self._painted.wait(timeout):
            raise RuntimeError(f"no {self.marker!r} on screen within {timeout:.0f} s")
        return self.first_paint_s

    def usage(self) -> Usage:
        with open(f"/proc/{self.pid}/stat", "rb") as f:
            stat = f.read()
        fields = stat[stat.rfind(b")") + 2:].split()
        ticks = sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
        with open(f"/proc/{self.pid}/statm", "rb") as f:
            rss_pages = int(f.read().split()[1])
        return Usage(time.monotonic(), ticks / CLK_TCK, rss_pages * os.sysconf("SC_PAGE_SIZE"))

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def stop(self, quit_keys: bytes = b"q", grace_s: float = 5.0) -> None:
        """Ask the program to quit as a user would; kill its session if it does not."""
        if self.pid is None:
            return
        pid, self.pid = self.pid, None
        try:
            os.write(self.fd, quit_keys)
        except OSError:
            pass
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            if os.waitpid(pid, os.WNOHANG)[0]:
                break
            time.sleep(0.05)
        else:
            try:
                os.killpg(pid, signal.SIGKILL)  # pty.fork() made it a session and group leader
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
        self._reader.join(timeout=2)
        os.close(self.fd)
