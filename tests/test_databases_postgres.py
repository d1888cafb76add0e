"""The databases source against a real PostgreSQL: blocking chains, idle transactions, saturation, scans."""

from __future__ import annotations

import dataclasses
import json
import os
import re

import psutil
import pytest
import sqlalchemy as sa

from tests.test_databases_helpers import Sessions, unique_name, wait_until
from tui.actions import Action, ActionLog
from tui.config import Config, Thresholds
from tui.databases.analysis import blocking_tree, root_blockers
from tui.databases.source import DatabasesSource
from tui.source import section_from_json, section_to_json

pytestmark = pytest.mark.services


@pytest.fixture
def sessions(pg_url):
    opened = Sessions(pg_url=pg_url)
    yield opened
    opened.close()


@pytest.fixture
def table(sessions):
    """A one-row table to fight over; dropped afterwards."""
    name = unique_name()
    admin = sessions.pg(unique_name("tshoot-test-admin"))
    admin.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, v int)")
    admin.execute(f"INSERT INTO {name} VALUES (1, 0)")
    yield name
    sessions.close()  # end the test's transactions first, or DROP waits for their locks
    sessions.pg(unique_name("tshoot-test-admin")).execute(f"DROP TABLE IF EXISTS {name}")
    sessions.close()


def make_source(pg_url: str, **thresholds) -> DatabasesSource:
    return DatabasesSource(Config(db_urls=[pg_url], thresholds=Thresholds(**thresholds)), scan_processes=False)


@pytest.fixture
def source_factory(pg_url):
    made: list[DatabasesSource] = []

    def make(**thresholds) -> DatabasesSource:
        made.append(make_source(pg_url, **thresholds))
        return made[-1]

    yield make
    for source in made:
        source.close()


def _backend_waiting(pid: int, admin) -> bool:
    return admin.execute("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()[0]


def _only_target(section):
    (result,) = section.targets
    assert result.error is None, result.error
    return result


def test_row_lock_behind_an_idle_transaction(sessions, table, source_factory):
    holder = sessions.pg("tshoot-test-holder", autocommit=False)
    holder.execute(f"UPDATE {table} SET v = v + 1 WHERE id = 1")  # and never commits: idle in transaction
    waiter = sessions.pg("tshoot-test-waiter")
    outcome = sessions.in_background(waiter, f"UPDATE {table} SET v = v + 10 WHERE id = 1")
    watcher = sessions.pg("tshoot-test-watcher")
    wait_until(lambda: _backend_waiting(waiter.info.backend_pid, watcher), "the waiter to block")

    source = source_factory(blocked_query_s=0, idle_in_transaction_s=0)
    section = source.collect()
    result = _only_target(section)
    by_app = {s.application: s for s in result.state.sessions}
    holder_session, waiter_session = by_app["tshoot-test-holder"], by_app["tshoot-test-waiter"]
    assert holder_session.state == "idle in transaction"
    assert waiter_session.blocking_ids == [holder.info.backend_pid]
    assert holder_session.local_pid == os.getpid()  # the client socket is this test process's

    (wait,) = [w for w in result.state.lock_waits if w.blocked_id == waiter.info.backend_pid]
    assert table in (wait.relation or "") and wait.mode == "ShareLock"

    findings = source.analyze(section)
    blocked = next(f for f in findings if f.id == "blocked-query" and f.subject["pid"] == waiter.info.backend_pid)
    assert blocked.severity == "critical"
    assert {"blocked_pid", "blocking_pids", "lock", "waited_s"} <= set(blocked.evidence)
    assert blocked.evidence["blocking_pids"] == [holder.info.backend_pid]
    idle = next(f for f in findings if f.id == "idle-in-transaction" and f.subject["pid"] == holder.info.backend_pid)
    assert idle.evidence["blocks"] == [waiter.info.backend_pid]
    assert not any(f.id == "slow-query" and f.subject["pid"] == waiter.info.backend_pid for f in findings)

    plan = source.explain(result.target.id, waiter.info.backend_pid)
    assert f"Update on {table}" in plan

    # The snapshot form of the section replays into the same records and the same findings.
    replayed = section_from_json(source.section_type, json.loads(json.dumps(section_to_json(section))))
    assert [f.key for f in source.analyze(replayed)] == [f.key for f in findings]

    # `c` on the idle-in-transaction holder: there is no running query, so nothing is sent and nothing is "done".
    log = ActionLog(read_only=False)
    entry = log.perform(Action("cancel query", "databases", f"session {holder.info.backend_pid}"),
                        lambda: source.cancel(result.target.id, holder.info.backend_pid))
    assert entry.outcome == "no effect", entry
    assert "idle in transaction" in entry.message and "no query to cancel" in entry.message
    assert _backend_waiting(waiter.info.backend_pid, watcher)  # the waiter is still blocked: indeed no effect

    entry = log.perform(Action("terminate session", "databases", f"session {holder.info.backend_pid}"),
                        lambda: source.terminate(result.target.id, holder.info.backend_pid))
    assert entry.outcome == "done" and "gone" in entry.message, entry
    wait_until(lambda: outcome, "the waiter to get its lock once the holder is gone")
    assert outcome.get("done") is True


def test_chain_of_three_and_cancel(sessions, table, source_factory):
    first = sessions.pg("tshoot-test-first", autocommit=False)
    first.execute(f"UPDATE {table} SET v = 1 WHERE id = 1")
    second, third = sessions.pg("tshoot-test-second"), sessions.pg("tshoot-test-third")
    watcher = sessions.pg("tshoot-test-watcher")
    second_outcome = sessions.in_background(second, f"UPDATE {table} SET v = 2 WHERE id = 1")
    wait_until(lambda: _backend_waiting(second.info.backend_pid, watcher), "the second to block")
    third_outcome = sessions.in_background(third, f"UPDATE {table} SET v = 3 WHERE id = 1")
    wait_until(lambda: _backend_waiting(third.info.backend_pid, watcher), "the third to block")

    source = source_factory(blocked_query_s=0)
    result = _only_target(source.collect())
    pids = [c.info.backend_pid for c in (first, second, third)]
    waits = [w for w in result.state.lock_waits if w.blocked_id in pids]
    assert root_blockers(pids[2], waits) == [pids[0]]
    assert blocking_tree(waits) == [(0, pids[0]), (1, pids[1]), (2, pids[2])]

    verified = source.cancel(result.target.id, pids[2])
    assert verified.effect and "now idle" in verified.message, verified
    wait_until(lambda: third_outcome, "the third statement to be cancelled")
    assert "cancel" in str(third_outcome["error"]).lower()
    first.rollback()
    wait_until(lambda: second_outcome, "the second statement to finish")


def test_connection_saturation_is_broken_down_by_application(sessions, source_factory):
    application = unique_name("tshoot-test-pool")
    for _ in range(12):
        sessions.pg(application)
    source = source_factory(connection_saturation_percent=1)
    section = source.collect()
    usage = _only_target(section).state.usage
    assert usage.by_application[application] == 12
    assert usage.connections >= 12 and usage.max_connections > 0
    finding = next(f for f in source.analyze(section) if f.id == "connection-saturation")
    assert finding.evidence["by_application"][application] == 12
    assert {"connections", "max_connections", "percent", "by_user", "by_client"} <= set(finding.evidence)


def test_missing_index_and_top_statements(sessions, source_factory):
    name = unique_name()
    client = sessions.pg(unique_name("tshoot-test-scanner"))
    client.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    client.execute(f"CREATE TABLE {name} (id int, v int)")
    try:
        client.execute(f"INSERT INTO {name} SELECT g, g % 1000 FROM generate_series(1, 20000) g")
        client.execute(f"ANALYZE {name}")
        for _ in range(60):
            client.execute(f"SELECT count(*) FROM {name} WHERE v = 7")
        marker = unique_name("tshoot_test_marker")
        client.execute(f"SELECT pg_sleep(0.3), '{marker}'")
        client.execute("SELECT pg_stat_force_next_flush()")
        client.execute("SELECT 1")  # the flush happens at this statement's end

        source = source_factory()
        section = source.collect()
        state = _only_target(section).state
        finding = next(f for f in source.analyze(section) if f.id == "missing-index" and name in f.subject["table"])
        assert finding.severity == "info"
        assert finding.evidence["seq_scan"] >= 60 and finding.evidence["idx_scan"] == 0
        assert any("pg_sleep" in s.query for s in state.top_statements)
        assert not any(s.query.startswith("/* tshoot */") for s in state.top_statements)
    finally:
        client.execute(f"DROP TABLE IF EXISTS {name}")


def test_tshoot_is_a_good_guest(sessions, source_factory):
    source = source_factory()
    result = _only_target(source.collect())
    assert not any(s.application == "tshoot" for s in result.state.sessions)
    watcher = sessions.pg("tshoot-test-watcher")
    (ours,) = watcher.execute(
        "SELECT state, backend_xid, pid FROM pg_stat_activity WHERE application_name = 'tshoot' AND pid IN "
        "(SELECT pid FROM pg_stat_activity WHERE client_port = ANY(%s))",
        ([c.laddr.port for c in psutil.Process().net_connections("tcp") if c.raddr],),
    ).fetchall()
    assert ours[0] == "idle" and ours[1] is None  # one connection, no transaction held between polls
    target = source._targets[result.target.id]
    timeouts = target.use(lambda _m, c: c.exec_driver_sql("SELECT current_setting('statement_timeout'), "
                                                          "current_setting('lock_timeout')").one())
    assert tuple(timeouts) == ("3s", "1s")


def test_records_never_hold_the_password(pg_url, source_factory):
    source = source_factory()
    section = source.collect()
    password = sa.make_url(pg_url).password
    assert password not in json.dumps(dataclasses.asdict(section))
    assert "••••••" in section.targets[0].target.url


@pytest.fixture
def other_database(pg_url):
    """A second database on the same server with a one-row table: tshoot stays connected to the first one."""
    name = unique_name("tshoot_test_db")
    admin_dsn = sa.make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    import psycopg

    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = sa.make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    opened = Sessions(pg_url=url)
    opened.pg("tshoot-test-admin").execute("CREATE TABLE accounts (id int PRIMARY KEY, v int); "
                                           "INSERT INTO accounts VALUES (1, 0)")
    yield name, opened
    opened.close()
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _block_in(opened: Sessions, watcher) -> tuple[int, int]:
    holder = opened.pg("tshoot-test-holder", autocommit=False)
    holder.execute("UPDATE accounts SET v = 1 WHERE id = 1")
    waiter = opened.pg("tshoot-test-waiter")
    opened.in_background(waiter, "UPDATE accounts SET v = 2 WHERE id = 1")
    wait_until(lambda: _backend_waiting(waiter.info.backend_pid, watcher), "the waiter to block")
    return holder.info.backend_pid, waiter.info.backend_pid


def test_a_lock_in_another_database_is_named_not_shown_as_an_oid(other_database, sessions, source_factory):
    name, opened = other_database
    _, waiter = _block_in(opened, sessions.pg("tshoot-test-watcher"))
    source = source_factory(blocked_query_s=0)  # connected to the first database, not to `name`
    (wait,) = [w for w in _only_target(source.collect()).state.lock_waits if w.blocked_id == waiter]
    assert wait.relation == f'public.accounts in database "{name}"', wait
    assert f'row of public.accounts in database "{name}"' in wait.lock


def test_a_lock_in_a_database_tshoot_cannot_enter_says_which_database(other_database, sessions, source_factory,
                                                                      monkeypatch):
    from tui.databases import postgres

    attempts = []

    def refused(*args, **_kwargs):
        attempts.append(args[0].database)
        raise RuntimeError("no CONNECT privilege")

    monkeypatch.setattr(postgres, "open_connection", refused)
    monkeypatch.setattr(postgres, "_other_database_names", {})
    monkeypatch.setattr(postgres.REFUSED_LOGINS, "_refused", {})
    name, opened = other_database
    _, waiter = _block_in(opened, sessions.pg("tshoot-test-watcher"))
    source = source_factory(blocked_query_s=0)
    (wait,) = [w for w in _only_target(source.collect()).state.lock_waits if w.blocked_id == waiter]
    assert re.fullmatch(rf'relation \d+ in database "{name}"', wait.relation), wait
    monkeypatch.setattr(postgres, "_other_database_names", {})  # even once the names are stale: not tried again
    (again,) = [w for w in _only_target(source.collect()).state.lock_waits if w.blocked_id == waiter]
    assert again.relation == wait.relation and attempts == [name]
