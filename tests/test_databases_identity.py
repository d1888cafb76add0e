"""One server is one target, whatever URL reached it; databases found in other processes are reported apart.

Against the real PostgreSQL and MariaDB: the same server named as 127.0.0.1 and localhost, or by --db and by an
app's DATABASE_URL, yields its findings once, under the operator's target.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from symptoms_support import context, result_of
from tests.test_databases_helpers import Sessions, unique_name
from tui.config import Config, Thresholds
from tui.databases import source as db_source
from tui.databases.analysis import reported_apart
from tui.databases.source import DatabasesSource
from tui.snapshot import collect_all

pytestmark = pytest.mark.services


def _as_localhost(url: str) -> str:
    return sa.make_url(url).set(host="localhost").render_as_string(hide_password=False)


def _as_loopback_ip(url: str) -> str:
    return sa.make_url(url).set(host="127.0.0.1").render_as_string(hide_password=False)


@pytest.fixture
def idle_transaction(pg_url):
    """A real session idle in transaction: a finding the server reports on every URL that reaches it."""
    sessions = Sessions(pg_url=pg_url)
    holder = sessions.pg(unique_name("tshoot-test-idle"), autocommit=False)
    holder.execute("SELECT 1")
    yield holder.info.backend_pid
    sessions.close()


@pytest.fixture
def app_process(request):
    """A child process whose DATABASE_URL is the given URL, as an app's would be."""
    children = []

    def start(url: str) -> subprocess.Popen:
        child = subprocess.Popen([sys.executable, "-c", "import sys; print('ready', flush=True); sys.stdin.read()"],
                                 env={**os.environ, "DATABASE_URL": url}, stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
        children.append(child)
        assert child.stdout.readline() == "ready\n"
        return child

    yield start
    for child in children:
        child.kill()
        child.wait()


def _idle_findings(findings, pid):
    return [f for f in findings if f.id == "idle-in-transaction" and f.subject["pid"] == pid]


def test_the_same_postgresql_as_127_0_0_1_and_localhost_is_one_target(pg_url, idle_transaction):
    ip, name = _as_loopback_ip(pg_url), _as_localhost(pg_url)
    source = DatabasesSource(Config(db_urls=[ip, name], db_url_flags=[ip],
                                    thresholds=Thresholds(idle_in_transaction_s=0)), scan_processes=False)
    try:
        section = source.collect()
    finally:
        source.close()
    first, second = section.targets
    assert first.state is not None and first.state.server_id.startswith("postgresql:")
    assert second.state is None and second.same_server_as == first.target.id and second.error is None
    (finding,) = _idle_findings(source.analyze(section), idle_transaction)
    assert finding.subject["target"] == first.target.id


def test_the_same_mariadb_twice_is_one_target(mysql_url):
    ip, name = _as_loopback_ip(mysql_url), _as_localhost(mysql_url)
    source = DatabasesSource(Config(db_urls=[ip, name]), scan_processes=False)
    try:
        section = source.collect()
    finally:
        source.close()
    first, second = section.targets
    assert first.state.server_id.startswith("mysql:") and "53306" in first.state.server_id
    assert second.same_server_as == first.target.id


def test_an_apps_url_for_the_named_server_is_merged_into_the_named_target(pg_url, idle_transaction, app_process,
                                                                            monkeypatch):
    """--db localhost and an app's 127.0.0.1: one target, the operator's; its findings once."""
    monkeypatch.setattr(db_source, "DISCOVERY_INTERVAL_S", 0.0)
    app = app_process(_as_loopback_ip(sa.make_url(pg_url).set(drivername="postgresql")
                                      .render_as_string(hide_password=False)))
    named = _as_localhost(pg_url)
    source = DatabasesSource(Config(db_urls=[named], db_url_flags=[named],
                                    thresholds=Thresholds(idle_in_transaction_s=0)))
    try:
        section = source.collect()
    finally:
        source.close()
    (from_app,) = [r for r in section.targets if r.target.origin_pid == app.pid]
    (operator,) = [r for r in section.targets if r.target.origin == "--db"]
    assert operator.state is not None and from_app.same_server_as == operator.target.id
    assert len(_idle_findings(source.analyze(section), idle_transaction)) == 1


def test_a_discovered_database_does_not_fail_a_guide_about_the_named_one(pg_url, app_process, monkeypatch):
    """A broken app database found in another process is reported apart: the named, healthy one passes."""
    monkeypatch.setattr(db_source, "DISCOVERY_INTERVAL_S", 0.0)
    broken = sa.make_url(pg_url).set(drivername="postgresql", port=1).render_as_string(hide_password=False)
    app = app_process(broken)
    config = Config(db_urls=[pg_url], db_url_flags=[pg_url])
    collection = collect_all(config, 0, sources=[DatabasesSource(config)])
    apart = [f for f in collection.findings if reported_apart(f)]
    assert any(f.id == "db-unreachable" and f.severity == "critical" for f in apart), collection.findings
    assert all(f.subject["target"] != sa.make_url(pg_url).render_as_string() for f in apart)
    result = result_of("db-connection", "unreachable", context(config, collection=collection))
    assert result.status == "pass", result.summary
    assert "found in other processes' settings, not counted" in result.summary
    assert result.evidence["discovered_databases"][0]["id"] == "db-unreachable"
    assert app.poll() is None


def test_a_check_that_measured_nothing_is_skipped_and_commands_name_the_target(pg_url):
    """Auth failed: 'free connection slots' was not measured, so it is not a pass; the commands are for this
    PostgreSQL on its own port, never MySQL's, never the default port, never with the password."""
    wrong = sa.make_url(pg_url).set(password="not-the-password-42").render_as_string(hide_password=False)
    config = Config(db_urls=[wrong])
    collection = collect_all(config, 0, sources=[DatabasesSource(config, scan_processes=False)])
    ctx = context(config, collection=collection)
    saturation = result_of("db-connection", "saturation", ctx)
    assert saturation.status == "skipped" and "nothing measured" in saturation.summary
    check = result_of("db-connection", "connection-check", ctx)
    port = sa.make_url(pg_url).port
    assert check.status == "fail"
    commands = check.fix.commands
    assert f"pg_isready -h 127.0.0.1 -p {port}" in commands
    assert f"psql -h 127.0.0.1 -p {port} -U postgres -d postgres -c 'select 1'" in commands
    assert not any("mysql" in c or "3306" in c or ":5432" in c or "-p 5432" in c for c in commands), commands
    assert "not-the-password-42" not in repr(check)


def test_one_unreachable_server_named_twice_is_one_finding(pg_url):
    """Nothing listens: 127.0.0.1 and localhost on that port are the same missing server, reported once."""
    closed = sa.make_url(pg_url).set(port=1)
    ip = closed.set(host="127.0.0.1").render_as_string(hide_password=False)
    name = closed.set(host="localhost").render_as_string(hide_password=False)
    source = DatabasesSource(Config(db_urls=[ip, name]), scan_processes=False)
    try:
        section = source.collect()
    finally:
        source.close()
    first, second = section.targets
    assert first.connection_check is not None and second.same_server_as == first.target.id
    assert [f.id for f in source.analyze(section)] == ["db-unreachable"]
