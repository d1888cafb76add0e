"""Records the processes collector produces; they are what snapshots store and panes render."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Trend:
    """How a process behaved over the observation window (what memory-growth and cpu-hog read)."""

    samples: int = 1
    window_s: float = 0.0
    rss_first: int = 0
    rss_slope_mb_per_min: float = 0.0  # least-squares slope of RSS over the window
    rss_rising_fraction: float = 0.0  # share of sample-to-sample steps where RSS did not shrink
    cpu_min_percent: float = 0.0  # lowest CPU% seen in the window
    cpu_median_percent: float = 0.0  # what cpu-hog reads: robust to the dips a busy loop shows on a shared host
    d_state_samples: int = 0  # consecutive samples in uninterruptible sleep
    # RSS every LONG_STEP_S over up to half an hour: a slow leak in a big process shows only at this scale
    long_samples: int = 0
    long_window_s: float = 0.0
    long_rss_first: int = 0
    long_rss_slope_mb_per_min: float = 0.0
    long_rss_rising_fraction: float = 0.0


@dataclass
class ProcessRow:
    pid: int
    ppid: int
    name: str
    user: str
    state: str  # psutil status: running, sleeping, disk-sleep, zombie, stopped, ...
    cpu_percent: float  # of one core
    rss: int  # bytes
    mem_percent: float
    threads: int
    started: float  # epoch seconds
    cmdline: str  # secrets masked
    trend: Trend = field(default_factory=Trend)
    denied: list[str] = field(default_factory=list)  # ["cmdline"] when the kernel would not give it (shown as "-")


@dataclass
class ListeningPort:
    proto: str  # tcp, tcp6, udp, udp6
    address: str
    port: int
    pid: int | None  # None when the socket's owner is not visible (another user's, without root)
    process: str


@dataclass
class SystemSummary:
    hostname: str
    uptime_s: float
    cores: int
    load: list[float]  # 1, 5, 15 minutes
    cpu_percent: float
    per_cpu_percent: list[float]
    iowait_percent: float
    mem_total: int
    mem_available: int
    mem_percent: float
    swap_total: int
    swap_used: int
    swap_in_bytes_s: float
    swap_out_bytes_s: float
    disk_read_bytes_s: float
    disk_write_bytes_s: float
    net_recv_bytes_s: float
    net_sent_bytes_s: float


@dataclass
class AllocationSite:
    frames: list[str]  # file:line, outermost first; the last one allocated
    size_diff: int  # bytes more than at the start
    count_diff: int  # blocks more than at the start
    size: int  # bytes live at the end


@dataclass
class MemTrace:
    """What tracemalloc, run inside a process on the operator's request, saw grow (tui/processes/memtrace.py)."""

    pid: int
    method: str  # "memray attach", or tracemalloc injected with "sys.remote_exec" or "gdb"
    seconds: float
    taken_at: float
    growth: int  # bytes the traced heap grew by
    sites: list[AllocationSite] = field(default_factory=list)
    cost: str = ""  # what it cost the process, in words
    note: str = ""  # why memray was not used although the process has it (e.g. a venv its user can change)


@dataclass
class ProcessesSection:
    taken_at: float
    system: SystemSummary
    rows: list[ProcessRow]
    listening: list[ListeningPort]
    notes: list[str] = field(default_factory=list)  # e.g. what needs root when not running as root
    inspector_pid: int = 0  # tshoot's own process: shown, but never judged (its start-up growth is not a leak)
    memtraces: list[MemTrace] = field(default_factory=list)  # memory traces the operator asked for, newest per pid


@dataclass
class ProcessDetail:
    """On-demand detail of one process (the detail view); environment values masked."""

    pid: int
    name: str
    user: str
    exe: str
    cwd: str
    cmdline: str
    environ: dict[str, str]
    open_files: list[str]
    connections: list[str]
    thread_ids: list[int]
    cpu_history: list[float]
    rss_history: list[int]
    denied: list[str] = field(default_factory=list)
