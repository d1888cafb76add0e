"""Real sides: a child process started with a known environment, a container, databases, an interpreter,
and the Env source's own findings about them."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy

from tests.children import program_child
from tui.config import Config
from tui.env.diff import CHANGED, ONLY_LEFT, ONLY_RIGHT, SAME, diff_sides
from tui.env.side import DATABASE, ENV, PACKAGES, RUNTIME, SideError
from tui.env.sides import load_side
from tui.env.records import EnvSection
from tui.env.source import EnvSource
from tui.source import section_from_json, section_to_json

DATA = Path(__file__).parent / "data" / "env"


@pytest.fixture
def child(tmp_path):
    """A real process whose environment we chose, in a folder holding its .env."""
    (tmp_path / ".env").write_text("APP_MODE=prod\nWORKERS=4\nAPI_TOKEN=child-secret-777\nNEW_FLAG=on\n")
    process = program_child(["sleep", "60"], cwd=tmp_path,
                            env={"APP_MODE": "prod", "WORKERS": "2", "API_TOKEN": "child-secret-777"})
    yield process
    process.kill()
    process.wait()


def test_process_environment_against_its_env_file(child, tmp_path):
    diff = diff_sides(load_side(f"pid:{child.pid}"), load_side(str(tmp_path / ".env")))
    assert {row.key: row.status for row in diff.rows} == {
        "WORKERS": CHANGED, "NEW_FLAG": ONLY_RIGHT, "APP_MODE": SAME, "API_TOKEN": SAME}
    assert "child-secret-777" not in repr(diff)
    assert diff.left == f"pid {child.pid} (sleep)"


def test_missing_env_finding_for_a_process_that_never_loaded_a_key(child):
    source = EnvSource(Config())
    section = source.collect()
    mine = [check for check in section.process_checks if check.pid == child.pid]
    assert len(mine) == 1 and mine[0].missing == ["NEW_FLAG"] and mine[0].declared == 4
    findings = [f for f in source.analyze(section) if f.subject.get("pid") == child.pid]
    assert [(f.id, f.severity) for f in findings] == [("missing-env", "warning")]
    assert findings[0].evidence["missing"] == ["NEW_FLAG"]


def test_gone_pid_is_a_clear_message():
    process = subprocess.Popen(["true"])
    process.wait()
    with pytest.raises(SideError, match=rf"pid:{process.pid}: no such process"):
        load_side(f"pid:{process.pid}")


def test_env_drift_against_a_baseline_and_section_round_trip(tmp_path):
    (tmp_path / "baseline.env").write_text("APP_MODE=prod\nAPI_TOKEN=base-secret\nGONE=1\n")
    (tmp_path / "current.env").write_text("APP_MODE=dev\nAPI_TOKEN=base-secret\n")
    source = EnvSource(Config(env_baseline=str(tmp_path / "baseline.env"), env_files=[str(tmp_path / "current.env")]))
    section = source.collect()
    drift = [f for f in source.analyze(section) if f.id == "env-drift"]
    assert len(drift) == 1 and drift[0].severity == "warning"
    assert drift[0].evidence["keys"] == ["APP_MODE", "GONE"] and drift[0].evidence["changed"] == 1
    replayed = section_from_json(EnvSection, section_to_json(section))
    assert source.analyze(replayed) == source.analyze(section)  # analysis is the same on a replayed snapshot
    assert "base-secret" not in repr(section_to_json(section))


def test_env_file_baseline_against_self_ignores_the_rest_of_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("APP_MODE", "prod")
    (tmp_path / "baseline.env").write_text("APP_MODE=prod\n")
    source = EnvSource(Config(env_baseline=str(tmp_path / "baseline.env")))
    section = source.collect()
    assert section.diffs and section.diffs[0].counts()["only-right"] > 0  # self has PATH, HOME, ...
    assert [f for f in source.analyze(section) if f.id == "env-drift"] == []


def test_unreadable_baseline_is_a_problem_not_a_crash(tmp_path):
    section = EnvSource(Config(env_baseline=str(tmp_path / "nope.env"))).collect()
    assert section.problems and "no such file" in section.problems[0]


@pytest.fixture
def container(docker_client, docker_image):
    name = f"tshoot-test-env-{uuid.uuid4().hex[:8]}"
    created = docker_client.containers.create(
        docker_image, ["sleep", "60"], name=name,
        environment={"APP_MODE": "prod", "API_TOKEN": "container-secret-555", "WORKERS": "8"})
    yield name
    created.remove(force=True)


def test_container_configured_environment(container, tmp_path):
    (tmp_path / "app.env").write_text("APP_MODE=prod\nAPI_TOKEN=other-secret\nWORKERS=8\n")
    side = load_side(f"container:{container}")
    assert side.label == f"container {container}" and side.domains[ENV]["WORKERS"] == "8"
    diff = diff_sides(side, load_side(str(tmp_path / "app.env")))
    statuses = {row.key: row.status for row in diff.rows}
    assert statuses == {"API_TOKEN": CHANGED, "APP_MODE": SAME, "WORKERS": SAME}
    assert "container-secret-555" not in repr(diff)


def test_missing_container_is_a_clear_message(docker_client):
    with pytest.raises(SideError, match="container:tshoot-test-absent-xyz: no such container"):
        load_side("container:tshoot-test-absent-xyz")


def test_interpreter_against_requirements():
    side = load_side(f"python:{sys.executable}")
    assert side.domains[RUNTIME]["python.implementation"] == "CPython"
    diff = diff_sides(side, load_side(str(DATA / "requirements.txt")))
    statuses = {row.key: row.status for row in diff.rows}
    assert statuses["package.packaging"] == SAME  # a satisfied range
    assert statuses["package.dacite"] == CHANGED  # installed 1.x does not satisfy <1.0
    assert statuses["package.not-installed-anywhere"] == ONLY_RIGHT
    assert statuses["package.textual"] == ONLY_LEFT


def test_not_an_interpreter_is_a_clear_message(tmp_path):
    with pytest.raises(SideError, match="not a Python interpreter"):
        load_side("python:/bin/true")
    with pytest.raises(SideError, match="no such interpreter"):
        load_side(f"python:{tmp_path}/python9")


@pytest.fixture
def two_pg_databases(pg_url):
    """Two scratch databases, prod lacking an index and a column that dev has."""
    admin = sqlalchemy.create_engine(pg_url, isolation_level="AUTOCOMMIT", poolclass=sqlalchemy.pool.NullPool)
    suffix = uuid.uuid4().hex[:8]
    names = [f"tshoot_test_dev_{suffix}", f"tshoot_test_prod_{suffix}"]
    with admin.connect() as connection:
        for name in names:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
    urls = [sqlalchemy.engine.make_url(pg_url).set(database=name) for name in names]
    for url, extra in zip(urls, (True, False)):
        engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE orders (id serial PRIMARY KEY, customer_id int NOT NULL"
                                       + (", note text" if extra else "") + ")")
            if extra:
                connection.exec_driver_sql("CREATE INDEX ix_orders_customer ON orders (customer_id)")
        engine.dispose()
    yield [url.render_as_string(hide_password=False) for url in urls]
    with admin.connect() as connection:
        for name in names:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


def test_postgres_schema_and_settings_diff(two_pg_databases):
    dev, prod = (load_side(f"db:{url}") for url in two_pg_databases)
    assert dev.domains[DATABASE]["setting.max_connections"].isdigit()
    assert dev.domains[DATABASE]["setting.statement_timeout"] == "0 (ms)"  # the server's, not tshoot's own
    diff = diff_sides(dev, prod)
    statuses = {row.key: row.status for row in diff.rows if row.status != SAME}
    assert statuses == {"table.orders.index.ix_orders_customer": ONLY_LEFT, "table.orders.column.note": ONLY_LEFT}
    assert "tshoot-test" not in diff.left  # the password is masked in the label


def test_mariadb_schema_and_settings(mysql_url):
    engine = sqlalchemy.create_engine(mysql_url, poolclass=sqlalchemy.pool.NullPool)
    name = f"tshoot_test_{uuid.uuid4().hex[:8]}"
    with engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
        connection.exec_driver_sql(f"CREATE TABLE {name}.items (id int PRIMARY KEY, sku varchar(20) NOT NULL, UNIQUE KEY uq_sku (sku))")
    try:
        url = sqlalchemy.engine.make_url(mysql_url).set(database=name).render_as_string(hide_password=False)
        values = load_side(f"db:{url}").domains[DATABASE]
        assert values["table.items.column.sku"] == "VARCHAR(20) NOT NULL"
        assert values["table.items.primary_key"] == "(id)" and values["table.items.index.uq_sku"] == "(sku) unique"
        assert {"setting.version", "setting.max_connections", "setting.wait_timeout", "setting.character_set_server"} <= values.keys()
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f"DROP DATABASE {name}")
        engine.dispose()


def test_unreachable_database_is_a_clear_message_without_password():
    with pytest.raises(SideError) as raised:
        load_side("db:postgresql+psycopg://u:db-pw-999@127.0.0.1:1/x")
    assert "cannot read the database" in str(raised.value) and "db-pw-999" not in str(raised.value)
