"""PostgreSQL: sessions, lock waits, connection usage, scan statistics and pg_stat_statements in one poll.

Every statement is prefixed with TSHOOT_SQL so tshoot's own statements can be left out of pg_stat_statements.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from typing import Any, Callable

from sqlalchemy import text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DBAPIError

from tui.actions import VERIFY_S, Verified, watch_for_effect
from tui.databases.analysis import RUNNING_STATES
from tui.databases.connection import APPLICATION_NAME, describe_error, explainable_statement, open_connection
from tui.databases.logins import REFUSED_LOGINS
from tui.databases.records import (
    CheckStep,
    ConnectionReport,
    ConnectionUsage,
    DbSession,
    LockWait,
    ServerState,
    TableScans,
    TopStatement,
)
from tui.redact import redact_text

TSHOOT_SQL = "/* tshoot */ "
QUERY_TEXT_LIMIT = 4000

_SERVER = TSHOOT_SQL + """SELECT current_setting('server_version'), current_setting('server_version_num')::int,
  current_setting('max_connections')::int"""

_SESSIONS = TSHOOT_SQL + """SELECT pid, coalesce(usename, ''), coalesce(datname, ''), coalesce(application_name, ''),
  host(client_addr), client_port, coalesce(state, ''),
  coalesce(wait_event_type || ':' || wait_event, ''),
  extract(epoch FROM now() - xact_start)::float8, extract(epoch FROM now() - query_start)::float8,
  extract(epoch FROM now() - state_change)::float8, left(query, %d),
  pid = pg_backend_pid() OR application_name = '%s' AS own,
  CASE WHEN wait_event_type = 'Lock' THEN pg_blocking_pids(pid) END
FROM pg_stat_activity WHERE backend_type = 'client backend'""" % (QUERY_TEXT_LIMIT, APPLICATION_NAME)

# The lock each waiting backend asked for; a row-lock waiter's relation is that of the tuple lock it holds.
# Relations are returned as (database oid, relation oid): `::regclass` resolves names in the connected database
# only, and would print a bare OID — or another table's name — for a relation of another database.
_LOCK_WAITS = TSHOOT_SQL + """SELECT DISTINCT ON (l.pid) l.pid, l.locktype, l.mode,
  coalesce(l.database, t.database), coalesce(l.relation, t.relation), l.transactionid::text, {waited}
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
LEFT JOIN LATERAL (SELECT database, relation FROM pg_locks t WHERE t.pid = l.pid AND t.locktype = 'tuple'
                   LIMIT 1) t ON true
WHERE NOT l.granted ORDER BY l.pid"""

_RELATION_NAMES = TSHOOT_SQL + """SELECT c.oid, format('%I.%I', n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ANY(CAST(:oids AS oid[]))"""
CONNECT_TIMEOUT_S = 3.0  # for the short connection that names a relation of another database
RELATION_NAMES_TTL_S = 60.0  # names of relations in other databases, looked up there at most this often

_TABLE_SCANS = TSHOOT_SQL + """SELECT schemaname || '.' || relname, seq_scan, seq_tup_read, coalesce(idx_scan, 0),
  n_live_tup
FROM pg_stat_user_tables WHERE seq_tup_read > 0 ORDER BY seq_tup_read DESC LIMIT 20"""

_TOP_STATEMENTS = TSHOOT_SQL + """SELECT left(query, %d), calls, {total}, {mean}, rows FROM pg_stat_statements
WHERE query NOT LIKE :own_statements ORDER BY {total} DESC LIMIT 10""" % QUERY_TEXT_LIMIT


def collect(connection: Connection) -> ServerState:
    version, version_num, max_connections = connection.exec_driver_sql(_SERVER).one()
    state = ServerState(version=f"PostgreSQL {version}", server_id=server_identity(connection))
    rows = connection.exec_driver_sql(_SESSIONS).all()
    state.sessions = [_session(row) for row in rows if not row[12]]
    state.usage = connection_usage(rows, max_connections)
    if any(s.blocking_ids for s in state.sessions):
        waited = "extract(epoch FROM now() - coalesce(l.waitstart, a.query_start))::float8" if version_num >= 140000 \
            else "extract(epoch FROM now() - a.query_start)::float8"
        blocking = {s.id: s.blocking_ids for s in state.sessions}
        lock_rows = [row for row in connection.exec_driver_sql(_LOCK_WAITS.format(waited=waited)).all()
                     if blocking.get(row[0])]
        names = relation_names(connection, {(row[3], row[4]) for row in lock_rows if row[4] is not None})
        state.lock_waits = [_lock_wait(row, blocking, names) for row in lock_rows]
    state.tables = _optional(state.notes, "table scan statistics", lambda: [
        TableScans(*row) for row in connection.exec_driver_sql(_TABLE_SCANS).all()
    ]) or []
    state.top_statements = _top_statements(connection, version_num, state.notes)
    return state


def server_identity(connection: Connection) -> str:
    """What this server is, whatever URL reached it: its cluster's system_identifier and its port (a copied data
    directory keeps the identifier). Without the right to read pg_control_system(): the postmaster start time."""
    port = connection.exec_driver_sql(TSHOOT_SQL + "SELECT current_setting('port')").scalar()
    try:
        system = connection.exec_driver_sql(TSHOOT_SQL + "SELECT system_identifier FROM pg_control_system()").scalar()
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise
        system = "started " + str(connection.exec_driver_sql(TSHOOT_SQL + "SELECT pg_postmaster_start_time()").scalar())
    return f"postgresql:{system}:{port}"


def _session(row: Any) -> DbSession:
    (pid, user, database, application, client_addr, client_port, state, wait, xact_age, query_age, state_age,
     query, _own, blocking) = row
    return DbSession(
        id=pid, user=user, database=database, application=application, client_addr=client_addr,
        client_port=client_port if client_port and client_port > 0 else None, state=state, wait=wait,
        xact_age_s=xact_age, query_age_s=query_age, state_age_s=state_age, query=redact_text(query or ""),
        blocking_ids=sorted(blocking or []),
    )


def connection_usage(rows: list[Any], max_connections: int) -> ConnectionUsage:
    """All client connections (tshoot's included: they count against the limit too), broken down three ways."""
    return ConnectionUsage(
        connections=len(rows),
        max_connections=max_connections,
        by_user=dict(Counter(row[1] or "?" for row in rows).most_common()),
        by_application=dict(Counter(row[3] or "(none)" for row in rows).most_common()),
        by_client=dict(Counter(row[4] or "local socket" for row in rows).most_common()),
    )


def _lock_wait(row: Any, blocking: dict[int, list[int]], names: dict[tuple[int, int], str]) -> LockWait:
    pid, locktype, mode, database_oid, relation_oid, transaction_id, waited = row
    table = names.get((database_oid, relation_oid)) if relation_oid is not None else None
    if locktype == "transactionid":
        lock = f"{mode} on transaction {transaction_id}" + (f" (row of {table})" if table else "")
    else:
        lock = f"{mode} on {locktype}" + (f" of {table}" if table else "")
    return LockWait(blocked_id=pid, blocking_ids=blocking[pid], lock=lock, mode=mode, relation=table,
                    waited_s=round(waited or 0.0, 3))


_other_database_names: dict[tuple[str, str, int], tuple[float, str | None]] = {}  # (server, db, oid) -> (at, name)


def relation_names(connection: Connection, relations: set[tuple[int | None, int]]) -> dict[tuple[int | None, int], str]:
    """`schema.table` for each (database oid, relation oid). Relations of the connected database (and shared
    catalogs, database oid 0) are named here; those of another database by a short connection to it (same server,
    same credentials) as `public.accounts in database "shop"`, or, when that fails, `relation 16609 in database
    "shop"` — never a bare OID, never through this database's catalog, where the same OID may be another table."""
    if not relations:
        return {}
    rows = connection.exec_driver_sql(
        TSHOOT_SQL + "SELECT oid, datname, datname = current_database() FROM pg_database").all()
    datnames = {oid: name for oid, name, _ in rows}
    current = next((oid for oid, _, is_current in rows if is_current), None)
    by_database: dict[int | None, list[int]] = {}
    for database_oid, relation_oid in relations:
        by_database.setdefault(database_oid, []).append(relation_oid)
    names: dict[tuple[int | None, int], str] = {}
    for database_oid, oids in by_database.items():
        here = database_oid in (None, 0, current)
        found = _names_here(connection, oids) if here else \
            _names_in_other_database(connection, datnames.get(database_oid), oids)
        where = "" if here else f' in database "{datnames.get(database_oid, f"oid {database_oid}")}"'
        for relation_oid in oids:
            names[(database_oid, relation_oid)] = (found.get(relation_oid) or f"relation {relation_oid}") + where
    return names


def _names_here(connection: Connection, oids: list[int]) -> dict[int, str]:
    return {oid: name for oid, name in connection.execute(text(_RELATION_NAMES), {"oids": list(oids)}).all()}


def _names_in_other_database(connection: Connection, datname: str | None, oids: list[int]) -> dict[int, str]:
    """Names looked up in `datname` over a short connection with this connection's URL, remembered a minute; a
    database this login cannot enter is not tried again while tshoot runs."""
    if not datname:
        return {}
    url = connection.engine.url
    server = f"{url.host}:{url.port}:{url.username}"
    now = time.monotonic()
    missing = [oid for oid in oids if now - _other_database_names.get((server, datname, oid), (-1e9, None))[0]
               > RELATION_NAMES_TTL_S]
    other_url = url.set(database=datname)
    if missing and not REFUSED_LOGINS.refused(other_url.render_as_string(hide_password=False)):
        try:
            other = open_connection(other_url, CONNECT_TIMEOUT_S)
        except Exception as exc:  # no right to connect there (CONNECT privilege, pg_hba): say which database, no name
            _remember_refused_database(other_url, exc)  # and never try again: a refused login is not retried
            found: dict[int, str] = {}
        else:
            try:
                found = _names_here(other, missing)
            except DBAPIError:
                found = {}
            finally:
                other.close()
        for key in [k for k, (at, _) in _other_database_names.items() if now - at > RELATION_NAMES_TTL_S]:
            _other_database_names.pop(key, None)  # forget what is stale: the cache stays as small as the incident
        for oid in missing:
            _other_database_names[(server, datname, oid)] = (now, found.get(oid))
    return {oid: name for oid in oids if (name := _other_database_names.get((server, datname, oid), (0, None))[1])}


def _remember_refused_database(url: URL, exc: BaseException) -> None:
    step = CheckStep("auth", "fail", describe_error(exc), {"database": url.database, "reason": "database access"})
    report = ConnectionReport(url.render_as_string(hide_password=True), "postgresql", [step])
    REFUSED_LOGINS.remember(url.render_as_string(hide_password=False), report, database_only=True)


def _top_statements(connection: Connection, version_num: int, notes: list[str]) -> list[TopStatement]:
    installed = connection.exec_driver_sql(
        TSHOOT_SQL + "SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'").first()
    if not installed:
        notes.append("pg_stat_statements is not installed in this database: CREATE EXTENSION pg_stat_statements "
                     "(the server needs shared_preload_libraries = 'pg_stat_statements')")
        return []
    columns = ("total_exec_time", "mean_exec_time") if version_num >= 130000 else ("total_time", "mean_time")
    sql = _TOP_STATEMENTS.format(total=columns[0], mean=columns[1])
    rows = _optional(notes, "pg_stat_statements", lambda: connection.execute(
        text(sql), {"own_statements": TSHOOT_SQL.strip() + "%"}).all()) or []
    return [TopStatement(redact_text(q or ""), calls, round(total, 3), round(mean, 3), n) for q, calls, total, mean, n
            in rows]


def _optional(notes: list[str], what: str, read: Callable[[], Any]) -> Any:
    """Read something a server may refuse (permissions, missing library) without losing the rest of the poll."""
    try:
        return read()
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise
        notes.append(f"{what}: {describe_error(exc)}")
        return None


def explain(connection: Connection, pid: int) -> str:
    """The plan of the statement a backend is running (EXPLAIN only: nothing is executed)."""
    row = connection.execute(
        text(TSHOOT_SQL + "SELECT query, state, current_setting('server_version_num')::int "
             "FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}).first()
    if row is None:
        raise ValueError(f"backend {pid} no longer exists")
    query, state, version_num = row
    statement = explainable_statement(query or "")
    prefix = "EXPLAIN "
    if re.search(r"\$\d+", statement):
        if version_num < 160000:
            raise ValueError("the query has bind parameters ($1, ...): PostgreSQL before 16 cannot plan it without "
                             "values (EXPLAIN (GENERIC_PLAN) needs 16+)")
        prefix = "EXPLAIN (GENERIC_PLAN) "
    plan = connection.exec_driver_sql(TSHOOT_SQL + prefix + statement).scalars().all()
    heading = f"backend {pid} ({state}): {redact_text(statement)[:200]}"
    return redact_text("\n".join([heading, "", *plan]))



_BACKEND = TSHOOT_SQL + """SELECT coalesce(state, ''), query_start,
  (SELECT count(*) FROM pg_stat_activity b WHERE b.pid <> :pid AND :pid = ANY(pg_blocking_pids(b.pid)))
FROM pg_stat_activity WHERE pid = :pid"""


def interrupt(connection: Connection, pid: int, terminate: bool, verify_s: float = VERIFY_S) -> Verified:
    """pg_cancel_backend (cancel the running query) or pg_terminate_backend (end the session), then re-read the
    backend: done only once it is gone (terminate) or no longer runs that statement (cancel)."""
    def backend() -> Any:
        return connection.execute(text(_BACKEND), {"pid": pid}).first()

    before = backend()
    if before is None:
        raise RuntimeError(f"backend {pid} no longer exists: nothing was sent")
    state, query_start, _blocks = before
    if not terminate and state not in RUNNING_STATES:
        return Verified(False, f"backend {pid} is {state or 'not running a statement'}: it runs no query to cancel, "
                               "nothing was sent. Only terminating the session ends its transaction and frees its "
                               "locks.")
    function = "pg_terminate_backend" if terminate else "pg_cancel_backend"
    if not connection.execute(text(f"{TSHOOT_SQL}SELECT {function}(:pid)"), {"pid": pid}).scalar():
        raise RuntimeError(f"backend {pid} did not take the signal: it has already ended")
    now = before

    def look() -> Verified | None:
        nonlocal now
        now = backend()
        if now is None:
            return Verified(True, f"{'terminated' if terminate else 'cancelled the query of'} backend {pid}: "
                                  "the session is gone")
        if not terminate and (now[0] not in RUNNING_STATES or now[1] != query_start):
            blocks = f"; it still blocks {now[2]} session(s)" if now[2] else ""
            open_transaction = "; its transaction is still open and holds its locks (terminate it to end it)" \
                if now[0].startswith("idle in transaction") else ""
            return Verified(True, f"cancelled the query of backend {pid}: it is now {now[0]}{open_transaction}"
                                  f"{blocks}")
        return None

    if seen := watch_for_effect(look, verify_s):
        return seen
    still = "still there" if terminate else f"still {now[0]} in the same statement"
    blocks = f", blocking {now[2]} session(s)" if now[2] else ""
    return Verified(False, f"sent {function} to backend {pid}, but after {verify_s:g}s it is {still}{blocks}")
