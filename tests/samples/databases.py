"""A Databases section: a PostgreSQL target with a blocking chain behind an idle transaction, a MariaDB target,
and one that fails at the TCP step — for Pilot and screenshot tests."""

from __future__ import annotations

from tui.config import Thresholds
from tui.databases.analysis import analyze
from tui.databases.records import (ConnectionReport, ConnectionUsage, DatabasesSection, DbSession, CheckStep,
                                   LockWait, ServerState, TableScans, TargetInfo, TargetResult, TopStatement)
from tui.findings import Finding

PG = TargetInfo(id="postgresql://app:••••••@127.0.0.1:5432/shop", url="postgresql://app:••••••@127.0.0.1:5432/shop",
                dialect="postgresql", origin="pid 812 (gunicorn) DATABASE_URL", origin_pid=812)
MY = TargetInfo(id="mysql://root:••••••@127.0.0.1:3306/crm", url="mysql://root:••••••@127.0.0.1:3306/crm",
                dialect="mysql", origin="--db")
DEAD = TargetInfo(id="postgres://report:••••••@127.0.0.1:6543/reports", url="postgres://report:••••••@127.0.0.1:6543/reports",
                  dialect="postgresql", origin="DATABASE_URL (tshoot's environment)")


def _session(pid: int, state: str, query: str, **fields) -> DbSession:
    base = dict(id=pid, user="app", database="shop", application="gunicorn", client_addr="127.0.0.1",
                client_port=40000 + pid % 1000, state=state, wait="", xact_age_s=None, query_age_s=0.5,
                state_age_s=0.5, query=query)
    return DbSession(**{**base, **fields})


def section() -> DatabasesSection:
    pg_sessions = [
        _session(4101, "idle in transaction", "UPDATE orders SET status = 'paid' WHERE id = 7", xact_age_s=95.0,
                 query_age_s=94.0, state_age_s=94.0, local_pid=2231, local_process="gunicorn"),
        _session(4102, "active", "UPDATE orders SET status = 'shipped' WHERE id = 7", wait="Lock:transactionid",
                 xact_age_s=41.0, query_age_s=41.0, state_age_s=41.0, blocking_ids=[4101], local_pid=2232,
                 local_process="gunicorn"),
        _session(4103, "active", "UPDATE orders SET note = 'x' WHERE id = 7", wait="Lock:tuple", xact_age_s=12.0,
                 query_age_s=12.0, state_age_s=12.0, blocking_ids=[4102], application="worker",
                 client_addr="10.0.0.8", client_port=51515),
        _session(4104, "active", "SELECT count(*) FROM events WHERE kind = 'click'", xact_age_s=48.0,
                 query_age_s=48.0, state_age_s=48.0, application="reports"),
        _session(4105, "idle", "SELECT 1", application="gunicorn"),
    ]
    pg = ServerState(
        version="PostgreSQL 15.18",
        sessions=pg_sessions,
        lock_waits=[
            LockWait(4102, [4101], "ShareLock on transaction 9001 (row of public.orders)", "ShareLock",
                     "public.orders", 41.0),
            LockWait(4103, [4102], "ExclusiveLock on tuple of public.orders", "ExclusiveLock", "public.orders", 12.0),
        ],
        usage=ConnectionUsage(86, 100, by_user={"app": 80, "report": 6},
                              by_application={"gunicorn": 78, "reports": 6, "worker": 2},
                              by_client={"127.0.0.1": 84, "10.0.0.8": 2}),
        tables=[TableScans("public.events", 420, 84_000_000, 3, 200_000)],
        top_statements=[TopStatement("SELECT count(*) FROM events WHERE kind = $1", 420, 96_000.0, 228.6, 420)],
    )
    mysql = ServerState(
        version="10.11.19-MariaDB",
        sessions=[DbSession(id=77, user="crm", database="crm", application="", client_addr="127.0.0.1",
                            client_port=45012, state="Sleep", wait="", xact_age_s=None, query_age_s=3.0,
                            state_age_s=3.0, query="")],
        usage=ConnectionUsage(12, 150, by_user={"crm": 12}, by_client={"127.0.0.1": 12}),
    )
    check = ConnectionReport(url=DEAD.url, dialect="postgresql", steps=[
        CheckStep("url", "pass", "PostgreSQL at 127.0.0.1:6543", {}),
        CheckStep("dns", "pass", "127.0.0.1 -> 127.0.0.1", {}),
        CheckStep("tcp", "fail", "connection to 127.0.0.1:6543 refused: nothing listens there",
                   {"address": "127.0.0.1", "port": 6543, "outcome": "refused"},
                   "The PostgreSQL server runs but listens on 5432: fix the port in the URL or the server's settings."),
        CheckStep("local-listener", "fail", "nothing listens on port 6543; the PostgreSQL server (pid 700) listens "
                   "on 5432", {"server_ports": [5432]},
                   "The PostgreSQL server runs but listens on 5432: fix the port in the URL or the server's settings."),
        CheckStep("auth", "skipped", "not run: the tcp step failed"),
        CheckStep("query", "skipped", "not run: the tcp step failed"),
    ])
    return DatabasesSection(targets=[
        TargetResult(PG, state=pg, collect_ms=6.1),
        TargetResult(MY, state=mysql, collect_ms=4.8),
        TargetResult(DEAD, error="connection refused", connection_check=check),
    ])


def findings() -> list[Finding]:
    return analyze(section(), Thresholds())
