"""`tshoot snapshot --format md` as an incident report, built through the real snapshot path from real trouble:
a deadlocked Python process, a blocked PostgreSQL session, a database that refuses connections, a
crash-looping container and an env file that drifted from its baseline. No secret may reach the file.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest
import sqlalchemy as sa

from programs.threads.support import pyspy_works, start_program, stop  # noqa: F401  (fixture)
from tests.test_containers_engine import state_of, wait_until as wait_for_engine
from tests.test_databases_helpers import Sessions, unique_name, wait_until
from tui.config import Config
from tui.markdown import cell, code_block, inline_code, table
from tui.snapshot import build_snapshot, collect_all, markdown_report, write_snapshot

pytestmark = pytest.mark.services
SECRET = f"s3cret-{uuid.uuid4().hex[:8]}"  # planted in the container, its logs, a query and the env files
UNREACHABLE_DB_PASSWORD = f"nope-{uuid.uuid4().hex[:8]}"
OBSERVE_S = 1.5


@pytest.fixture(scope="module")
def deadlocked(pyspy_works):  # noqa: F811
    process = start_program("deadlock_passed_locks.py")
    yield process
    stop(process)


@pytest.fixture(scope="module")
def blocked_session(pg_url):
    """A waiter blocked behind an idle transaction: (holder pid, waiter pid, table)."""
    sessions = Sessions(pg_url=pg_url)
    name = unique_name()
    admin = sessions.pg("tshoot-test-report-admin")
    admin.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, v int)")
    admin.execute(f"INSERT INTO {name} VALUES (1, 0)")
    holder = sessions.pg("tshoot-test-report-holder", autocommit=False)
    holder.execute(f"UPDATE {name} SET v = v + 1 WHERE id = 1")
    waiter = sessions.pg("tshoot-test-report-waiter")
    sessions.in_background(waiter, f"UPDATE {name} SET v = 2 WHERE id = 1 /* password='{SECRET}' */")
    wait_until(lambda: admin.execute("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s",
                                     (waiter.info.backend_pid,)).fetchone()[0], "the waiter to block")
    yield holder.info.backend_pid, waiter.info.backend_pid, name
    sessions.close()
    cleanup = Sessions(pg_url=pg_url)
    cleanup.pg("tshoot-test-report-admin").execute(f"DROP TABLE IF EXISTS {name}")
    cleanup.close()


@pytest.fixture(scope="module")
def crash_looping(docker_client, docker_image):
    name = f"tshoot-test-report-{uuid.uuid4().hex[:6]}"
    docker_client.containers.run(
        docker_image, ["sh", "-c", f"echo starting; echo cannot reach db password={SECRET} >&2; exit 3"],
        name=name, detach=True, restart_policy={"Name": "always"}, environment={"DB_PASSWORD": SECRET})
    try:
        wait_for_engine(lambda: state_of(docker_client, name)["RestartCount"] >= 2, "two restarts")
        yield name
    finally:
        docker_client.api.remove_container(name, force=True)


@pytest.fixture(scope="module")
def env_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("env")
    (folder / "baseline.env").write_text(f"API_TOKEN=old-{SECRET}\nWORKERS=4\nLEGACY_FLAG=1\n")
    (folder / "current.env").write_text(f"API_TOKEN={SECRET}\nWORKERS=8\nMODE=a|b\n")
    return str(folder / "baseline.env"), str(folder / "current.env")


@pytest.fixture(scope="module")
def report(tmp_path_factory, pg_url, deadlocked, blocked_session, crash_looping, env_files):
    """The Markdown file and the JSON document of one snapshot of all that, as `tshoot snapshot` writes them."""
    unreachable = f"postgresql+psycopg://postgres:{UNREACHABLE_DB_PASSWORD}@127.0.0.1:1/postgres"
    config = Config(find_stuck=False, pids=[deadlocked.pid], db_urls=[pg_url, unreachable], env_baseline=env_files[0],
                    env_files=[env_files[1]], thread_sample_interval=0.2)
    collection = collect_all(config, OBSERVE_S)
    doc = build_snapshot(sections=collection.sections, errors=collection.errors, findings=collection.findings,
                         actions=[])
    path = write_snapshot(doc, tmp_path_factory.mktemp("report") / "incident.md", "md")
    return path.read_bytes(), doc


def section_text(report_bytes: bytes, title: str) -> str:
    text = report_bytes.decode()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def test_no_secret_reaches_the_report(report, pg_url):
    data, _ = report
    for secret in (SECRET, UNREACHABLE_DB_PASSWORD):
        assert secret.encode() not in data
    # The test server's password is a word that also starts the test's own names: look for it as a token. The
    # kernel ring may still hold a line an earlier run of test_logs_system planted as "tshoot-test <hex>: INFO:
    # task tshoot-probe:4242 ..." (it is shared with earlier runs on this kernel): that line is ours, not a leak.
    password = re.escape(sa.make_url(pg_url).password.encode())
    ours = re.compile(rb"^.*tshoot-probe:.*$", re.M)
    assert re.search(rb"(?<![\w-])" + password + rb"(?![\w-])", ours.sub(b"", data)) is None


def test_threads_show_the_deadlock_and_where_each_thread_is_stuck(report, deadlocked):
    data, doc = report
    threads = section_text(data, "Threads")
    assert f"### pid {deadlocked.pid} (" in threads
    assert f"Found one Python-level deadlock in pid {deadlocked.pid}" in threads
    for name in ("copy-left-right", "copy-right-left"):
        assert f'"{name}" (tid ' in threads
    assert "deadlock_passed_locks.py:11" in threads  # where each waits
    assert "deadlock_passed_locks.py:9" in threads  # where each took the lock it holds
    assert "with second:  # waits for the other thread's `first`" in threads  # the code, in a code block
    assert "**Stuck threads**" in threads


def test_databases_show_the_blocked_session_its_chain_and_the_connection_check(report, blocked_session):
    data, _ = report
    holder, waiter, table_name = blocked_session
    databases = section_text(data, "Databases")
    assert "postgres:••••••@127.0.0.1:" in databases  # masked URL as the heading
    rows = {line.split(" | ")[0].strip("| "): line for line in databases.splitlines() if line.startswith("| ")}
    assert f"blocked by {holder}" in rows[str(waiter)]
    assert "blocking; idle in transaction" in rows[str(holder)]
    assert "tshoot-test-report-waiter" in rows[str(waiter)]
    chain = [line for line in databases.splitlines() if line.lstrip().startswith(("- ", "  - "))]
    head = next(i for i, line in enumerate(chain) if line.startswith(f"- {holder} "))
    assert chain[head + 1].startswith(f"  - {waiter} ") and f"row of public.{table_name}" in chain[head + 1]
    assert "Connections: " in databases and " of " in databases
    # The unreachable target: the connection check's failing step and its fix.
    assert "@127.0.0.1:1/postgres" in databases and "**Could not read it:**" in databases
    check_rows = [line for line in databases.splitlines() if line.startswith("| tcp | fail |")]
    assert check_rows and check_rows[0].rstrip(" |").split(" | ")[-1] not in ("", "-")


def test_containers_show_the_crash_loop_exit_code_and_logs(report, crash_looping):
    data, _ = report
    containers = section_text(data, "Containers")
    row = next(line for line in containers.splitlines() if line.startswith(f"| {crash_looping} |"))
    assert "| 3: application-defined exit status 3 |" in row
    assert f"### {crash_looping} (" in containers
    assert "crash loop:" in containers and "- suggested fix:" in containers
    assert " E cannot reach db password=" in containers  # a stderr line of the container, masked


def test_env_shows_the_compared_sides_and_the_changed_keys(report, env_files):
    data, _ = report
    env = section_text(data, "Env")
    assert f"### {env_files[0]} (env-file) vs {env_files[1]} (env-file)" in env
    assert "2 changed, 1 only-left, 1 only-right" in env
    assert "| changed | WORKERS | 4 | 8 |" in env
    assert "| only-left | LEGACY_FLAG | 1 | (absent) |" in env
    assert "| only-right | MODE | (absent) | a\\|b |" in env  # the pipe in a value does not split the cell
    assert "| changed | API_TOKEN | •••••• | •••••• |" in env


def test_a_section_that_cannot_be_read_does_not_take_down_the_report(report):
    _, doc = report
    broken = json.loads(json.dumps(doc))
    broken["containers"] = {"containers": "not a list", "error": None}
    text = markdown_report(broken)
    assert "## Containers\n\nCould not render this section (" in text
    assert "Found one Python-level deadlock" in text  # the other panes are still there


def test_markdown_cells_and_code_survive_pipes_newlines_and_backticks():
    assert table(["a", "b"], [["x|y", "one\ntwo"], [None, ""]]) == [
        "| a | b |", "|---|---|", "| x\\|y | one<br>two |", "| - | - |"]
    assert cell("C:\\dir|x") == "C:\\\\dir\\|x"
    assert code_block("a ``` b") == ["````", "a ``` b", "````"]
    assert inline_code("say `hi`") == "`` say `hi` ``"
