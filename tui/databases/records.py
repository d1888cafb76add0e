"""The records the databases source collects; they are what a snapshot stores, so no password is ever in them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class TargetInfo:
    """One database tshoot watches. `id` is the masked URL: unique, stable and safe to show or write."""

    id: str
    url: str  # password masked
    dialect: str  # "postgresql" or "mysql"
    origin: str  # where it was found: "--db", "config file", "DATABASE_URL (tshoot's environment)", "pid 42 (...)"
    origin_pid: int | None = None  # set when found in another process's settings: a discovered target

    @property
    def discovered(self) -> bool:
        """Found in another process's settings, not named by the operator (--db, config file, own DATABASE_URL)."""
        return self.origin_pid is not None


@dataclass
class CheckStep:
    name: str  # url | dns | tcp | local-listener | auth | query
    status: str  # pass | warn | fail | skipped
    detail: str
    evidence: dict[str, Any] = field(default_factory=dict)
    fix: str = ""


@dataclass
class ConnectionReport:
    url: str  # password masked
    dialect: str
    steps: list[CheckStep] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(step.status != "fail" for step in self.steps)

    def step(self, name: str) -> CheckStep | None:
        return next((s for s in self.steps if s.name == name), None)


@dataclass
class DbSession:
    """A PostgreSQL backend or a MySQL processlist thread (tshoot's own sessions are left out)."""

    id: int  # backend pid (PostgreSQL) or connection id (MySQL)
    user: str
    database: str
    application: str  # application_name; empty on MySQL
    client_addr: str | None  # None: Unix socket
    client_port: int | None
    state: str  # PostgreSQL state ("active", "idle in transaction", ...) or MySQL command ("Query", "Sleep")
    wait: str  # PostgreSQL wait_event_type:wait_event or MySQL thread state
    xact_age_s: float | None  # open transaction age
    query_age_s: float | None  # age of the current (or last) statement
    state_age_s: float | None  # time in the current state: how long it has been idle in transaction
    query: str  # secrets masked
    blocking_ids: list[int] = field(default_factory=list)  # sessions this one waits for
    local_pid: int | None = None  # process on this machine that owns the client socket
    local_process: str | None = None


@dataclass
class LockWait:
    blocked_id: int
    blocking_ids: list[int]
    lock: str  # human-readable: "ShareLock on transactionid (row of public.accounts)"
    mode: str
    relation: str | None
    waited_s: float


@dataclass
class ConnectionUsage:
    connections: int  # all client connections, tshoot's included
    max_connections: int
    by_user: dict[str, int] = field(default_factory=dict)
    by_application: dict[str, int] = field(default_factory=dict)
    by_client: dict[str, int] = field(default_factory=dict)

    @property
    def percent(self) -> float:
        return 100.0 * self.connections / self.max_connections if self.max_connections else 0.0


@dataclass
class TableScans:
    """Sequential vs index scans of one table: many big sequential scans and few index scans suggest a missing index."""

    table: str
    seq_scan: int
    seq_rows_read: int
    idx_scan: int
    live_rows: int


@dataclass
class TopStatement:
    query: str  # normalised by pg_stat_statements, secrets masked
    calls: int
    total_ms: float
    mean_ms: float
    rows: int


@dataclass
class ServerState:
    version: str
    server_id: str = ""  # what the server is, whatever URL reached it: PostgreSQL system_identifier + port, ...
    sessions: list[DbSession] = field(default_factory=list)
    lock_waits: list[LockWait] = field(default_factory=list)
    usage: ConnectionUsage | None = None
    tables: list[TableScans] = field(default_factory=list)
    top_statements: list[TopStatement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what could not be read and why


@dataclass
class TargetResult:
    target: TargetInfo
    state: ServerState | None = None
    error: str | None = None  # why this target could not be read this time
    connection_check: ConnectionReport | None = None  # run when the target fails
    collect_ms: float = 0.0
    same_server_as: str | None = None  # another target's id: the same server reached by another URL (not repeated)
    not_connected: str = ""  # why tshoot did not log in at all (discovery logins off, a login refused before)


@dataclass
class DatabasesSection:
    taken_at: float = 0.0  # unix time of this poll
    targets: list[TargetResult] = field(default_factory=list)
    discovery_notes: list[str] = field(default_factory=list)  # processes whose settings could not be read

    @staticmethod
    def from_older_json(data: dict[str, Any]) -> dict[str, Any]:
        """A snapshot section of an older tshoot, in today's names: a target's `doctor` is `connection_check`."""
        targets = [{("connection_check" if key == "doctor" else key): value for key, value in target.items()}
                   if isinstance(target, dict) and "connection_check" not in target else target
                   for target in data.get("targets") or []]
        return {**data, "targets": targets} if "targets" in data else data
