"""Target discovery from real processes and config, URL normalisation, and one dead target not holding others up."""

from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from tests.children import READY, python_child
from tui.config import Config
from tui.databases.connection import UrlError, parse_url
from tui.databases.source import DatabasesSource
from tui.databases.targets import discover_targets, rails_database_urls

DATABASE_YML = textwrap.dedent("""\
    default: &default
      adapter: postgresql
      host: 127.0.0.1
      username: app
      password: <%= ENV['APP_DB_PASSWORD'] %>
    development:
      <<: *default
      database: app_dev
    production:
      primary:
        <<: *default
        port: 6543
        database: <%= ENV.fetch("APP_DB_NAME") { "app_prod" } %>
      cache:
        adapter: mysql2
        socket: /run/mysqld/mysqld.sock
        username: cache
        database: cache_prod
      local:
        adapter: sqlite3
        database: db/local.sqlite3
    """)


@pytest.fixture
def app_process(tmp_path):
    """A real process with database URLs in its environment and a Rails config under its working directory."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "database.yml").write_text(DATABASE_YML)
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": "postgres://app:env-Secret-1@127.0.0.1:6001/app",
           "ORDERS_DATABASE_URL": "mysql2://orders:env-Secret-2@127.0.0.1:6002/orders",
           "CACHE_URL": "redis://127.0.0.1:6379/0", "RAILS_ENV": "production", "APP_DB_PASSWORD": "yml-Secret-3"}
    process = python_child(f"import time; {READY}; time.sleep(60)", cwd=tmp_path, env=env)
    yield process
    process.kill()
    process.wait()


def test_targets_from_a_running_apps_environment_and_database_yml(app_process):
    flag_url = "postgresql://ops:flag-Secret-5@127.0.0.1:6005/ops"
    config = Config(db_urls=["postgresql://ops:cfg-Secret-0@127.0.0.1:6000/ops", flag_url], db_url_flags=[flag_url])
    targets, notes = discover_targets(config, environ={"DATABASE_URL": "mariadb://me:env-Secret-4@127.0.0.1:6004/x"})
    by_url = {t.info.url: t.info for t in targets}
    mine = {url: info for url, info in by_url.items() if info.origin_pid in (None, app_process.pid)}
    assert mine["postgresql://ops:••••••@127.0.0.1:6000/ops"].origin == "config file"
    assert mine["postgresql://ops:••••••@127.0.0.1:6005/ops"].origin == "--db"
    assert mine["mariadb://me:••••••@127.0.0.1:6004/x"].origin == "DATABASE_URL (tshoot's environment)"
    app_origin = mine["postgres://app:••••••@127.0.0.1:6001/app"].origin
    assert app_origin.startswith(f"pid {app_process.pid} (") and app_origin.endswith(") DATABASE_URL")
    assert mine["mysql2://orders:••••••@127.0.0.1:6002/orders"].dialect == "mysql"
    yml = [info for info in mine.values() if "database.yml [production]" in info.origin]
    assert sorted(info.url for info in yml) == [
        "mysql://cache@/cache_prod?unix_socket=%2Frun%2Fmysqld%2Fmysqld.sock",
        "postgresql://app:••••••@127.0.0.1:6543/app_prod",
    ]
    assert not any("redis" in url for url in by_url)
    records = json.dumps([dataclasses.asdict(t.info) for t in targets])
    assert not any(secret in records for secret in ("cfg-Secret-0", "flag-Secret-5", "env-Secret-1", "env-Secret-2", "yml-Secret-3"))
    secrets = {t.secret_url for t in targets}
    assert "postgresql://app:yml-Secret-3@127.0.0.1:6543/app_prod" in secrets  # kept, outside the records


def test_one_url_spelled_two_ways_is_one_target():
    config = Config(db_urls=["postgres://u:p@127.0.0.1:6000/d", "postgresql+psycopg://u:p@127.0.0.1:6000/d"])
    targets, _ = discover_targets(config, environ={}, scan_processes=False)
    assert len(targets) == 1


def test_rails_development_default_and_erb_defaults():
    (url,) = rails_database_urls(DATABASE_YML, "development", {"APP_DB_PASSWORD": "pw"})
    assert url == "postgresql://app:pw@127.0.0.1/app_dev"
    assert rails_database_urls(DATABASE_YML, "staging", {}) == []
    with pytest.raises(ValueError):
        rails_database_urls("- just\n- a list\n", "production", {})


@pytest.mark.parametrize("url, driver", [
    ("postgres://u@h/d", "postgresql+psycopg"), ("postgresql+psycopg2://u@h/d", "postgresql+psycopg"),
    ("mysql://u@h/d", "mysql+pymysql"), ("mariadb://u@h/d", "mysql+pymysql"), ("mysql2://u@h/d?reconnect=true",
                                                                               "mysql+pymysql"),
])
def test_urls_map_to_the_maintained_drivers(url, driver):
    parsed = parse_url(url)
    assert parsed.drivername == driver and "reconnect" not in parsed.query


def test_unsupported_url_is_a_clear_error():
    with pytest.raises(UrlError, match="unsupported scheme 'redis'"):
        parse_url("redis://h:6379/0")


def test_no_targets_is_unavailable_with_a_remedy():
    from tui.source import SourceUnavailable

    source = DatabasesSource(Config(), scan_processes=False)
    with pytest.raises(SourceUnavailable) as raised:
        source.collect()
    assert "--db" in raised.value.remedy
    source.close()


@pytest.fixture
def silent_server():
    """A port that accepts TCP connections and never says a word: a hung database."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield server.getsockname()[1]
    server.close()


@pytest.mark.services
def test_a_hung_and_a_dead_target_do_not_hold_up_a_healthy_one(pg_url, silent_server):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    config = Config(db_urls=[f"postgresql://x:y@127.0.0.1:{silent_server}/hung",
                             f"postgresql://x:y@127.0.0.1:{closed_port}/dead", pg_url], collector_timeout=1.5)
    source = DatabasesSource(config, scan_processes=False)
    try:
        hung, dead, healthy = source.collect().targets
        assert healthy.error is None and healthy.state.sessions is not None
        assert "no answer within" in hung.error
        assert dead.connection_check is not None and dead.connection_check.step("tcp").status == "fail"
        findings = source.analyze(source.collect())
        assert {f.subject["target"] for f in findings if f.id == "db-unreachable"} >= {dead.target.id}
    finally:
        source.close()


def test_a_target_says_whether_it_came_from_db_or_the_config_file(tmp_path):
    from tui.cli import _config, build_parser

    config_file = tmp_path / "config.toml"
    config_file.write_text('db_urls = ["postgresql://ops@127.0.0.1:6010/from_file"]\n')
    args = build_parser().parse_args(["--config", str(config_file), "--db", "postgresql://ops@127.0.0.1:6011/from_flag"])
    targets, _ = discover_targets(_config(args), environ={}, scan_processes=False)
    assert {t.info.url: t.info.origin for t in targets} == {
        "postgresql://ops@127.0.0.1:6010/from_file": "config file",
        "postgresql://ops@127.0.0.1:6011/from_flag": "--db",
    }


def test_a_rescan_finds_processes_started_or_re_executed_since_the_last_one(tmp_path):
    """Environments are remembered per process; an exec() can bring a new environment and must be read again."""
    go = tmp_path / "go"
    url = "postgresql://late:exec-Secret-7@127.0.0.1:6007/late"
    shell = subprocess.Popen(["sh", "-c", f"while [ ! -e {go} ]; do sleep 0.05; done; "
                              f"exec env DATABASE_URL={url} {sys.executable} -c 'import time; time.sleep(60)'"])
    try:
        def origins() -> dict[str, str]:
            targets, _ = discover_targets(Config(), environ={})
            return {t.secret_url: t.info.origin for t in targets if t.info.origin_pid == shell.pid}

        assert origins() == {}
        go.touch()
        deadline = time.monotonic() + 10
        while psutil.Process(shell.pid).name() == "sh" and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        found = origins()
        assert list(found) == [url] and found[url].endswith(" DATABASE_URL")
    finally:
        shell.kill()
        shell.wait()


def test_a_rescan_sees_a_new_working_directory_and_an_exec_under_the_same_name(tmp_path):
    """A chdir() changes where database.yml is looked for; an exec() of the same interpreter may bring
    a new environment: neither may be hidden by what the last rescan remembered."""
    app_dir, go, again = tmp_path / "app", tmp_path / "go", tmp_path / "again"
    (app_dir / "config").mkdir(parents=True)
    (app_dir / "config" / "database.yml").write_text(DATABASE_YML)
    url = "postgresql://late:exec-Secret-8@127.0.0.1:6008/late"
    code = textwrap.dedent(f"""
        import os, sys, time
        print("ready", flush=True)
        while not os.path.exists({str(go)!r}): time.sleep(0.05)
        os.chdir({str(app_dir)!r})
        while not os.path.exists({str(again)!r}): time.sleep(0.05)
        os.execve(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)"],
                  {{"PATH": "/usr/bin:/bin", "DATABASE_URL": {url!r}}})
    """)
    child = python_child(code, cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "RAILS_ENV": "production"})
    try:
        def origins() -> list[str]:
            targets, _ = discover_targets(Config(), environ={})
            return sorted(t.info.origin for t in targets if t.info.origin_pid == child.pid)

        assert origins() == []
        go.touch()
        deadline = time.monotonic() + 10
        while psutil.Process(child.pid).cwd() != str(app_dir) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert origins() and all("database.yml [production]" in origin for origin in origins())
        again.touch()
        while "DATABASE_URL" not in psutil.Process(child.pid).environ() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(origin.endswith(" DATABASE_URL") for origin in origins())
    finally:
        child.kill()
        child.wait()
