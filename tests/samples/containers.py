"""A Containers section with one container per failure mode, for Pilot and screenshot tests."""

from __future__ import annotations

from tests.samples import FROZEN_NOW
from tui.config import Thresholds
from tui.containers.analysis import analyze
from tui.containers.records import ContainerRecord, ContainersSection, HealthCheckRun, LogLine, MemorySample
from tui.findings import Finding
from tui.redact import MASK

MIB = 2**20


def _container(name: str, hex_id: str, **fields) -> ContainerRecord:
    base = dict(
        id=hex_id * 16, name=name, image="shop/api:1.4", state="running", health=None, restart_count=0, exit_code=0,
        oom_killed=False, error="", started_at="2026-11-18T08:00:00.000000000Z", finished_at=None,
        restart_policy="no", restart_max_retries=0, command=["serve", "--port", "8080"], entrypoint=["/entry.sh"],
        ports=[], memory_limit_bytes=0,
    )
    return ContainerRecord(**{**base, **fields})


def section() -> ContainersSection:
    history = [MemorySample(FROZEN_NOW - 10 * i, (40 + i) * MIB) for i in range(10, 0, -1)]
    return ContainersSection(
        engine_host="unix:///var/run/docker.sock",
        engine_version="20.10.24",
        taken_at=FROZEN_NOW,
        watching_events=True,
        last_full_sync=FROZEN_NOW - 5,
        containers=[
            _container("api", "a1b2", ports=["0.0.0.0:8080->8080/tcp"], health="healthy", cpu_percent=12.5,
                       memory_used_bytes=50 * MIB, memory_limit_bytes=256 * MIB, memory_history=history,
                       env={"DB_PASSWORD": MASK, "MODE": "prod"}, host_pid=4242),
            _container("worker", "c3d4", state="exited", exit_code=3, restart_count=5, restart_policy="on-failure",
                       restart_max_retries=5, finished_at="2026-11-18T08:25:00.000000000Z",
                       recent_exits=[FROZEN_NOW - 90, FROZEN_NOW - 60, FROZEN_NOW - 30],
                       last_logs=[LogLine("stdout", "2026-11-18T08:24:59.100000000Z", "connecting to db"),
                                  LogLine("stderr", "2026-11-18T08:25:00.000000000Z", "boom: cannot reach db:5432")]),
            _container("cache", "e5f6", state="exited", exit_code=137, oom_killed=True, memory_limit_bytes=16 * MIB,
                       finished_at="2026-11-18T08:20:00.000000000Z", image="redis:7"),
            _container("web", "0a0b", health="unhealthy", health_failing_streak=4, cpu_percent=0.3,
                       memory_used_bytes=20 * MIB, health_log=[
                           HealthCheckRun("2026-11-18T08:26:30.0Z", 1, "curl: (7) Failed to connect to localhost port 80"),
                       ]),
            _container("migrate", "1c1d", state="exited", exit_code=127, command=["sh", "-c", "migrat up"],
                       finished_at="2026-11-18T08:10:00.000000000Z",
                       last_logs=[LogLine("stderr", "2026-11-18T08:10:00.000000000Z", "sh: migrat: not found")]),
        ],
    )


def findings() -> list[Finding]:
    return analyze(section(), Thresholds())
