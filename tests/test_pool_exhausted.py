"""Connection pool exhaustion: threads waiting in SQLAlchemy's checkout, told apart as leaked or too small
by the process's own sessions on the real PostgreSQL."""

from __future__ import annotations

import selectors
import subprocess
import sys
import time

import pytest

from programs.threads.support import PROGRAMS, pyspy_works, stop  # noqa: F401  (fixture)
from tui.config import Config
from tui.correlate import correlate
from tui.databases.source import DatabasesSource
from tui.threads.source import ThreadsSource


@pytest.fixture
def app_with_a_pool(pg_url, pyspy_works):
    started = []

    def start(mode: str) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, str(PROGRAMS / "pool_exhausted.py"), pg_url, mode],
                                   stdout=subprocess.PIPE, text=True)
        started.append(process)
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            assert selector.select(20) and process.stdout.readline().strip() == "ready"
        return process

    yield start
    for process in started:
        stop(process)


def findings_for(pid: int, pg_url: str) -> list:
    config = Config(find_stuck=False, pids=[pid], db_urls=[pg_url], thread_samples=2, thread_sample_interval=0.3)
    threads, databases = ThreadsSource(config), DatabasesSource(config)
    for _ in range(3):
        thread_section = threads.collect()
        time.sleep(0.8)
    database_section = databases.collect()
    found = threads.analyze(thread_section)
    return correlate(found, {"threads": thread_section, "databases": database_section})


@pytest.mark.services
def test_leaked_connections_are_told_from_the_sessions_idle_in_transaction(app_with_a_pool, pg_url):
    process = app_with_a_pool("leak")
    exhausted = [f for f in findings_for(process.pid, pg_url) if f.id == "pool-exhausted"]
    assert len(exhausted) == 1, exhausted
    finding = exhausted[0]
    assert finding.severity == "critical" and finding.subject["pid"] == process.pid
    assert {w["name"] for w in finding.evidence["waiters"]} == {"request-0", "request-1", "request-2"}
    assert all(w["asked_at"].endswith("pool_exhausted.py:29") for w in finding.evidence["waiters"])
    assert finding.evidence["pool_timeout"] == "600"
    assert finding.evidence["verdict"].startswith("leaked: 2 of this process's 2 database sessions")
    assert finding.title.endswith(": leaked")


@pytest.mark.services
def test_connections_busy_with_queries_mean_the_pool_is_too_small(app_with_a_pool, pg_url):
    process = app_with_a_pool("slow")
    finding = next(f for f in findings_for(process.pid, pg_url) if f.id == "pool-exhausted")
    assert finding.evidence["verdict"].startswith("too small or slow: 2 of this process's 2")


def test_a_mysql_pool_busy_with_queries_is_too_small_not_undecided():
    """MySQL sessions say `Query`/`Execute` when they run a statement, never PostgreSQL's `active`."""
    from tui.databases.records import DbSession, ServerState, TargetResult
    from tui.findings import Finding

    def session(n: int, state: str) -> DbSession:
        return DbSession(id=n, user="app", database="shop", application="", client_addr=None, client_port=None,
                         state=state, wait="", xact_age_s=None, query_age_s=1.0, state_age_s=1.0,
                         query="SELECT SLEEP(30)", local_pid=77)

    target = TargetResult(target=None, state=ServerState(version="8.0", sessions=[
        session(1, "Query"), session(2, "Query"), session(3, "Execute")]))
    databases = type("Section", (), {"targets": [target]})()
    exhausted = Finding(id="pool-exhausted", severity="critical", source="threads", title="pool", detail="",
                        subject={"pid": 77}, evidence={})
    [verdict] = correlate([exhausted], {"databases": databases})
    assert verdict.evidence["verdict"].startswith("too small"), verdict.evidence["verdict"]
