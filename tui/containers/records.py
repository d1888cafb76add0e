"""The records the Containers source collects: plain, JSON-friendly dataclasses (they go into snapshots)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class HealthCheckRun:
    started: str  # ISO 8601, as the engine reports it
    exit_code: int  # 0 healthy, 1 unhealthy, 2 reserved, -1 the check could not run
    output: str  # redacted, trimmed


@dataclass
class MemorySample:
    at: float  # unix time
    used_bytes: int


@dataclass
class LogLine:
    stream: str  # "stdout" or "stderr"
    timestamp: str  # ISO 8601 from the engine ("" when it gave none)
    text: str  # redacted


@dataclass
class ContainerProcess:
    host_pid: int  # pid on the host, as the Processes pane knows it
    ppid: int
    user: str
    command: str  # redacted

    @property
    def looks_like_python(self) -> bool:
        """The Threads pane can dump it (py-spy) only when it runs an interpreter."""
        return "python" in self.command.split(" ", 1)[0].rsplit("/", 1)[-1]


@dataclass
class ContainerRecord:
    id: str
    name: str
    image: str
    state: str  # created, running, restarting, paused, exited, removing, dead
    health: str | None  # healthy, unhealthy, starting, None without a health check
    restart_count: int
    exit_code: int
    oom_killed: bool
    error: str  # the engine's start error, e.g. "exec: ...: not found"
    started_at: str | None  # ISO 8601, None when never started
    finished_at: str | None
    restart_policy: str  # no, always, unless-stopped, on-failure
    restart_max_retries: int  # on-failure:N, 0 = unlimited
    command: list[str]
    entrypoint: list[str]
    ports: list[str]  # "0.0.0.0:8080->80/tcp" style
    memory_limit_bytes: int  # configured limit, 0 = none
    env: dict[str, str] = field(default_factory=dict)  # secrets masked
    health_failing_streak: int = 0
    health_log: list[HealthCheckRun] = field(default_factory=list)  # the engine keeps the last five
    cpu_percent: float | None = None  # of one core, None when not sampled (not running)
    memory_used_bytes: int | None = None
    memory_history: list[MemorySample] = field(default_factory=list)
    recent_exits: list[float] = field(default_factory=list)  # unix times of `die` events the watcher saw
    last_logs: list[LogLine] = field(default_factory=list)  # fetched for troubled containers only
    host_pid: int = 0  # main process on the host, 0 when not running

    @property
    def memory_percent(self) -> float | None:
        if not self.memory_limit_bytes or self.memory_used_bytes is None:
            return None
        return 100.0 * self.memory_used_bytes / self.memory_limit_bytes

    @property
    def subject(self) -> dict[str, str]:
        return {"name": self.name, "id": self.id[:12]}


@dataclass
class ContainersSection:
    engine_host: str  # where we talked to the engine
    engine_version: str
    taken_at: float  # unix time of this poll: "now" for the pure analysis
    containers: list[ContainerRecord] = field(default_factory=list)
    watching_events: bool = False  # False: the event stream is down and changes show up on re-sync only
    last_full_sync: float = 0.0
