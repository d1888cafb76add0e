"""tshoot never sprays credentials: a login a server refused is tried once, and discovery logins can be off.

Against the real PostgreSQL: a real child process holds a DATABASE_URL with a wrong password for a real role;
the server's own log counts the failed logins tshoot caused.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from tests.test_databases_helpers import plain_pg_dsn, unique_name
from tui.config import Config
from tui.databases import source as db_source
from tui.databases.source import DatabasesSource

pytestmark = pytest.mark.services

PG_LOG = Path(os.environ.get("TSHOOT_SERVICES_DIR", "/tmp/tshoot-services")) / "postgres.log"
POLLS = 6


@pytest.fixture
def role(pg_url):
    """A real login role with a known password, dropped afterwards."""
    name = unique_name("tshoot_spray")
    with psycopg.connect(plain_pg_dsn(pg_url), autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {name} LOGIN PASSWORD 'the-right-one'")
    yield name
    with psycopg.connect(plain_pg_dsn(pg_url), autocommit=True) as admin:
        admin.execute(f"DROP ROLE IF EXISTS {name}")


@pytest.fixture
def app_with_a_wrong_password(pg_url, role):
    """A child process whose DATABASE_URL names the role with a wrong password, as a misconfigured app would."""
    url = sa.make_url(pg_url).set(drivername="postgresql", username=role, password="not-the-right-one")
    env = {**os.environ, "DATABASE_URL": url.render_as_string(hide_password=False)}
    child = subprocess.Popen([sys.executable, "-c", "import sys; print('ready', flush=True); sys.stdin.read()"],
                             env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline() == "ready\n"  # its environment is published once it runs
    yield child
    child.kill()
    child.wait()


def _failed_logins(role: str, since: int) -> int:
    time.sleep(0.5)  # the server writes its log line as it refuses the login; give the logger a moment
    with PG_LOG.open("rb") as log:
        log.seek(since)
        return log.read().decode("utf-8", "replace").count(f'password authentication failed for user "{role}"')


def _poll(config: Config, monkeypatch) -> list:
    # Without the memory of refused logins, every poll would try again: no retry delay, rediscovery each time.
    monkeypatch.setattr(db_source, "RETRY_FAILED_S", 0.0)
    monkeypatch.setattr(db_source, "DISCOVERY_INTERVAL_S", 0.0)
    results = []
    for _ in range(2):  # two sources: the memory lasts as long as tshoot runs, not as one source
        source = DatabasesSource(config)
        try:
            for _ in range(POLLS // 2):
                results.append(source.collect())
        finally:
            source.close()
    return results


def _ours(section, child) -> list:
    return [r for r in section.targets if r.target.origin_pid == child.pid]


def test_a_refused_discovered_login_is_tried_exactly_once(role, app_with_a_wrong_password, monkeypatch):
    since = PG_LOG.stat().st_size
    sections = _poll(Config(discover_db_logins=True), monkeypatch)
    assert all(len(_ours(s, app_with_a_wrong_password)) == 1 for s in sections)
    last = _ours(sections[-1], app_with_a_wrong_password)[0]
    assert "never retries a refused login" in last.error and last.connection_check.step("auth").status == "fail"
    assert _failed_logins(role, since) == 1


def test_with_discovery_logins_off_a_discovered_database_is_never_logged_in_to(role, app_with_a_wrong_password,
                                                                                 monkeypatch):
    since = PG_LOG.stat().st_size
    sections = _poll(Config(discover_db_logins=False), monkeypatch)
    ours = [r for s in sections for r in _ours(s, app_with_a_wrong_password)]
    assert len(ours) == POLLS and all("discover_db_logins = false" in r.not_connected for r in ours)
    assert all(r.state is None and r.connection_check is None for r in ours)
    assert _failed_logins(role, since) == 0


def test_an_env_database_side_with_a_refused_login_is_not_retried_on_every_poll(pg_url, role):
    """The Env pane reloads its sides each poll; a db: side whose login was refused must not be tried again."""
    from tui.env.side import SideError
    from tui.env.sides import load_side

    wrong = sa.make_url(pg_url).set(username=role, password="still-wrong").render_as_string(hide_password=False)
    since = PG_LOG.stat().st_size
    errors = []
    for _ in range(3):
        with pytest.raises(SideError) as raised:
            load_side(f"db:{wrong}")
        errors.append(str(raised.value))
    assert "password authentication failed" in errors[0]
    assert all("not logged in again" in e for e in errors[1:]) and "still-wrong" not in "".join(errors)
    assert _failed_logins(role, since) == 1


def test_a_login_refused_by_the_connection_check_of_a_failed_poll_is_remembered(monkeypatch):
    """A refused login found while diagnosing a failed poll counts like any other: never tried again on its own."""
    import types

    from tui.databases import source as db_source
    from tui.databases.logins import REFUSED_LOGINS
    from tui.databases.records import ConnectionReport, CheckStep, TargetInfo
    from tui.databases.targets import Target

    url = "postgresql://app:rotated-secret@127.0.0.1:59999/shop"
    info = TargetInfo(id="postgresql://app:***@127.0.0.1:59999/shop", url="postgresql://app:***@127.0.0.1:59999/shop",
                      dialect="postgresql", origin="--db")
    target = db_source.TargetConnection(Target(info, url))
    # the connection was up; the server then dropped it (the password was changed and the session killed)
    target._connection = types.SimpleNamespace(closed=False, invalidated=False, close=lambda: None)
    monkeypatch.setattr(target, "_module", lambda: types.SimpleNamespace(
        collect=lambda connection: (_ for _ in ()).throw(RuntimeError("server closed the connection"))))
    logins = []

    def diagnose(url_, timeout, login_error=None):  # the connection check logs in once more: refused
        logins.append(url_)
        return ConnectionReport(url=info.url, dialect="postgresql", steps=[
            CheckStep("auth", "fail", "password authentication failed", {"reason": "password"})])

    monkeypatch.setattr(db_source, "diagnose", diagnose)
    try:
        target.poll()
        assert len(logins) == 1
        assert REFUSED_LOGINS.refused(url) is not None, "the refused credential would be tried again"
    finally:
        REFUSED_LOGINS.forget(url)
