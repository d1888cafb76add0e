"""The databases source against a real MariaDB: InnoDB lock waits, idle transactions, saturation, KILL."""

from __future__ import annotations

import os

import pytest

from tests.test_databases_helpers import Sessions, unique_name, wait_until
from tui.actions import Action, ActionLog
from tui.config import Config, Thresholds
from tui.databases.source import DatabasesSource

pytestmark = pytest.mark.services


@pytest.fixture
def sessions(mysql_url):
    opened = Sessions(mysql_url=mysql_url)
    yield opened
    opened.close()


@pytest.fixture
def table(sessions):
    name = unique_name()
    admin = sessions.mysql()
    with admin.cursor() as cursor:
        cursor.execute("CREATE DATABASE IF NOT EXISTS tshoot_test")
        cursor.execute(f"CREATE TABLE tshoot_test.{name} (id int PRIMARY KEY, v int) ENGINE=InnoDB")
        cursor.execute(f"INSERT INTO tshoot_test.{name} VALUES (1, 0)")
    yield f"tshoot_test.{name}"
    sessions.close()  # end the test's transactions first, or DROP waits for their locks
    with sessions.mysql().cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS tshoot_test.{name}")
    sessions.close()


@pytest.fixture
def source_factory(mysql_url):
    made: list[DatabasesSource] = []

    def make(**thresholds) -> DatabasesSource:
        config = Config(db_urls=[mysql_url], thresholds=Thresholds(**thresholds))
        made.append(DatabasesSource(config, scan_processes=False))
        return made[-1]

    yield make
    for source in made:
        source.close()


def _thread_id(connection) -> int:
    return connection.thread_id()


def _lock_waiting(admin, thread_id: int) -> bool:
    with admin.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = %s "
                       "AND trx_state = 'LOCK WAIT'", (thread_id,))
        return cursor.fetchone()[0] == 1


def test_innodb_lock_wait_behind_an_idle_transaction(sessions, table, source_factory):
    holder = sessions.mysql()
    with holder.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute(f"UPDATE {table} SET v = v + 1 WHERE id = 1")
    waiter, watcher = sessions.mysql(), sessions.mysql()
    outcome = sessions.in_background(waiter, f"UPDATE {table} SET v = v + 10 WHERE id = 1")
    # InnoDB refreshes its INNODB_TRX cache only after 100 ms without readers: poll slower than that.
    wait_until(lambda: _lock_waiting(watcher, waiter.thread_id()), "the waiter to block", every=0.25)

    source = source_factory(blocked_query_s=0, idle_in_transaction_s=0)
    section = source.collect()
    (result,) = section.targets
    assert result.error is None, result.error
    sessions_by_id = {s.id: s for s in result.state.sessions}
    holder_session = sessions_by_id[holder.thread_id()]
    assert holder_session.state == "idle in transaction"
    assert holder_session.local_pid == os.getpid()
    assert sessions_by_id[waiter.thread_id()].blocking_ids == [holder.thread_id()]

    findings = source.analyze(section)
    blocked = next(f for f in findings if f.id == "blocked-query" and f.subject["pid"] == waiter.thread_id())
    assert blocked.evidence["blocked_pid"] == waiter.thread_id()
    assert blocked.evidence["blocking_pids"] == [holder.thread_id()]
    assert table.split(".")[1] in blocked.evidence["lock"] and blocked.evidence["waited_s"] >= 0
    assert any(f.id == "idle-in-transaction" and f.subject["pid"] == holder.thread_id() for f in findings)

    plan = source.explain(result.target.id, waiter.thread_id())
    assert "PRIMARY" in plan or "const" in plan or "range" in plan, plan

    # The holder runs no statement: KILL QUERY would change nothing, so nothing is sent and nothing is "done".
    log = ActionLog(read_only=False)
    entry = log.perform(Action("cancel query", "databases", f"thread {holder.thread_id()}"),
                        lambda: source.cancel(result.target.id, holder.thread_id()))
    assert entry.outcome == "no effect", entry
    assert "open transaction" in entry.message and "no query to cancel" in entry.message
    assert _lock_waiting(watcher, waiter.thread_id())  # still blocked: indeed nothing changed

    verified = source.cancel(result.target.id, waiter.thread_id())
    assert verified.effect, verified
    wait_until(lambda: outcome, "the waiting statement to be killed")
    assert "interrupted" in str(outcome["error"]).lower()


def test_threads_connected_against_max_connections(sessions, source_factory):
    for _ in range(8):
        sessions.mysql()
    source = source_factory(connection_saturation_percent=1)
    section = source.collect()
    usage = section.targets[0].state.usage
    assert usage.connections >= 8 and usage.max_connections > 0
    assert usage.by_user["root"] >= 8
    finding = next(f for f in source.analyze(section) if f.id == "connection-saturation")
    assert finding.evidence["connections"] == usage.connections


def test_terminate_ends_the_session(sessions, source_factory):
    victim, watcher = sessions.mysql(), sessions.mysql()
    source = source_factory()
    target = source.collect().targets[0].target
    verified = source.terminate(target.id, victim.thread_id())
    assert verified.effect and "killed thread" in verified.message and "gone" in verified.message

    def gone() -> bool:
        with watcher.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = %s", (victim.thread_id(),))
            return cursor.fetchone()[0] == 0

    wait_until(gone, "the killed thread to leave the processlist")
    with pytest.raises(RuntimeError, match="no longer exists"):
        source.terminate(target.id, victim.thread_id())
