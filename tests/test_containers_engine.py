"""The Containers source against the real Docker engine: each failure mode gets exactly its finding."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from socketserver import BaseRequestHandler, ThreadingMixIn, UnixStreamServer

import pytest

from tui.actions import Verified
from tui.config import Config
from tui.containers.cgroups import read_cgroup_sample
from tui.containers.details import ContainerNotFound, container_env
from tui.containers.inventory import parse_stats
from tui.containers.source import ContainersSource
from tui.redact import MASK
from tui.source import SourceUnavailable

pytestmark = pytest.mark.services
ROOT = Path(__file__).resolve().parent.parent
SECOND_NS = 1_000_000_000
SETTLE_TIMEOUT_S = 60


def wait_until(condition, what: str, timeout: float = SETTLE_TIMEOUT_S):
    """Wait for the engine to reach a state (restarts, health checks); fail saying which one never came."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def state_of(client, name: str) -> dict:
    attrs = client.api.inspect_container(name)
    return {**attrs["State"], "RestartCount": attrs["RestartCount"]}


@pytest.fixture(scope="module")
def scenario(docker_client, docker_image):
    """One container per failure mode (plus a healthy one), settled into that mode; removed afterwards."""
    prefix = f"tshoot-test-{uuid.uuid4().hex[:6]}"
    names = {kind: f"{prefix}-{kind}" for kind in ("crash", "oom", "unhealthy", "notfound", "healthy")}
    run = lambda kind, command, **options: docker_client.containers.run(  # noqa: E731
        docker_image, command, name=names[kind], detach=True, **options)
    try:
        run("crash", ["sh", "-c", "echo starting; echo boom: cannot reach db >&2; exit 3"],
            restart_policy={"Name": "on-failure", "MaximumRetryCount": 2})
        run("oom", ["sh", "-c", 'x=a; while true; do x="$x$x"; done'], mem_limit="16m", memswap_limit="16m")
        run("unhealthy", ["sleep", "600"], healthcheck={
            "test": ["CMD-SHELL", "echo probe failed: port 8080 refused; exit 1"],
            "interval": SECOND_NS, "timeout": SECOND_NS, "retries": 1})
        run("notfound", ["sh", "-c", "nosuchcommand --serve"])
        run("healthy", ["sh", "-c", 'echo ready; trap "exit 0" TERM; while true; do sleep 1; done'],
            environment={"DB_PASSWORD": "hunter2", "MODE": "prod"}, mem_limit="64m",
            healthcheck={"test": ["CMD", "true"], "interval": SECOND_NS, "timeout": SECOND_NS, "retries": 1})
        wait_until(lambda: (s := state_of(docker_client, names["crash"]))["RestartCount"] == 2
                   and s["Status"] == "exited", "the crash-looping container to exhaust on-failure:2")
        wait_until(lambda: state_of(docker_client, names["oom"])["OOMKilled"], "the OOM kill")
        wait_until(lambda: state_of(docker_client, names["unhealthy"]).get("Health", {}).get("Status") == "unhealthy",
                   "the failing health check")
        wait_until(lambda: state_of(docker_client, names["notfound"])["Status"] == "exited", "exit 127")
        wait_until(lambda: state_of(docker_client, names["healthy"]).get("Health", {}).get("Status") == "healthy",
                   "the passing health check")
        yield names
    finally:
        for name in names.values():
            try:
                docker_client.api.remove_container(name, force=True)
            except Exception:  # never created (an earlier run() failed)
                pass


@pytest.fixture(scope="module")
def source(scenario):
    live = ContainersSource(Config())
    yield live
    live.close()


@pytest.fixture(scope="module")
def section(source):
    source.collect()  # first poll: full sync, first stats sample
    return source.collect()  # second poll: CPU% from two samples


def findings_by_name(source, section) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for finding in source.analyze(section):
        found.setdefault(finding.subject["name"], set()).add(finding.id)
    return found


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("crash", {"crash-loop"}), ("oom", {"oom-killed"}), ("unhealthy", {"health-failing"}),
     ("notfound", {"exited-error"}), ("healthy", set())],
)
def test_each_container_gets_exactly_its_finding(source, section, scenario, kind, expected):
    assert findings_by_name(source, section).get(scenario[kind], set()) == expected


def test_records_describe_the_containers(section, scenario):
    by_name = {c.name: c for c in section.containers}
    crash, oom, notfound, healthy = (by_name[scenario[k]] for k in ("crash", "oom", "notfound", "healthy"))
    assert (crash.exit_code, crash.restart_count, crash.restart_policy, crash.restart_max_retries) == (3, 2, "on-failure", 2)
    assert any(line.stream == "stderr" and "boom" in line.text for line in crash.last_logs)
    assert any(line.stream == "stdout" and "starting" in line.text for line in crash.last_logs)
    assert (oom.exit_code, oom.oom_killed, oom.memory_limit_bytes) == (137, True, 16 << 20)
    assert notfound.exit_code == 127 and any("not found" in line.text for line in notfound.last_logs)
    assert healthy.state == "running" and healthy.health == "healthy" and healthy.host_pid > 0
    assert healthy.env["DB_PASSWORD"] == MASK and healthy.env["MODE"] == "prod"
    assert healthy.memory_limit_bytes == 64 << 20 and 0 < healthy.memory_used_bytes < healthy.memory_limit_bytes
    assert healthy.cpu_percent is not None and len(healthy.memory_history) == 2


def test_unhealthy_record_keeps_the_health_check_output(section, scenario):
    unhealthy = next(c for c in section.containers if c.name == scenario["unhealthy"])
    assert unhealthy.health_log and "port 8080 refused" in unhealthy.health_log[-1].output
    assert unhealthy.health_log[-1].exit_code == 1


def test_container_env_is_read_whole_for_comparison_and_names_a_missing_container(scenario):
    name, env = container_env(scenario["healthy"], Config())
    assert name == scenario["healthy"] and (env["DB_PASSWORD"], env["MODE"]) == ("hunter2", "prod")  # the Env pane masks
    with pytest.raises(ContainerNotFound, match="no container named"):
        container_env(f"{scenario['healthy']}-gone", Config())


def test_processes_are_mapped_to_host_pids(source, section, scenario):
    healthy = next(c for c in section.containers if c.name == scenario["healthy"])
    processes = source.processes(healthy.id)
    assert healthy.host_pid in {p.host_pid for p in processes}
    for process in processes:  # host pids: the host's /proc knows them and puts them in the container's cgroup
        assert healthy.id in Path(f"/proc/{process.host_pid}/cgroup").read_text()


def test_logs_distinguish_streams_and_follow_with_since(source, section, scenario):
    crash = next(c for c in section.containers if c.name == scenario["crash"])
    lines = source.logs(crash.id, tail=100)
    assert {line.stream for line in lines} == {"stdout", "stderr"}
    assert [line.timestamp for line in lines] == sorted(line.timestamp for line in lines)
    assert source.logs(crash.id, since=time.time() + 60) == []


def test_events_and_actions_update_the_picture_without_a_full_resync(docker_client, docker_image, source, section):
    """Stop and start through the source's actions; the watcher's events alone make the next poll see it."""
    name = f"tshoot-test-{uuid.uuid4().hex[:6]}-events"
    events = threading.Event()
    source.set_change_listener(events.set)
    try:
        container = docker_client.containers.run(
            docker_image, ["sh", "-c", 'trap "exit 0" TERM; while true; do sleep 1; done'], name=name, detach=True)
        wait_until(events.is_set, "the engine's create/start events")
        assert _state(source.collect(), name) == "running"

        events.clear()
        assert source.run_action(container.id, "stop") == Verified(True, f"{name} is now exited")
        wait_until(events.is_set, "the engine's die/stop events")
        after_stop = _record(source.collect(), name)
        assert (after_stop.state, after_stop.exit_code, len(after_stop.recent_exits)) == ("exited", 0, 1)

        assert source.run_action(container.id, "start") == Verified(True, f"{name} is now running")
        assert source.run_action(container.id, "start") == Verified(  # the engine's "not modified" is not "done"
            False, f"start: nothing changed, {name} was already running")
        assert _state(source.collect(), name) == "running"
        assert source.run_action(container.id, "restart") == Verified(True, f"{name} is now running")

        docker_client.api.remove_container(container.id, force=True)
        wait_until(lambda: _record(source.collect(), name) is None, "the destroy event to drop the container")
    finally:
        source.set_change_listener(None)
        try:
            docker_client.api.remove_container(name, force=True)
        except Exception:  # already removed by the test
            pass


def test_starting_a_container_that_dies_at_once_is_no_effect(docker_client, docker_image, source):
    """A start the engine accepted but the container did not survive is reported as such, never as done."""
    name = f"tshoot-test-{uuid.uuid4().hex[:6]}-dies"
    container = docker_client.containers.create(docker_image, ["sh", "-c", "exit 3"], name=name)
    try:
        verified = source.run_action(container.id, "start")
        assert not verified.effect
        assert f"{name} is exited" in verified.message and "exit code 3" in verified.message
    finally:
        docker_client.api.remove_container(container.id, force=True)


def _record(section, name):
    return next((c for c in section.containers if c.name == name), None)


def _state(section, name):
    record = _record(section, name)
    return record.state if record else None


# -- when there is no engine to talk to ------------------------------------------------------------


def _unavailable(monkeypatch, host: str) -> SourceUnavailable:
    monkeypatch.setenv("DOCKER_HOST", host)
    source = ContainersSource(Config())
    try:
        with pytest.raises(SourceUnavailable) as caught:
            source.collect()
    finally:
        source.close()
    return caught.value


def test_missing_socket_says_the_daemon_is_not_running(monkeypatch, tmp_path):
    error = _unavailable(monkeypatch, f"unix://{tmp_path}/docker.sock")
    assert "socket missing" in error.reason and str(tmp_path) in error.reason
    assert "systemctl start docker" in error.remedy


def test_config_docker_host_wins_over_docker_host(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", "unix:///var/run/docker.sock")
    with pytest.raises(SourceUnavailable, match="socket missing"):
        ContainersSource(Config(docker_host=f"unix://{tmp_path}/other.sock")).collect()


def test_stale_socket_says_nothing_listens(monkeypatch, tmp_path):
    path = tmp_path / "docker.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()
    error = _unavailable(monkeypatch, f"unix://{path}")
    assert "not running" in error.reason and "nothing listens" in error.reason


def test_permission_denied_names_the_docker_group(docker_client):
    """A user outside the docker group (nobody) against the real socket."""
    code = (
        "import os, sys\n"
        "from tui.config import Config\n"
        "from tui.containers.source import ContainersSource\n"
        "from tui.source import SourceUnavailable\n"
        "import docker  # before dropping to nobody, who cannot read this interpreter's libraries\n"
        "os.setgroups([]); os.setgid(65534); os.setuid(65534)\n"
        "try:\n    ContainersSource(Config(docker_host='unix:///var/run/docker.sock')).collect()\n"
        "except SourceUnavailable as e:\n    print(e.reason); print(e.remedy)\n"
    )
    if os.geteuid() != 0:
        pytest.skip("dropping to another user needs root")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "Permission denied" in result.stdout and "not in the docker group" in result.stdout, result.stderr
    assert "usermod -aG docker nobody" in result.stdout


class _FailingEngine(BaseHTTPRequestHandler):
    """Answers every request the way a broken daemon does: HTTP 500 with a JSON message."""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        body = b'{"message":"error during connect: storage driver failed"}'
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _UnixServer(ThreadingMixIn, UnixStreamServer):
    """A threaded unix socket server whose handlers get a (host, port) address, as http.server expects."""

    daemon_threads = True

    def get_request(self):
        request, _ = super().get_request()
        return request, ("local", 0)


def test_engine_answering_errors_is_reported_with_its_message(monkeypatch, tmp_path):
    path = tmp_path / "docker.sock"
    server = _UnixServer(str(path), _FailingEngine)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        error = _unavailable(monkeypatch, f"unix://{path}")
    finally:
        server.shutdown()
        server.server_close()
    assert "answers with errors" in error.reason and "500" in error.reason
    assert "journalctl -u docker" in error.remedy


def test_cgroup_sample_agrees_with_the_engine_stats(docker_client, section, scenario):
    healthy = next(c for c in section.containers if c.name == scenario["healthy"])
    before = read_cgroup_sample(healthy.id, healthy.host_pid)
    engine = parse_stats(docker_client.api.stats(healthy.id, stream=False, one_shot=True))
    after = read_cgroup_sample(healthy.id, healthy.host_pid)
    assert before is not None and before.origin == "cgroup" and engine.origin == "engine"
    assert abs(after.memory_used_bytes - engine.memory_used_bytes) < 2 << 20
    assert 0 < before.cpu_total_ns <= after.cpu_total_ns
    # the engine and tshoot read different cgroup counters at different instants: equal within 5% or 20 ms
    assert abs(engine.cpu_total_ns - after.cpu_total_ns) <= max(0.05 * engine.cpu_total_ns, 20e6)
    assert read_cgroup_sample("0" * 64, healthy.host_pid) is None  # a pid that is not this container's


def test_engine_stats_are_used_when_cgroups_cannot_be_read(monkeypatch, scenario):
    """As with an engine on another host: samples come from background rounds of the stats API."""
    monkeypatch.setattr("tui.containers.source.read_cgroup_sample", lambda container_id, host_pid: None)
    remote = ContainersSource(Config())
    try:
        def healthy_memory():
            record = next(c for c in remote.collect().containers if c.name == scenario["healthy"])
            return record.memory_used_bytes

        assert wait_until(healthy_memory, "a finished round of engine stats", timeout=15) > 0
    finally:
        remote.close()


class _EngineProxy:
    """A unix socket forwarding to the real engine; stopping it looks like the daemon going away."""

    def __init__(self, path: Path, engine_socket: str = "/var/run/docker.sock") -> None:
        self.path, self.engine_socket = path, engine_socket
        self.server: UnixStreamServer | None = None
        self.connections: list[socket.socket] = []

    def start(self) -> None:
        proxy = self

        class Pipe(BaseRequestHandler):
            def handle(self):
                upstream = socket.socket(socket.AF_UNIX)
                upstream.connect(proxy.engine_socket)
                proxy.connections += [self.request, upstream]
                threading.Thread(target=_pump, args=(upstream, self.request), daemon=True).start()
                _pump(self.request, upstream)

        self.server = _UnixServer(str(self.path), Pipe)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        for connection in self.connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the other side
            connection.close()
        self.connections.clear()
        self.path.unlink(missing_ok=True)


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass  # one side closed: the pipe is over
    finally:
        try:
            target.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def test_source_reports_the_engine_going_away_and_reconnects_when_it_returns(docker_client, tmp_path):
    proxy = _EngineProxy(tmp_path / "docker.sock")
    proxy.start()
    source = ContainersSource(Config(docker_host=f"unix://{proxy.path}"))
    try:
        first = source.collect()
        assert first.watching_events
        proxy.stop()
        wait_until(lambda: not source.watching_events, "the event watcher to notice the engine left")
        with pytest.raises(SourceUnavailable, match="socket missing"):
            source.collect()

        proxy.start()
        wait_until(lambda: source.watching_events, "the event watcher to reconnect")
        again = source.collect()
        assert again.watching_events and {c.id for c in again.containers} == {c.id for c in first.containers}
    finally:
        source.close()
        if proxy.path.exists():
            proxy.stop()


def test_restarting_a_crash_looping_container_is_no_effect(docker_client, docker_image, source):
    """With a restart policy the engine shows a dying container as "restarting" (Running true): not done."""
    name = f"tshoot-test-{uuid.uuid4().hex[:6]}-loops"
    container = docker_client.containers.run(docker_image, ["sh", "-c", "sleep 0.3; exit 3"], name=name, detach=True,
                                             restart_policy={"Name": "on-failure", "MaximumRetryCount": 50})
    try:
        verified = source.run_action(container.id, "restart")
        assert not verified.effect, verified.message
        assert name in verified.message and ("exit code 3" in verified.message or "crashed" in verified.message)
    finally:
        docker_client.api.remove_container(container.id, force=True)
