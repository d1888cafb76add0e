"""The processes collector: one psutil pass per poll, plus per-pid history for trends.

Costs matter here (tshoot must be light on a sick server; see docs/performance.md): one read of
/proc/<pid>/stat per process per poll with os.open/os.read (half the cost of open()), CPU% from tick
deltas we keep ourselves, owner and command line read once per process (again only when exec()
changes its name), user names cached by uid, and the listening-socket table refreshed every few polls.
"""

from __future__ import annotations

import os
import pwd
import signal
import socket
import statistics
import sys
import time
from collections import deque
from dataclasses import dataclass, field

import psutil

from tui.actions import VERIFY_S, Verified, watch_for_effect
from tui.processes.records import (
    ListeningPort,
    ProcessDetail,
    ProcessesSection,
    ProcessRow,
    SystemSummary,
    Trend,
)
from tui.procfs import CLK_TCK, StatFiles, cpu_percent, cpu_ticks, read_small, split_stat
from tui.redact import redact_mapping, redact_text

HISTORY_LEN = 60  # samples per pid: the trend window (two minutes at the default 2 s interval)
LONG_STEP_S = 30.0  # one RSS sample per pid this often for the long window ...
LONG_LEN = 60  # ... of this many samples (30 minutes): slow leaks in big processes
LISTEN_EVERY = 5  # polls between refreshes of the listening-socket table
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
_STATES = {
    b"R": psutil.STATUS_RUNNING, b"S": psutil.STATUS_SLEEPING, b"D": psutil.STATUS_DISK_SLEEP,
    b"Z": psutil.STATUS_ZOMBIE, b"T": psutil.STATUS_STOPPED, b"t": psutil.STATUS_TRACING_STOP,
    b"X": psutil.STATUS_DEAD, b"I": psutil.STATUS_IDLE, b"P": psutil.STATUS_PARKED, b"W": psutil.STATUS_WAKING,
}


@dataclass
class _PidHistory:
    """Sliding window of samples for one process, with running sums so a trend costs O(1) per poll."""

    start_ticks: int  # field 22 of /proc/<pid>/stat: with the pid, identifies the process
    started: float
    raw_name: bytes  # changes when the process exec()s another program: its command line is read again
    name: str
    user: str
    cmdline: str
    cmdline_denied: bool
    t0: float
    times: deque = field(default_factory=lambda: deque(maxlen=HISTORY_LEN))
    rss: deque = field(default_factory=lambda: deque(maxlen=HISTORY_LEN))
    cpu: deque = field(default_factory=lambda: deque(maxlen=HISTORY_LEN))
    rising: deque = field(default_factory=lambda: deque(maxlen=HISTORY_LEN - 1))
    sums: list = field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0])  # Σx, Σy, Σxx, Σxy over the window
    rising_count: int = 0  # sum(rising), kept as samples come and go
    last_ticks: int = 0
    d_streak: int = 0
    last_stat: bytes = b""
    still_polls: int = 0  # consecutive polls whose stat line was byte-for-byte the one before
    last_row: ProcessRow | None = None
    long_times: deque = field(default_factory=lambda: deque(maxlen=LONG_LEN))
    long_rss: deque = field(default_factory=lambda: deque(maxlen=LONG_LEN))
    long_fit: tuple[float, float] = (0.0, 0.0)  # (slope MB/min, rising fraction), refit when a long sample lands

    def settled(self) -> bool:
        """Unchanged for a whole window (no CPU, same RSS and state): its row and trend cannot change either."""
        return self.still_polls >= HISTORY_LEN and self.d_streak == 0

    def catch_up(self, poll_times: deque) -> None:
        """Add the samples skipped while settled: each equals the last one recorded."""
        if self.times and poll_times and self.times[-1] < poll_times[-1]:
            last_t, rss = self.times[-1], self.rss[-1]
            for t in poll_times:
                if t > last_t:
                    self.add(t, rss, 0.0)

    def add(self, t: float, rss: int, cpu: float | None) -> None:
        if len(self.times) == HISTORY_LEN:  # the oldest sample leaves the regression
            self._account(self.times[0], self.rss[0], -1)
        if self.rss:
            if len(self.rising) == self.rising.maxlen:
                self.rising_count -= self.rising[0]
            step_up = rss >= self.rss[-1]
            self.rising.append(step_up)
            self.rising_count += step_up
        self.times.append(t)
        self.rss.append(rss)
        if cpu is not None:
            self.cpu.append(cpu)
        self._account(t, rss, +1)
        if not self.long_times or t - self.long_times[-1] >= LONG_STEP_S:
            self.long_times.append(t)
            self.long_rss.append(rss)
            self.long_fit = _fit(self.long_times, self.long_rss)  # every LONG_STEP_S only: O(LONG_LEN) is cheap

    def _account(self, t: float, rss: int, sign: int) -> None:
        x, y = t - self.t0, rss / 2**20
        s = self.sums
        s[0] += sign * x
        s[1] += sign * y
        s[2] += sign * x * x
        s[3] += sign * x * y

    def trend(self) -> Trend:
        n = len(self.times)
        sx, sy, sxx, sxy = self.sums
        var = n * sxx - sx * sx
        slope = (n * sxy - sx * sy) / var if n > 1 and var > 1e-9 else 0.0  # MB per second
        return Trend(
            samples=n,
            window_s=round(self.times[-1] - self.times[0], 2),
            rss_first=self.rss[0],
            rss_slope_mb_per_min=round(slope * 60, 3),
            rss_rising_fraction=round(self.rising_count / len(self.rising), 2) if self.rising else 0.0,
            cpu_min_percent=round(min(self.cpu), 1) if self.cpu else 0.0,
            cpu_median_percent=round(statistics.median(self.cpu), 1) if self.cpu else 0.0,
            d_state_samples=self.d_streak,
            long_samples=len(self.long_times),
            long_window_s=round(self.long_times[-1] - self.long_times[0], 1),
            long_rss_first=self.long_rss[0],
            long_rss_slope_mb_per_min=round(self.long_fit[0], 3),
            long_rss_rising_fraction=self.long_fit[1],
        )


def _fit(times: deque, rss: deque) -> tuple[float, float]:
    """Least-squares RSS slope in MB/min and the share of steps that did not shrink."""
    n = len(times)
    if n < 2:
        return 0.0, 0.0
    t0 = times[0]
    xs = [t - t0 for t in times]
    ys = [r / 2**20 for r in rss]
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    var = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / var if var > 1e-9 else 0.0
    steps = list(zip(rss, list(rss)[1:]))
    rising = sum(1 for a, b in steps if b >= a) / len(steps)
    return slope * 60, round(rising, 2)


class ProcessCollector:
    """Reads /proc/<pid>/stat once per process per poll (as htop does); psutil for the system-wide figures.

    Command line and owner are read when a process first appears (and the command line again when
    exec() changes the name); everything else comes from the one stat line. A process whose stat line
    has not changed for a whole window (most of a server's processes, idle) keeps its last row: no
    parsing, trend or record per poll; its skipped samples are filled in when it changes again.
    """

    def __init__(self) -> None:
        self._history: dict[int, _PidHistory] = {}
        self._users: dict[int, str] = {}
        self._prev_counters: tuple[float, dict] | None = None
        self._listening: list[ListeningPort] = []
        self._listening_age: int | None = None  # polls since the listening sockets were read (None: never)
        self._ports = ListeningSockets()
        self._poll_times: deque[float] = deque(maxlen=HISTORY_LEN)
        self._stat_files = StatFiles()
        self._mem_total = psutil.virtual_memory().total
        self._boot_time = psutil.boot_time()
        psutil.cpu_percent(percpu=True)  # prime the system counters

    def poll(self, listening: bool = True) -> ProcessesSection:
        """`listening=False` leaves the listening sockets (finding their owners reads every process's
        file descriptors) to the next poll: the UI's first poll does, for its first paint."""
        now = time.time()
        rows = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and (row := self._row(int(entry), now)):
                rows.append(row)
        live = {row.pid for row in rows}
        for gone in self._history.keys() - live:
            del self._history[gone]
        self._stat_files.keep_only(live)
        if listening and (self._listening_age is None or self._listening_age >= LISTEN_EVERY - 1):
            self._listening = self._ports.poll({row.pid: row.name for row in rows})
            self._listening_age = 0
        elif self._listening_age is not None:
            self._listening_age += 1
        self._poll_times.append(now)
        notes = []
        if os.geteuid() != 0:
            notes.append(
                "Not running as root: other users' environments, open files and socket owners are hidden "
                "(shown as '-'); run `sudo tshoot` to see everything."
            )
        return ProcessesSection(
            taken_at=now, system=self._system(now), rows=rows, listening=self._listening, notes=notes,
            inspector_pid=os.getpid(),
        )

    def _row(self, pid: int, now: float) -> ProcessRow | None:
        stat = self._stat_files.read(pid)
        if not stat:
            return None  # vanished between listing and reading
        hist = self._history.get(pid)
        if hist is not None and stat == hist.last_stat:  # the line holds the start time: same process
            hist.still_polls += 1
            if hist.settled():
                return hist.last_row
        raw_name, fields = split_stat(stat)  # bytes all the way: int() reads them, only names are decoded
        # fields[0] is field 3 of proc(5): state, ppid, ..., utime(14), stime(15), ..., threads(20), starttime(22), rss(24)
        state = _STATES.get(fields[0]) or fields[0].decode()
        ticks = cpu_ticks(fields)
        start_ticks = int(fields[19])
        rss = int(fields[21]) * PAGE_SIZE
        if hist is None or hist.start_ticks != start_ticks:  # a new process, or a reused pid
            hist = self._history[pid] = self._new_history(pid, raw_name, start_ticks, now)
        elif stat != hist.last_stat:
            hist.still_polls = 0
            hist.catch_up(self._poll_times)
        hist.last_stat = stat
        if raw_name != hist.raw_name:  # exec(): same pid and start time, another program
            hist.raw_name, hist.name = raw_name, raw_name.decode("utf-8", "replace")
            hist.cmdline, hist.cmdline_denied = _cmdline(pid, hist.name)
        if hist.times and now > hist.times[-1]:
            cpu = cpu_percent(ticks, hist.last_ticks, now - hist.times[-1])
        else:
            cpu = None  # no rate from a single sample
        hist.last_ticks = ticks
        hist.d_streak = hist.d_streak + 1 if state == psutil.STATUS_DISK_SLEEP else 0
        hist.add(now, rss, cpu)
        hist.last_row = ProcessRow(
            pid=pid,
            ppid=int(fields[1]),
            name=hist.name,
            user=hist.user,
            state=state,
            cpu_percent=round(cpu or 0.0, 1),
            rss=rss,
            mem_percent=round(rss / self._mem_total * 100, 2),
            threads=int(fields[17]),
            started=hist.started,
            cmdline=hist.cmdline,
            trend=hist.trend(),
            denied=["cmdline"] if hist.cmdline_denied else [],
        )
        return hist.last_row

    def _new_history(self, pid: int, raw_name: bytes, start_ticks: int, now: float) -> _PidHistory:
        try:
            user = self._user(os.stat(f"/proc/{pid}").st_uid)
        except OSError:
            user = "-"
        name = raw_name.decode("utf-8", "replace")
        cmdline, denied = _cmdline(pid, name)
        return _PidHistory(
            start_ticks=start_ticks,
            started=round(self._boot_time + start_ticks / CLK_TCK, 2),
            raw_name=raw_name,
            name=name,
            user=user,
            cmdline=cmdline,
            cmdline_denied=denied,
            t0=now,
        )

    def _user(self, uid: int) -> str:
        if uid not in self._users:
            try:
                self._users[uid] = pwd.getpwuid(uid).pw_name
            except KeyError:
                self._users[uid] = str(uid)
        return self._users[uid]

    def _system(self, now: float) -> SystemSummary:
        cpu_times = psutil.cpu_times_percent(interval=None)
        per_cpu = psutil.cpu_percent(percpu=True)
        mem = psutil.virtual_memory()
        swap = psutil.swap_memory()
        disk = psutil.disk_io_counters()
        net = psutil.net_io_counters()
        counters = {
            "sin": swap.sin,
            "sout": swap.sout,
            "read": disk.read_bytes if disk else 0,
            "write": disk.write_bytes if disk else 0,
            "recv": net.bytes_recv if net else 0,
            "sent": net.bytes_sent if net else 0,
        }
        rates = dict.fromkeys(counters, 0.0)
        if self._prev_counters:
            then, prev = self._prev_counters
            if now > then:
                rates = {k: max(0.0, (v - prev[k]) / (now - then)) for k, v in counters.items()}
        self._prev_counters = (now, counters)
        return SystemSummary(
            hostname=socket.gethostname(),
            uptime_s=round(now - psutil.boot_time()),
            cores=psutil.cpu_count() or 1,
            load=[round(x, 2) for x in os.getloadavg()],
            cpu_percent=round(sum(per_cpu) / len(per_cpu), 1) if per_cpu else 0.0,
            per_cpu_percent=per_cpu,
            iowait_percent=round(getattr(cpu_times, "iowait", 0.0), 1),
            mem_total=mem.total,
            mem_available=mem.available,
            mem_percent=mem.percent,
            swap_total=swap.total,
            swap_used=swap.used,
            swap_in_bytes_s=rates["sin"],
            swap_out_bytes_s=rates["sout"],
            disk_read_bytes_s=rates["read"],
            disk_write_bytes_s=rates["write"],
            net_recv_bytes_s=rates["recv"],
            net_sent_bytes_s=rates["sent"],
        )

    def close(self) -> None:
        self._stat_files.close()

    def history(self, pid: int) -> tuple[list[float], list[int]]:
        """CPU% and RSS history of a live pid, oldest first (for the detail view's sparklines)."""
        hist = self._history.get(pid)
        if not hist or not hist.times:
            return [], []
        poll_times = list(self._poll_times)  # a copy: a poll may run in another thread meanwhile
        skipped = sum(1 for t in poll_times if t > hist.times[-1])  # polls it sat out, settled
        cpu = list(hist.cpu) + [0.0] * skipped
        rss = list(hist.rss) + [hist.rss[-1]] * skipped
        return cpu[-HISTORY_LEN:], rss[-HISTORY_LEN:]


def _cmdline(pid: int, name: str) -> tuple[str, bool]:
    """The command line with secrets masked, and whether it was hidden from us; kernel threads get [name]."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except PermissionError:
        return "-", True
    except OSError:
        return f"[{name}]", False
    if not raw:
        return f"[{name}]", False
    return redact_text(raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")), False


class ListeningSockets:
    """The listening-socket table, cheap enough to refresh every few polls.

    The socket tables in /proc/net are small, but a socket's owner is found only by reading every fd
    link of every process (what psutil.net_connections does: ~40 ms with 1,000 processes). So owners
    are looked up again only when a listening socket appears, one of its owners exits, or every
    OWNER_SCAN_EVERY refreshes (a worker forked since then holds the socket too).
    """

    OWNER_SCAN_EVERY = 12

    def __init__(self) -> None:
        self._owners: dict[int, list[int]] = {}  # socket inode -> pids holding it
        self._refreshes = 0

    def poll(self, names: dict[int, str] | None = None) -> list[ListeningPort]:
        """`names`: pid -> process name of every live process (None: read the owners' names from /proc)."""
        sockets = _listening_sockets()
        inodes = {inode for *_, inode in sockets}
        stale = (
            self._refreshes % self.OWNER_SCAN_EVERY == 0
            or not inodes <= self._owners.keys()
            or (names is not None and any(pid not in names for inode in inodes for pid in self._owners[inode]))
        )
        if stale:
            self._owners = _socket_owners(inodes)
        self._refreshes += 1
        ports: dict[tuple, ListeningPort] = {}
        for proto, address, port, inode in sockets:
            for pid in self._owners.get(inode) or [None]:
                name = "-" if pid is None else (names or {}).get(pid) or _process_name(pid)
                ports[(proto, address, port, pid)] = ListeningPort(proto, address, port, pid, name)
        return sorted(ports.values(), key=lambda p: (p.port, p.proto, p.address))


_SOCKET_TABLES = (("tcp", "/proc/net/tcp"), ("tcp6", "/proc/net/tcp6"), ("udp", "/proc/net/udp"), ("udp6", "/proc/net/udp6"))
_TCP_LISTEN = "0A"


def _listening_sockets() -> list[tuple[str, str, int, int]]:
    """(proto, address, port, inode) of listening TCP and bound, unconnected UDP sockets, from /proc/net."""
    found = []
    for proto, path in _SOCKET_TABLES:
        try:
            with open(path) as table:
                lines = table.readlines()[1:]
        except OSError:  # no IPv6 on this kernel
            continue
        for line in lines:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
            if proto.startswith("tcp") and state != _TCP_LISTEN:
                continue
            if proto.startswith("udp") and not remote.endswith(":0000"):
                continue  # a connected UDP socket is a client, not a listener
            address, port = local.split(":")
            found.append((proto, _proc_net_address(address), int(port, 16), inode))
    return found


def _proc_net_address(hex_address: str) -> str:
    """/proc/net prints addresses as 32-bit words in host byte order."""
    raw = bytes.fromhex(hex_address)
    if sys.byteorder == "little":
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def _socket_owners(inodes: set[int]) -> dict[int, list[int]]:
    """pids holding each socket inode; another user's fds are hidden without root (no owner then)."""
    owners: dict[int, list[int]] = {inode: [] for inode in inodes}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fd_dir = f"/proc/{entry}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:  # gone, or not ours to read
            continue
        for fd in fds:
            try:
                link = os.readlink(f"{fd_dir}/{fd}")
            except OSError:
                continue
            if link.startswith("socket:[") and (holders := owners.get(int(link[8:-1]))) is not None:
                if int(entry) not in holders:
                    holders.append(int(entry))
    return owners


def _process_name(pid: int) -> str:
    comm = read_small(f"/proc/{pid}/comm")
    return comm.decode("utf-8", "replace").strip() if comm else "?"


def process_detail(pid: int, collector: ProcessCollector | None = None) -> ProcessDetail:
    """Everything the detail view shows for one pid; raises psutil.NoSuchProcess when it is gone."""
    proc = psutil.Process(pid)
    denied: list[str] = []

    def read(what: str, fn, default):
        try:
            return fn()
        except psutil.AccessDenied:
            denied.append(what)
            return default
        except psutil.ZombieProcess:
            denied.append(what)
            return default

    with proc.oneshot():
        name = proc.name()
        user = read("user", proc.username, "-")
        exe = read("exe", proc.exe, "-")
        cwd = read("cwd", proc.cwd, "-")
        cmdline = redact_text(" ".join(read("cmdline", proc.cmdline, [])))
        environ = redact_mapping(read("environ", proc.environ, {}))
        open_files = [f.path for f in read("open files", proc.open_files, [])]
        connections = [
            f"{c.type.name.replace('SOCK_', '').lower()} {_addr(c.laddr)} -> {_addr(c.raddr) or '*'} {c.status}"
            for c in read("connections", lambda: proc.net_connections(kind="inet"), [])
        ]
        thread_ids = [t.id for t in read("threads", proc.threads, [])]
    cpu_hist, rss_hist = collector.history(pid) if collector else ([], [])
    return ProcessDetail(
        pid=pid,
        name=name,
        user=user,
        exe=exe,
        cwd=cwd,
        cmdline=cmdline,
        environ=environ,
        open_files=open_files,
        connections=connections,
        thread_ids=thread_ids,
        cpu_history=cpu_hist,
        rss_history=rss_hist,
        denied=denied,
    )


def _addr(addr) -> str:
    return f"{addr.ip}:{addr.port}" if addr else ""


def send_signal(pid: int, sig: signal.Signals, started: float, verify_s: float = VERIFY_S) -> Verified:
    """Signal `pid` only if it is still the process the operator confirmed (same start time: no reused pid),
    then watch it: the effect of SIGTERM/SIGKILL is the process gone (or a zombie), seen within `verify_s`."""
    try:
        proc = psutil.Process(pid)
        if abs(proc.create_time() - started) > 0.01:
            raise ProcessLookupError(f"pid {pid} is now a different process; nothing was sent")
        name = proc.name()
        proc.send_signal(sig)
    except psutil.NoSuchProcess:  # it exited between the confirmation and the signal: nothing was sent
        return Verified(False, f"pid {pid} had already exited before {sig.name} was sent; nothing was sent")
    exited = Verified(True, f"sent {sig.name} to pid {pid} ({name}); it has exited")
    if seen := watch_for_effect(lambda: None if _still_running(proc) else exited, verify_s):
        return seen
    hint = " (it handles or ignores SIGTERM; SIGKILL cannot be ignored)" if sig == signal.SIGTERM else \
        " (in uninterruptible sleep, D state, it dies only once its I/O returns)" if sig == signal.SIGKILL else ""
    return Verified(False, f"sent {sig.name} to pid {pid} ({name}), but it is still running after "
                           f"{verify_s:g}s{hint}")


def _still_running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def reveal_environ_value(pid: int, key: str) -> str:
    """One environment value, unmasked, for the screen only when the operator asks for it. Never logged."""
    return psutil.Process(pid).environ()[key]
