"""Engine payloads (inspect, one-shot stats) turned into records; nothing here talks to the engine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from tui.containers.records import ContainerRecord, HealthCheckRun
from tui.redact import redact_mapping, redact_text

HEALTH_OUTPUT_CHARS = 300
ZERO_TIME = "0001-01-01T00:00:00Z"  # the engine's "never"


def record_from_inspect(attrs: dict[str, Any]) -> ContainerRecord:
    """A ContainerRecord from `GET /containers/{id}/json`; live figures (CPU, memory, history) stay empty."""
    state = attrs.get("State") or {}
    config = attrs.get("Config") or {}
    host_config = attrs.get("HostConfig") or {}
    policy = host_config.get("RestartPolicy") or {}
    health = state.get("Health") or {}
    return ContainerRecord(
        id=attrs.get("Id", ""),
        name=(attrs.get("Name") or "").lstrip("/"),
        image=config.get("Image") or attrs.get("Image", ""),
        state=state.get("Status") or "unknown",
        health=health.get("Status") or None,
        restart_count=int(attrs.get("RestartCount") or 0),
        exit_code=int(state.get("ExitCode") or 0),
        oom_killed=bool(state.get("OOMKilled")),
        error=redact_text(state.get("Error") or ""),
        started_at=_time_or_none(state.get("StartedAt")),
        finished_at=_time_or_none(state.get("FinishedAt")),
        restart_policy=policy.get("Name") or "no",
        restart_max_retries=int(policy.get("MaximumRetryCount") or 0),
        command=[redact_text(part) for part in _as_list(config.get("Cmd"))],
        entrypoint=[redact_text(part) for part in _as_list(config.get("Entrypoint"))],
        ports=format_ports((attrs.get("NetworkSettings") or {}).get("Ports") or {}),
        memory_limit_bytes=int(host_config.get("Memory") or 0),
        env=redact_mapping(parse_env(config.get("Env") or [])),
        health_failing_streak=int(health.get("FailingStreak") or 0),
        health_log=[
            HealthCheckRun(
                started=str(run.get("Start") or ""),
                exit_code=int(run.get("ExitCode", -1)),
                output=redact_text(str(run.get("Output") or "").strip())[-HEALTH_OUTPUT_CHARS:],
            )
            for run in health.get("Log") or []
        ],
        host_pid=int(state.get("Pid") or 0),
    )


def parse_env(entries: list[str]) -> dict[str, str]:
    """`KEY=value` entries as the engine stores them; a bare `KEY` means set and empty."""
    env: dict[str, str] = {}
    for entry in entries:
        key, _, value = entry.partition("=")
        if key:
            env[key] = value
    return env


def format_ports(ports: dict[str, Any]) -> list[str]:
    """`docker ps` style: "0.0.0.0:8080->80/tcp", or "80/tcp" when the port is exposed but not published."""
    shown: list[str] = []
    for container_port, bindings in sorted(ports.items()):
        if not bindings:
            shown.append(container_port)
            continue
        for binding in bindings:
            shown.append(f"{binding.get('HostIp') or '0.0.0.0'}:{binding.get('HostPort')}->{container_port}")
    return shown


@dataclass
class StatsSample:
    cpu_total_ns: int  # the container's cumulative CPU time
    system_ns: int  # the host's cumulative CPU time, all cores
    online_cpus: int
    memory_used_bytes: int
    origin: str = "engine"  # "engine" (stats API) or "cgroup" (read locally): their clocks differ


def parse_stats(stats: dict[str, Any]) -> StatsSample | None:
    """One-shot stats carry no previous sample, so CPU% comes from two of ours (see cpu_percent)."""
    cpu = stats.get("cpu_stats") or {}
    usage = cpu.get("cpu_usage") or {}
    memory = stats.get("memory_stats") or {}
    if "usage" not in memory and not usage:
        return None  # the container stopped between listing and sampling
    return StatsSample(
        cpu_total_ns=int(usage.get("total_usage") or 0),
        system_ns=int(cpu.get("system_cpu_usage") or 0),
        online_cpus=int(cpu.get("online_cpus") or len(usage.get("percpu_usage") or []) or 1),
        memory_used_bytes=memory_used(memory),
    )


def memory_used(memory_stats: dict[str, Any]) -> int:
    """Usage without reclaimable page cache, as `docker stats` shows it (cgroup v1 and v2)."""
    usage = int(memory_stats.get("usage") or 0)
    detail = memory_stats.get("stats") or {}
    inactive_file = detail.get("total_inactive_file", detail.get("inactive_file", 0))
    return max(0, usage - int(inactive_file or 0))


def cpu_percent(previous: StatsSample | None, current: StatsSample) -> float | None:
    """CPU use between two samples in % of one core (100% = one busy core), None for the first sample."""
    if previous is None or previous.origin != current.origin:
        return None
    cpu_delta = current.cpu_total_ns - previous.cpu_total_ns
    system_delta = current.system_ns - previous.system_ns
    if system_delta <= 0 or cpu_delta < 0:
        return None
    return 100.0 * current.online_cpus * cpu_delta / system_delta


def engine_time(iso: str | None) -> float | None:
    """An engine timestamp as unix time, None for never or unreadable.

    The engine writes RFC 3339 with nanoseconds and a zone (`2024-05-01T10:00:00.123456789Z`, `...+02:00`);
    Python keeps microseconds, so the digits past six are dropped, and the zone is kept. No zone means UTC.
    """
    if not iso or iso.startswith("0001-01-01"):
        return None
    head, dot, rest = iso.partition(".")
    if dot:
        digits = rest[:len(rest) - len(rest.lstrip("0123456789"))]
        iso = f"{head}.{digits[:6]}{rest[len(digits):]}"
    try:
        at = datetime.fromisoformat(iso.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=timezone.utc)).timestamp()


def _time_or_none(value: Any) -> str | None:
    if not value or value == ZERO_TIME:
        return None
    return str(value)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(part) for part in value]
