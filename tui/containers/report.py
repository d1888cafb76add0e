"""The Containers part of the Markdown incident report: every container in one table, then for each
troubled one what the pane's "why did it die" card shows: its findings, exit code meaning, restarts,
health checks, last log lines and the suggested fix.

The problems listed are the snapshot's own findings (the thresholds it was taken with), never recomputed here.
"""

from __future__ import annotations

from typing import Any

from tui.containers.analysis import crash_loop_reason, suggested_fix
from tui.containers.exitcodes import explain_exit
from tui.containers.records import ContainerRecord, ContainersSection
from tui.markdown import clip, code_block, inline_code, mib, table
from tui.source import section_from_json

LOG_LINES = 20


def markdown(section: dict[str, Any], findings: list[dict[str, Any]]) -> list[str]:
    containers = section_from_json(ContainersSection, section)
    lines = [f"Engine {containers.engine_version} at {containers.engine_host}; {len(containers.containers)} containers"
             + ("." if containers.watching_events else " (event stream down: changes seen on re-sync only).")]
    if not containers.containers:
        return lines
    lines += [""] + table(
        ["name", "image", "state", "health", "restarts", "exit code", "OOM", "memory used / limit", "CPU%"],
        [_row(r) for r in containers.containers],
    )
    for record in containers.containers:
        problems = [f["title"] for f in findings if f.get("subject") == record.subject]
        if problems or record.last_logs:
            lines += ["", *_card(record, problems, containers.taken_at)]
    return lines


def _row(r: ContainerRecord) -> list[Any]:
    exited = r.state != "running" or r.exit_code != 0
    exit_code = f"{r.exit_code}: {explain_exit(r.exit_code, r.oom_killed).summary}" if exited else "-"
    limit = mib(r.memory_limit_bytes) if r.memory_limit_bytes else "no limit"
    memory = f"{mib(r.memory_used_bytes)} / {limit}" if r.memory_used_bytes is not None else f"- / {limit}"
    cpu = "-" if r.cpu_percent is None else f"{r.cpu_percent:.1f}"
    return [r.name, r.image, r.state, r.health, r.restart_count, exit_code, "yes" if r.oom_killed else "", memory, cpu]


def _card(r: ContainerRecord, problems: list[str], now: float) -> list[str]:
    """Why it died or is sick, most telling first (the pane's card, as Markdown)."""
    lines = [f"### {r.name} ({r.id[:12]}, image {r.image}, {r.state}" + (f", {r.health})" if r.health else ")"), ""]
    lines += [f"- problem: {problem}" for problem in problems]
    if r.state != "running" or r.exit_code or r.oom_killed:
        lines.append(f"- exit code {r.exit_code}: {explain_exit(r.exit_code, r.oom_killed).summary}")
    if r.error:
        lines.append(f"- engine error: {r.error}")
    policy = f"{r.restart_policy}:{r.restart_max_retries}" if r.restart_max_retries else r.restart_policy
    loop = crash_loop_reason(r, now)
    lines.append(f"- restarts: {r.restart_count} under policy {policy}" + (f"; crash loop: {loop}" if loop else ""))
    lines.append(f"- started {r.started_at or 'never'}; finished {r.finished_at or '-'}")
    lines.append(f"- command {inline_code(clip(' '.join(r.command), 200)) if r.command else '-'}; "
                 f"entrypoint {inline_code(clip(' '.join(r.entrypoint), 200)) if r.entrypoint else '-'}")
    if r.memory_history:
        used = [s.used_bytes for s in r.memory_history]
        lines.append(f"- memory: now {mib(used[-1])}, min {mib(min(used))}, max {mib(max(used))}"
                     + (f" of {mib(r.memory_limit_bytes)} limit" if r.memory_limit_bytes else ", no limit"))
    lines.append(f"- suggested fix: {suggested_fix(r)}")
    if r.health_log:
        lines += ["", f"Health checks ({r.health_failing_streak} failing in a row):", ""]
        lines += table(["started", "exit", "output"], [[run.started, run.exit_code, clip(run.output, 200)]
                                                        for run in r.health_log])
    if r.last_logs:
        lines += ["", f"Last {min(LOG_LINES, len(r.last_logs))} log lines (E = stderr):", ""]
        lines += code_block("\n".join(f"{line.timestamp[:23].replace('T', ' ') or '-':23} "
                                      f"{'E' if line.stream == 'stderr' else ' '} {line.text}"
                                      for line in r.last_logs[-LOG_LINES:]))
    return lines
