"""Findings from container records. Pure: "now" is the section's collection time, so replays agree."""

from __future__ import annotations

from tui import registry
from tui.config import Thresholds
from tui.containers.exitcodes import explain_exit
from tui.containers.inventory import engine_time
from tui.containers.records import ContainerRecord, ContainersSection
from tui.findings import Finding
from tui.wording import count, human_duration

SOURCE = registry.CONTAINERS
CRASH_WINDOW_S = 600.0  # restarts closer together than this count towards a crash loop
CRASH_LOOP_RESTARTS = 3
HEALTH_PERSISTENT_STREAK = 10  # consecutive failed checks after which unhealthy becomes critical
ORDERLY_STOP_CODES = (143,)  # SIGTERM from `docker stop`: not an error
STOPPED_STATES = ("exited", "dead", "created")


def analyze(section: ContainersSection, thresholds: Thresholds) -> list[Finding]:
    findings: list[Finding] = []
    for record in section.containers:
        findings.extend(container_findings(record, section.taken_at, thresholds))
    return findings


def container_findings(record: ContainerRecord, now: float, thresholds: Thresholds) -> list[Finding]:
    """Every problem of one container; a healthy running container has none."""
    found = [
        _crash_loop(record, now),
        _oom_killed(record),
        _health_failing(record),
        _exited_error(record),
        _memory_near_limit(record, thresholds.container_memory_percent),
    ]
    return [finding for finding in found if finding is not None]


def crash_loop_reason(record: ContainerRecord, now: float) -> str | None:
    """Why this container counts as crash-looping, None when it does not."""
    if record.state == "restarting":
        return f"the engine is restarting it (restart #{record.restart_count})"
    if record.restart_policy == "no":
        return None
    recent = _recent_exits(record, now)
    if len(recent) >= CRASH_LOOP_RESTARTS:
        return f"it died {len(recent)} times in the last {CRASH_WINDOW_S / 60:.0f} minutes"
    gave_up = record.restart_policy == "on-failure" and 0 < record.restart_max_retries <= record.restart_count
    if gave_up and record.state in STOPPED_STATES and record.exit_code != 0:
        return (f"it failed {count(record.restart_count, 'restart')} and the engine gave up "
                f"(on-failure:{record.restart_max_retries})")
    finished = engine_time(record.finished_at)
    if record.restart_count >= CRASH_LOOP_RESTARTS and finished is not None and now - finished <= CRASH_WINDOW_S:
        return f"it has been restarted {record.restart_count} times and last died {human_duration(now - finished)} ago"
    return None


def _recent_exits(record: ContainerRecord, now: float) -> list[float]:
    """The exits tshoot's event watcher saw within the crash window."""
    return [at for at in record.recent_exits if now - at <= CRASH_WINDOW_S]


def suggested_fix(record: ContainerRecord) -> str:
    """The one next step for the card: health first (the app runs), then the exit code's usual fix."""
    if record.health == "unhealthy" and record.state == "running":
        output = record.health_log[-1].output if record.health_log else ""
        return (f"The health check fails{': ' + output if output else ''}. Check what it probes "
                "(endpoint, port, credentials) and whether the app is overloaded.")
    if record.memory_percent is not None and record.memory_percent >= 90:
        return "Memory is close to the limit: raise the limit (-m) or reduce the application's memory use."
    if record.state == "running" and record.exit_code == 0 and not record.oom_killed:
        return "Nothing to fix right now."
    return explain_exit(record.exit_code, record.oom_killed).fix


def _crash_loop(record: ContainerRecord, now: float) -> Finding | None:
    reason = crash_loop_reason(record, now)
    if reason is None:
        return None
    meaning = explain_exit(record.exit_code, record.oom_killed)
    return _finding(
        record, "crash-loop", "critical",
        f"{record.name} is crash-looping ({count(record.restart_count, 'restart')})",
        f"{reason}. Last exit: {record.exit_code}, {meaning.summary}. {meaning.fix}",
        restart_count=record.restart_count, exit_code=record.exit_code, restart_policy=_policy(record),
        # The engine's restart count covers the container's whole life; tshoot sees exits only while it runs.
        exits_seen_by_tshoot_last_10_min=len(_recent_exits(record, now)),
    )


def _oom_killed(record: ContainerRecord) -> Finding | None:
    if not record.oom_killed:
        return None
    limit = f" of {record.memory_limit_bytes / 2**20:.0f} MiB" if record.memory_limit_bytes else ""
    return _finding(
        record, "oom-killed", "critical",
        f"{record.name} was killed by the OOM killer",
        f"It reached its memory limit{limit} and the kernel killed it (exit {record.exit_code}). "
        + explain_exit(record.exit_code, True).fix,
        exit_code=record.exit_code, memory_limit_bytes=record.memory_limit_bytes,
    )


def _health_failing(record: ContainerRecord) -> Finding | None:
    if record.health != "unhealthy" or record.state != "running":
        return None
    persistent = record.health_failing_streak >= HEALTH_PERSISTENT_STREAK
    last = record.health_log[-1] if record.health_log else None
    output = f" Last check (exit {last.exit_code}): {last.output or '(no output)'}" if last else ""
    return _finding(
        record, "health-failing", "critical" if persistent else "warning",
        f"{record.name} is unhealthy ({count(record.health_failing_streak, 'failed check')} in a row)",
        f"Its health check keeps failing{', for a long time' if persistent else ''}.{output}",
        failing_streak=record.health_failing_streak,
    )


def _exited_error(record: ContainerRecord) -> Finding | None:
    if record.state not in STOPPED_STATES or record.restart_policy != "no" or record.oom_killed:
        return None
    if record.exit_code == 0 or record.exit_code in ORDERLY_STOP_CODES:
        return None
    if record.state == "created" and not record.error:
        return None  # created and never started: the exit code is not one
    meaning = explain_exit(record.exit_code)
    error = f" Engine error: {record.error}." if record.error else ""
    return _finding(
        record, "exited-error", "warning",
        f"{record.name} exited with {record.exit_code} ({meaning.summary})",
        f"It stopped with a non-zero exit code and no restart policy brings it back.{error} {meaning.fix}",
        exit_code=record.exit_code,
    )


def _memory_near_limit(record: ContainerRecord, threshold_percent: float) -> Finding | None:
    percent = record.memory_percent
    if record.state != "running" or percent is None or percent <= threshold_percent:
        return None
    return _finding(
        record, "memory-near-limit", "warning",
        f"{record.name} uses {percent:.0f}% of its memory limit",
        f"{record.memory_used_bytes / 2**20:.1f} of {record.memory_limit_bytes / 2**20:.0f} MiB: "
        "the OOM killer will stop it when it reaches the limit. Raise the limit or reduce its memory use.",
        memory_percent=round(percent, 1), memory_used_bytes=record.memory_used_bytes,
        memory_limit_bytes=record.memory_limit_bytes,
    )


def _finding(record: ContainerRecord, finding_id: str, severity: str, title: str, detail: str, **evidence) -> Finding:
    return Finding(
        id=finding_id, severity=severity, source=SOURCE, title=title, detail=detail,
        subject=record.subject, evidence=evidence, guide="container-restart",
    )


def _policy(record: ContainerRecord) -> str:
    if record.restart_policy == "on-failure" and record.restart_max_retries:
        return f"on-failure:{record.restart_max_retries}"
    return record.restart_policy
