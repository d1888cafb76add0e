"""The records the Logs source produces: plain dataclasses, serialised as they are into snapshots.

Every string here is host text (hostile): it is capped when read and made visible when shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# Normalised severity of a line: syslog priorities, Python/Java level names and HTTP status classes map here.
Level = Literal["critical", "error", "warning", "info", "debug", ""]
LEVELS: tuple[str, ...] = ("critical", "error", "warning", "info", "debug", "")

# Where a line came from. `name` in LogSource is what the pane shows and filters on: "journal", "kernel",
# "container:web", "file:/var/log/nginx/access.log".
SourceKind = Literal["journal", "kernel", "container", "file"]


@dataclass
class LogLine:
    source: str  # LogSource.name it came from
    time: float  # unix time the line carries; when it has none, the time it was read
    text: str  # the message, decoded with errors="replace" and capped; an event (a traceback) keeps its newlines
    level: Level = ""
    pid: int | None = None  # the process that wrote it, when the source says (journal _PID, kernel OOM victim)
    unit: str = ""  # systemd unit
    container: str = ""  # container name, for container logs
    seq: int = 0  # arrival order across all sources: ties in `time` keep the order lines were read
    undated: bool = False  # history read at start with no time of its own: `time` is when it was read, not written


@dataclass
class LogSource:
    name: str
    kind: SourceKind
    path: str = ""  # file path, journal file, container id
    found_by: str = ""  # "config", "--log", "open by pid 123 (nginx)", "default"
    status: str = "following"  # following / waiting (file not there yet) / unreadable / absent / rotated
    error: str = ""  # why it is not followed, in the operator's words
    lines_read: int = 0
    bytes_read: int = 0
    skipped_bytes: int = 0  # of a file: before where following started, or jumped over when too far behind
    lost_lines: int = 0  # of the kernel ring: overwritten before they were read


@dataclass
class Cluster:
    """Lines that share a template (numbers, ids and paths masked): one row per kind of message."""

    template: str
    count: int
    first_seen: float
    last_seen: float
    level: Level = ""
    sources: list[str] = field(default_factory=list)
    per_minute: list[int] = field(default_factory=list)  # counts in the last N minutes, oldest first (sparkline)
    example: str = ""  # the latest line of the cluster, redacted
    id: int = 0  # the template's id while this tshoot runs: findings key on it (the template text can generalise)
    examples: list[str] = field(default_factory=list)  # the last few lines, redacted, oldest first (evidence)
    undated: bool = False  # first met in undated history read at start: when it first appeared is unknown, not new


@dataclass
class PathStats:
    path: str
    requests: int
    errors: int  # 5xx
    p95_s: float | None = None


@dataclass
class AccessStats:
    """Request metrics from access logs over the last window (nginx/apache/gunicorn/uvicorn formats)."""

    source: str
    window_s: float
    requests: int
    per_status_class: dict[str, int] = field(default_factory=dict)  # "2xx": n, "5xx": n
    p50_s: float | None = None  # latency, when the log carries it
    p95_s: float | None = None
    p99_s: float | None = None
    top_errors: list[PathStats] = field(default_factory=list)
    top_slow: list[PathStats] = field(default_factory=list)


@dataclass
class LogsSection:
    taken_at: float
    sources: list[LogSource] = field(default_factory=list)
    lines: list[LogLine] = field(default_factory=list)  # the newest lines kept (a stated cap), time-ordered
    clusters: list[Cluster] = field(default_factory=list)
    access: list[AccessStats] = field(default_factory=list)
    dropped: int = 0  # lines read but no longer kept (over the cap), so the pane can say so
