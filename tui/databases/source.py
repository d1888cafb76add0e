"""DatabasesSource: every target polled concurrently over one connection each; a slow or dead one delays no other."""

from __future__ import annotations

import concurrent.futures
import importlib
import threading
import time
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable

from tui import registry
from tui.actions import Verified
from tui.config import Config
from tui.databases import analysis
from tui.databases.connection import DEFAULT_PORTS, UrlError, describe_error, open_connection, parse_url
from tui.databases.conncheck import diagnose, login_refused
from tui.databases.logins import LOCAL_HOSTS, REFUSED_LOGINS
from tui.databases.peers import attach_local_pids
from tui.databases.records import ConnectionReport, DatabasesSection, TargetResult
from tui.databases.targets import Target, discover_targets
from tui.findings import Finding
from tui.source import Source, SourceUnavailable

CONNECT_TIMEOUT_S = 3.0
DISCOVERY_INTERVAL_S = 30.0  # re-scan processes for new targets this often, not on every poll
RETRY_FAILED_S = 10.0  # a failing target is reconnected (and re-diagnosed) at most this often
ACTION_WAIT_S = 10.0  # an action waits at most this long for the target's connection to be free
DIALECT_MODULES = {"postgresql": "tui.databases.postgres", "mysql": "tui.databases.mysql"}  # imported when used

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


class TargetConnection:
    """tshoot's single connection to one target; the lock keeps polls and actions from sharing it at once.

    A refused login is not tried again (see RefusedLogins); a target found in another process's settings is not
    logged in to at all when `may_log_in` is False (config `discover_db_logins = false`)."""

    def __init__(self, target: Target, timeout: float = CONNECT_TIMEOUT_S, may_log_in: bool = True) -> None:
        self.info = target.info
        self._url = target.secret_url
        self._timeout = timeout
        self._may_log_in = may_log_in
        self._lock = threading.Lock()
        self._connection: Connection | None = None
        self._last_failure: TargetResult | None = None
        self._failed_at = 0.0

    def poll(self) -> TargetResult:
        if not self._may_log_in:
            return TargetResult(self.info, not_connected="found in another process's settings; tshoot does not log "
                                                         "in to discovered databases (discover_db_logins = false)")
        if not self._lock.acquire(blocking=False):
            return TargetResult(self.info, error="the previous poll of this target is still running",
                                connection_check=self._last_failure.connection_check if self._last_failure else None)
        started = time.perf_counter()
        try:
            if self._last_failure and time.monotonic() - self._failed_at < RETRY_FAILED_S:
                return self._last_failure
            refused = REFUSED_LOGINS.refused(self._url) if self._connection is None else None
            if refused is not None:
                auth = refused.step("auth")
                return TargetResult(self.info, connection_check=refused, error=(
                    f"not logged in again: the server refused this user and password "
                    f"({auth.detail if auth else 'login failed'}). tshoot never retries a refused login (it would "
                    "fill the server's log and can lock the account): a changed password is tried once; to try "
                    "this one again, check the connection to this target (d in the Databases pane)"))
            try:
                connection = self._connected()
            except Exception as exc:  # the login failed: diagnose it from this very attempt, without a second one
                report = diagnose(self._url, self._timeout, login_error=exc)
                if login_refused(report):
                    REFUSED_LOGINS.remember(self._url, report)
                return self._failed(TargetResult(self.info, error=_error_text(exc), connection_check=report))
            try:
                state = self._module().collect(connection)
            except Exception as exc:  # any failure of this target is its result, never the others'
                self._drop_connection()
                report = diagnose(self._url, self._timeout)  # logs in again: a refusal counts like any other
                if login_refused(report):
                    REFUSED_LOGINS.remember(self._url, report)
                return self._failed(TargetResult(self.info, error=_error_text(exc), connection_check=report))
            self._last_failure = None
            return TargetResult(self.info, state=state, collect_ms=round((time.perf_counter() - started) * 1000, 2))
        finally:
            self._lock.release()

    def logs_in_with(self, url: str) -> bool:
        """Is `url` the one this connection logs in with (a changed password makes it another target)?"""
        return url == self._url

    def _failed(self, result: TargetResult) -> TargetResult:
        self._last_failure, self._failed_at = result, time.monotonic()
        return result

    def use(self, work: Callable[[ModuleType, Connection], Any]) -> Any:
        """Run an on-demand statement (EXPLAIN, cancel) on this target's connection."""
        if not self._lock.acquire(timeout=ACTION_WAIT_S):
            raise TimeoutError(f"{self.info.url} is busy: its poll has not finished in {ACTION_WAIT_S:g}s")
        try:
            try:
                return work(self._module(), self._connected())
            except Exception as exc:
                if getattr(exc, "connection_invalidated", False):
                    self._drop_connection()
                raise
        finally:
            self._lock.release()

    def diagnose(self) -> ConnectionReport:
        """The operator asked (`d`): log in once more even with a refused credential, and remember the answer."""
        report = diagnose(self._url, self._timeout)
        if login_refused(report):
            REFUSED_LOGINS.remember(self._url, report)
        elif (auth := report.step("auth")) is not None and auth.status == "pass":
            REFUSED_LOGINS.forget(self._url)
            self._last_failure = None
        return report

    def close(self) -> None:
        with self._lock:
            self._drop_connection()

    def _module(self) -> ModuleType:
        if self.info.dialect not in DIALECT_MODULES:
            raise UrlError(f"not a PostgreSQL or MySQL URL: {self.info.url}")
        return importlib.import_module(DIALECT_MODULES[self.info.dialect])

    def _connected(self) -> Connection:
        if self._connection is None or self._connection.closed or self._connection.invalidated:
            self._connection = open_connection(parse_url(self._url), self._timeout)
        return self._connection

    def _drop_connection(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:  # an already broken connection: nothing more to release
                pass
            self._connection = None


def merge_same_servers(results: list[TargetResult]) -> list[TargetResult]:
    """One result per server: a server reached by several URLs (--db and an app's DATABASE_URL, 127.0.0.1 and
    localhost) keeps the operator's target, the first named; the others only say which target they are.
    A server that answers is identified by what it is (its server_id); one that cannot be read, by where the
    same login fails in the same way (this machine's names counted as one host)."""
    kept: dict[str, str] = {}
    for result in sorted(results, key=lambda r: (r.target.discovered, r.target.origin != "--db")):  # --db first
        identity = _server_identity(result)
        if identity and identity not in kept:
            kept[identity] = result.target.id
    merged = []
    for result in results:
        identity = _server_identity(result)
        first = kept.get(identity) if identity else None
        if first is not None and first != result.target.id:
            result = TargetResult(result.target, collect_ms=result.collect_ms, same_server_as=first)
        merged.append(result)
    return merged


def _server_identity(result: TargetResult) -> str | None:
    if result.state is not None:
        return result.state.server_id or None
    step = next((s for s in result.connection_check.steps if s.status == "fail"), None) if result.connection_check else None
    if step is None:
        return None
    try:
        parsed = parse_url(result.target.url)  # the masked URL: host, port, user and database are all it takes
    except UrlError:
        return None
    host = "this machine" if (parsed.host or "").lower() in LOCAL_HOSTS else (parsed.host or "").lower()
    port = parsed.port or DEFAULT_PORTS[result.target.dialect]
    return f"failing:{result.target.dialect}:{host}:{port}:{parsed.username}:{parsed.database}:{step.name}"


def _error_text(exc: Exception) -> str:
    return str(exc) if isinstance(exc, UrlError) else describe_error(exc)


class DatabasesSource(Source):
    name = registry.DATABASES
    section_type = DatabasesSection

    def __init__(self, config: Config, scan_processes: bool = True) -> None:
        super().__init__(config)
        self._scan_processes = scan_processes
        self._targets: dict[str, TargetConnection] = {}
        self._discovery_notes: list[str] = []
        self._discovered_at = float("-inf")
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=16, thread_name_prefix="tshoot-db")
        # The whole poll stays inside the app's collector timeout even when a target hangs.
        self.poll_budget_s = max(1.0, min(config.collector_timeout * 0.8, 8.0))

    def collect(self) -> DatabasesSection:
        taken_at = time.time()
        self._refresh_targets()
        if not self._targets:
            raise SourceUnavailable(
                "no database to watch",
                "Pass --db URL (repeatable), add db_urls to the config file or set DATABASE_URL. Apps' DATABASE_URL "
                "and config/database.yml are found when tshoot may read their environment (run as root).",
                idle=True,
            )
        futures = {target_id: self._pool.submit(tc.poll) for target_id, tc in self._targets.items()}
        deadline = time.monotonic() + self.poll_budget_s
        results = []
        for target_id, future in futures.items():
            try:
                results.append(future.result(timeout=max(0.0, deadline - time.monotonic())))
            except concurrent.futures.TimeoutError:
                results.append(TargetResult(self._targets[target_id].info,
                                            error=f"no answer within {self.poll_budget_s:g}s (still trying; the other "
                                                  "targets are not held up)"))
        results = merge_same_servers(results)
        attach_local_pids([s for r in results if r.state for s in r.state.sessions])
        return DatabasesSection(taken_at=taken_at, targets=results, discovery_notes=list(self._discovery_notes))

    def analyze(self, section: DatabasesSection) -> list[Finding]:
        return analysis.analyze(section, self.config.thresholds)

    def close(self) -> None:
        """Close every connection once its poll is done, without waiting here for a hung one. Idempotent."""
        targets, self._targets = list(self._targets.values()), {}
        if targets:
            for target in targets:
                self._pool.submit(target.close)
            self._pool.shutdown(wait=False)

    def explain(self, target_id: str, session_id: int) -> str:
        """The plan of a session's running statement (EXPLAIN, never ANALYZE)."""
        return self._target(target_id).use(lambda module, conn: module.explain(conn, session_id))

    def cancel(self, target_id: str, session_id: int) -> Verified:
        """Cancel the running statement (pg_cancel_backend / KILL QUERY), verified on the server afterwards."""
        return self._target(target_id).use(lambda module, conn: module.interrupt(conn, session_id, terminate=False))

    def terminate(self, target_id: str, session_id: int) -> Verified:
        """End the session (pg_terminate_backend / KILL), verified on the server afterwards."""
        return self._target(target_id).use(lambda module, conn: module.interrupt(conn, session_id, terminate=True))

    def diagnose(self, target_id: str) -> ConnectionReport:
        """Check the connection to a target now (also for one that works)."""
        return self._target(target_id).diagnose()

    def _target(self, target_id: str) -> TargetConnection:
        try:
            return self._targets[target_id]
        except KeyError:
            raise ValueError(f"no target {target_id} (it is no longer discovered)") from None

    def _refresh_targets(self) -> None:
        if time.monotonic() - self._discovered_at < DISCOVERY_INTERVAL_S:
            return
        targets, self._discovery_notes = discover_targets(self.config, scan_processes=self._scan_processes)
        self._discovered_at = time.monotonic()
        wanted = {t.info.id: t for t in targets}
        for gone in set(self._targets) - set(wanted):
            self._pool.submit(self._targets.pop(gone).close)  # waits for its poll, but not here
        for target_id, target in wanted.items():
            if target_id in self._targets and not self._targets[target_id].logs_in_with(target.secret_url):
                self._pool.submit(self._targets.pop(target_id).close)  # a changed credential: a new target
            if target_id not in self._targets:
                may_log_in = self.config.discover_db_logins or not target.info.discovered
                self._targets[target_id] = TargetConnection(target, may_log_in=may_log_in)

