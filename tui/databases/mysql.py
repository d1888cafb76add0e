"""MariaDB / MySQL: processlist, InnoDB lock waits, Threads_connected vs max_connections, in one poll."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy.engine import Connection

from tui.actions import VERIFY_S, Verified, watch_for_effect
from tui.databases.analysis import RUNNING_STATES
from tui.databases.connection import describe_error, explainable_statement
from tui.databases.records import ConnectionUsage, DbSession, LockWait, ServerState
from tui.redact import redact_text

QUERY_TEXT_LIMIT = 4000
SYSTEM_COMMANDS = {"Daemon", "Binlog Dump", "Binlog Dump GTID", "Slave_IO", "Slave_SQL", "Slave_worker"}

_PROCESSLIST = """SELECT ID, USER, HOST, DB, COMMAND, TIME, STATE, LEFT(INFO, %d) FROM information_schema.PROCESSLIST
WHERE ID <> CONNECTION_ID()""" % QUERY_TEXT_LIMIT

_TRANSACTIONS = """SELECT trx_mysql_thread_id, TIMESTAMPDIFF(MICROSECOND, trx_started, NOW()) / 1e6
FROM information_schema.INNODB_TRX"""

# MariaDB and MySQL 5.7 keep lock waits in information_schema; MySQL 8 moved them to performance_schema.
_LOCK_WAITS_INFORMATION_SCHEMA = """SELECT r.trx_mysql_thread_id, b.trx_mysql_thread_id, l.lock_mode, l.lock_type,
  l.lock_table, l.lock_index, TIMESTAMPDIFF(MICROSECOND, r.trx_wait_started, NOW()) / 1e6
FROM information_schema.INNODB_LOCK_WAITS w
JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id
JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id
JOIN information_schema.INNODB_LOCKS l ON l.lock_id = w.requested_lock_id"""

_LOCK_WAITS_PERFORMANCE_SCHEMA = """SELECT r.trx_mysql_thread_id, b.trx_mysql_thread_id, l.LOCK_MODE, l.LOCK_TYPE,
  CONCAT('`', l.OBJECT_SCHEMA, '`.`', l.OBJECT_NAME, '`'), l.INDEX_NAME,
  TIMESTAMPDIFF(MICROSECOND, r.trx_wait_started, NOW()) / 1e6
FROM performance_schema.data_lock_waits w
JOIN information_schema.INNODB_TRX r ON r.trx_id = w.REQUESTING_ENGINE_TRANSACTION_ID
JOIN information_schema.INNODB_TRX b ON b.trx_id = w.BLOCKING_ENGINE_TRANSACTION_ID
JOIN performance_schema.data_locks l ON l.ENGINE_LOCK_ID = w.REQUESTING_ENGINE_LOCK_ID"""


def is_mariadb(version: str) -> bool:
    return "mariadb" in version.lower()


def collect(connection: Connection) -> ServerState:
    version, max_connections = connection.exec_driver_sql("SELECT VERSION(), @@max_connections").one()
    state = ServerState(version=version if is_mariadb(version) else f"MySQL {version}",
                        server_id=server_identity(connection))
    threads_connected = int(connection.exec_driver_sql("SHOW GLOBAL STATUS LIKE 'Threads_connected'").one()[1])
    rows = [row for row in connection.exec_driver_sql(_PROCESSLIST).all() if row[4] not in SYSTEM_COMMANDS]
    transactions = {thread: age for thread, age in connection.exec_driver_sql(_TRANSACTIONS).all()}
    waits = _lock_waits(connection, version, state.notes)
    state.lock_waits = waits
    blocking = {wait.blocked_id: wait.blocking_ids for wait in waits}
    state.sessions = [_session(row, transactions, blocking) for row in rows]
    state.usage = ConnectionUsage(
        connections=threads_connected,
        max_connections=int(max_connections),
        by_user=dict(Counter(row[1] or "?" for row in rows).most_common()),
        by_client=dict(Counter(split_host(row[2])[0] or "local socket" for row in rows).most_common()),
    )
    return state


def server_identity(connection: Connection) -> str:
    """What this server is, whatever URL reached it: MySQL's @@server_uuid; MariaDB has none, so its server_id,
    host name, port and data directory."""
    try:
        uuid = connection.exec_driver_sql("SELECT @@server_uuid").scalar()
    except Exception as exc:  # MariaDB: "Unknown system variable 'server_uuid'"
        if getattr(exc, "connection_invalidated", False):
            raise
        uuid = None
    if uuid:
        return f"mysql:{uuid}"
    server_id, hostname, port, datadir = connection.exec_driver_sql(
        "SELECT @@server_id, @@hostname, @@port, @@datadir").one()
    return f"mysql:{server_id}@{hostname}:{port}:{datadir}"


def split_host(host: str | None) -> tuple[str | None, int | None]:
    """PROCESSLIST.HOST is "addr:port" over TCP and "localhost" over the Unix socket."""
    if not host:
        return None, None
    address, _, port = host.rpartition(":")
    if address and port.isdigit():
        return address.strip("[]"), int(port)
    return (None if host == "localhost" else host), None


def _session(row: Any, transactions: dict[int, float], blocking: dict[int, list[int]]) -> DbSession:
    thread_id, user, host, database, command, seconds, thread_state, info = row
    client_addr, client_port = split_host(host)
    in_transaction = thread_id in transactions
    state = "idle in transaction" if command == "Sleep" and in_transaction else command
    return DbSession(
        id=int(thread_id), user=user or "", database=database or "", application="",
        client_addr=client_addr, client_port=client_port, state=state, wait=thread_state or "",
        xact_age_s=float(transactions[thread_id]) if in_transaction else None,
        query_age_s=float(seconds or 0), state_age_s=float(seconds or 0), query=redact_text(info or ""),
        blocking_ids=blocking.get(int(thread_id), []),
    )


def _lock_waits(connection: Connection, version: str, notes: list[str]) -> list[LockWait]:
    sql = _LOCK_WAITS_INFORMATION_SCHEMA if is_mariadb(version) or version.startswith("5.") \
        else _LOCK_WAITS_PERFORMANCE_SCHEMA
    try:
        rows = connection.exec_driver_sql(sql).all()
    except Exception as exc:  # a server without these tables (or without PROCESS) still shows its sessions
        if getattr(exc, "connection_invalidated", False):
            raise
        notes.append(f"InnoDB lock waits: {describe_error(exc)}")
        return []
    by_blocked: dict[int, LockWait] = {}
    for blocked, blocker, mode, lock_type, table, index, waited in rows:
        wait = by_blocked.get(int(blocked))
        if wait is None:
            lock = f"{mode} {lock_type.lower()} lock on {table}" + (f" index {index}" if index else "")
            wait = by_blocked[int(blocked)] = LockWait(
                blocked_id=int(blocked), blocking_ids=[], lock=lock, mode=mode, relation=table,
                waited_s=round(float(waited or 0), 3))
        if int(blocker) not in wait.blocking_ids:
            wait.blocking_ids.append(int(blocker))
    return sorted(by_blocked.values(), key=lambda w: w.blocked_id)


def explain(connection: Connection, thread_id: int) -> str:
    """The plan of the statement a thread is running: EXPLAIN of its text (plain EXPLAIN executes nothing).

    Not SHOW EXPLAIN FOR: a thread waiting for a row lock never answers it, and blocked statements are the ones
    worth explaining.
    """
    row = connection.exec_driver_sql(
        f"SELECT COMMAND, DB, INFO FROM information_schema.PROCESSLIST WHERE ID = {int(thread_id)}").first()
    if row is None:
        raise ValueError(f"thread {thread_id} no longer exists")
    command, database, info = row
    statement = explainable_statement(info or "")
    if database:
        connection.exec_driver_sql(f"USE `{database.replace('`', '``')}`")
    try:
        result = connection.exec_driver_sql(f"EXPLAIN {statement}")
    except Exception as exc:
        raise ValueError(f"thread {thread_id}: {describe_error(exc)}") from exc
    columns = list(result.keys())
    rows = [[("" if v is None else str(v)) for v in row] for row in result.all()]
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in rows]
    return redact_text("\n".join([f"thread {thread_id} ({command}): {statement[:200]}", "", *lines]))




def interrupt(connection: Connection, thread_id: int, terminate: bool, verify_s: float = VERIFY_S) -> Verified:
    """KILL QUERY (stop the statement) or KILL (end the connection), then re-read the processlist: done only once
    the thread is gone (KILL) or no longer runs that statement (KILL QUERY)."""
    thread_id = int(thread_id)

    def thread() -> Any:
        return connection.exec_driver_sql(
            f"SELECT COMMAND, TIME, INFO FROM information_schema.PROCESSLIST WHERE ID = {thread_id}").first()

    before = thread()
    if before is None:
        raise RuntimeError(f"thread {thread_id} no longer exists: nothing was sent")
    command, _seconds, info = before
    in_transaction = connection.exec_driver_sql(
        f"SELECT 1 FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = {thread_id}").first() is not None
    if not terminate and command not in RUNNING_STATES:
        idle = f"idle ({command}) in an open transaction" if in_transaction else f"idle ({command})"
        return Verified(False, f"thread {thread_id} is {idle}: it runs no query to cancel, nothing was sent. "
                               "Only killing the connection ends its transaction and frees its locks.")
    try:
        connection.exec_driver_sql(f"KILL {'' if terminate else 'QUERY '}{thread_id}")
    except Exception as exc:
        raise RuntimeError(f"thread {thread_id}: {describe_error(exc)}") from exc
    now = before

    def look() -> Verified | None:
        nonlocal now
        now = thread()
        if now is None:
            return Verified(True, f"{'killed' if terminate else 'killed the query of'} thread {thread_id}: "
                                  "the connection is gone")
        if not terminate and (now[0] not in RUNNING_STATES or now[2] != info):
            still_open = "; its transaction is still open and holds its locks (kill the connection to end it)" \
                if in_transaction and now[0] == "Sleep" else ""
            return Verified(True, f"killed the query of thread {thread_id}: it is now {now[0]}{still_open}")
        return None

    if seen := watch_for_effect(look, verify_s):
        return seen
    return Verified(False, f"sent KILL{'' if terminate else ' QUERY'} to thread {thread_id}, but after {verify_s:g}s "
                           f"it is still there ({now[0]})")
