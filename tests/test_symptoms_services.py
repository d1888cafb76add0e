"""Guides against real services and real sources: a closed port and a wrong password (PostgreSQL), a CPU-burning
and a leaking child (Processes), a crash-looping container (Containers), a deadlocked Python process (Threads),
two differing env files (Env) — each read through `collect_all`, the path `tshoot doctor` uses."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from conftest import require_service
from symptoms_support import context, result_of
from tests.children import python_child
from tui.config import Config, Thresholds
from tui.snapshot import collect_all

ROOT = Path(__file__).resolve().parent.parent


def with_password(url: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    user_info, host = rest.split("@", 1)
    return f"{scheme}://{user_info.split(':')[0]}:{password}@{host}"


@pytest.mark.services
def test_db_connection_guide_finds_the_closed_port_and_the_wrong_password(pg_url):
    wrong = with_password(pg_url, "not-the-password")
    closed = wrong.replace(wrong.split("@", 1)[1].split("/")[0], "127.0.0.1:1")
    result = result_of("db-connection", "connection-check", context(Config(db_urls=[pg_url, wrong, closed])))
    assert result.status == "fail"
    good, bad_login, refused = ({s["name"]: s["status"] for s in t["steps"]} for t in result.evidence["targets"])
    assert good["query"] == "pass" and bad_login["auth"] == "fail" and refused["tcp"] == "fail"
    assert result.jump.pane == "databases" and "not-the-password" not in json.dumps(result.to_json())
    assert any("password" in step.lower() for step in result.fix.steps)


@pytest.mark.services
def test_cli_runs_the_guide_with_json_and_exit_2(pg_url):
    wrong = with_password(pg_url, "not-the-password")
    done = subprocess.run([sys.executable, "-m", "tui.cli", "guide", "db-connection", "--json", "--observe", "0",
                           "--db", wrong], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    doc = json.loads(done.stdout)
    assert doc["guide"] == "db-connection"
    assert {"id", "title", "status", "evidence", "fix"} <= set(doc["checks"][0])
    assert doc["checks"][0]["status"] == "fail" and "not-the-password" not in done.stdout


def test_cli_lists_the_guides_and_refuses_an_unknown_one():
    listing = subprocess.run([sys.executable, "-m", "tui.cli", "guide"], cwd=ROOT, capture_output=True, text=True)
    assert listing.returncode == 0 and listing.stdout.splitlines()[0].startswith("db-connection ")
    unknown = subprocess.run([sys.executable, "-m", "tui.cli", "guide", "no-such"], cwd=ROOT,
                             capture_output=True, text=True)
    assert unknown.returncode == 2 and "unknown guide 'no-such'" in unknown.stderr


BURN_AND_LEAK = """
import sys, time
print("ready", flush=True)
if sys.argv[1] == "burn":
    while True:
        pass
chunks = []
for _ in range(150):
    chunks.append(b"x" * 1_000_000)
    time.sleep(0.05)
time.sleep(60)
"""


@pytest.fixture
def burner_and_leaker():
    children = [python_child(BURN_AND_LEAK, role) for role in ("burn", "leak")]
    yield [c.pid for c in children]
    for child in children:
        child.kill()
        child.wait()


def test_slow_guide_sees_the_cpu_hog_and_the_memory_leak(burner_and_leaker):
    from tui.processes.source import ProcessesSource

    burner, leaker = burner_and_leaker
    config = Config(thresholds=Thresholds(cpu_hog_percent=40.0, memory_growth_mb_per_min=5.0))
    collection = collect_all(config, 4.0, sources=[ProcessesSource(config)])
    ctx = context(config, collection=collection)
    cpu = result_of("slow", "cpu", ctx)
    assert burner in [f["subject"]["pid"] for f in cpu.evidence["cpu_hogs"]]
    assert cpu.status in ("warn", "fail") and cpu.jump.pane == "processes"
    growth = result_of("slow", "growth", ctx)
    assert growth.status == "warn"
    assert leaker in [f["subject"]["pid"] for f in growth.evidence["findings"]]


CRASH_SCRIPT = ("echo 'starting worker'; echo 'Traceback (most recent call last):'; "
                "echo '  File \"/app/worker.py\", line 3, in <module>'; echo 'KeyError: DATABASE_URL'; exit 3")


@pytest.fixture
def crash_looping_container(docker_client, docker_image):
    container = docker_client.containers.run(
        docker_image, ["sh", "-c", CRASH_SCRIPT], name=f"tshoot-test-symptoms-{uuid.uuid4().hex[:8]}",
        detach=True, restart_policy={"Name": "on-failure", "MaximumRetryCount": 2})
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            container.reload()
            if container.attrs["RestartCount"] >= 2 and container.status == "exited":
                break
            time.sleep(0.3)
        yield container
    finally:
        container.remove(force=True)


@pytest.mark.services
def test_container_restart_guide_shows_the_crash_loop_and_why_it_died(crash_looping_container):
    from tui.containers.source import ContainersSource
    from tui.logs.source import LogsSource

    config = Config()
    collection = collect_all(config, 0, sources=[ContainersSource(config), LogsSource(config, only_named=True)])
    ctx = context(config, collection=collection)
    loop = result_of("container-restart", "crash-loop", ctx)
    assert loop.status in ("warn", "fail"), loop.summary
    assert loop.jump.pane == "containers"
    assert crash_looping_container.name in [f["subject"]["name"] for f in loop.evidence["findings"]]
    logs = result_of("container-restart", "logs", ctx)  # it exited: its last lines come from the Containers pane
    assert logs.status == "fail"
    ours = next(c for c in logs.evidence["containers"] if c["name"] == crash_looping_container.name)
    assert ours["exception"] == "KeyError at /app/worker.py:3 in <module>" and ours["from"] == "Containers"
    assert ours["lines"][-1] == "KeyError: DATABASE_URL"
    assert logs.jump.pane == "logs"


DEADLOCK = """
import threading, time
STOCK_LOCK, ORDERS_LOCK = threading.Lock(), threading.Lock()
both = threading.Barrier(2)
def take_order():
    ORDERS_LOCK.acquire()
    both.wait()
    STOCK_LOCK.acquire()
def restock():
    STOCK_LOCK.acquire()
    both.wait()
    ORDERS_LOCK.acquire()
for target in (take_order, restock):
    threading.Thread(target=target, name=target.__name__, daemon=True).start()
print("ready", flush=True)
time.sleep(60)
"""


@pytest.mark.services
def test_hang_guide_finds_the_deadlocked_process(tmp_path):
    from tui.threads.source import ThreadsSource

    program = tmp_path / "deadlocked.py"  # a file, so the lock sites can be read from its source
    program.write_text(DEADLOCK)
    child = subprocess.Popen([sys.executable, str(program)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        config = Config(find_stuck=False, pids=[child.pid], thread_samples=2, thread_sample_interval=0.2,
                        thresholds=Thresholds(stuck_thread_s=0.2))
        collection = collect_all(config, 0, sources=[ThreadsSource(config)])
        if "threads" in collection.errors:
            require_service("py-spy", collection.errors["threads"][0])
        result = result_of("hang", "deadlock", context(config, collection=collection))
    finally:
        child.kill()
        child.wait()
    assert result.status == "fail", result.summary
    assert result.jump.pane == "threads" and result.jump.subject["pid"] == child.pid


def test_dev_prod_guide_reports_the_env_drift_between_two_files(tmp_path):
    from tui.env.source import EnvSource

    dev, prod = tmp_path / "dev.env", tmp_path / "prod.env"
    dev.write_text("DATABASE_URL=postgresql://app@db-dev/app\nFEATURE_X=on\nCACHE_URL=redis://cache\n")
    prod.write_text("DATABASE_URL=postgresql://app@db-prod/app\nFEATURE_X=on\n")
    config = Config(env_files=[str(prod)], env_baseline=str(dev))
    collection = collect_all(config, 0, sources=[EnvSource(config)])
    result = result_of("dev-prod", "env-drift", context(config, collection=collection))
    assert result.status == "warn" and result.jump.pane == "env"
    drift = result.evidence["findings"][0]
    assert set(drift["evidence"]["keys"]) == {"DATABASE_URL", "CACHE_URL"}
