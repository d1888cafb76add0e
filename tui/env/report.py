"""The Env part of the Markdown incident report: tshoot's runtime, what was compared with the baseline and
which keys differ (values as the snapshot stores them: secrets masked), processes missing keys of their
env file, and the sides that could not be loaded.
"""

from __future__ import annotations

from typing import Any

from tui.env.diff import DIFFERENT, ONLY_RIGHT, EnvDiff
from tui.env.records import EnvSection
from tui.env.source import WHOLE_ENVIRONMENTS
from tui.markdown import clip, inline_code, table
from tui.source import section_from_json

MAX_ROWS = 200
VALUE_CHARS = 120


def markdown(section: dict[str, Any], _findings: list[dict[str, Any]]) -> list[str]:
    env = section_from_json(EnvSection, section)
    runtime = env.runtime
    lines = [f"Host {env.host or '?'}: Python {runtime.get('python.version', '?')} "
             f"({runtime.get('python.implementation', '?')}) on {runtime.get('os.system', '?')} "
             f"{runtime.get('os.release', '')} {runtime.get('os.machine', '')}".rstrip()
             + (f", {runtime['os.distribution']}" if runtime.get("os.distribution") else "")
             + f"; {len(env.packages)} packages in tshoot's interpreter."]
    if env.baseline is None:
        lines.append("No baseline configured: set `env_baseline` in the config (an env file or a snapshot) "
                     "to compare this host with a known-good one.")
    else:
        lines.append(f"Baseline: {inline_code(env.baseline)}, compared with {len(env.diffs)} side(s).")
    for diff in env.diffs:
        lines += ["", *_diff(diff)]
    if env.process_checks:
        lines += ["", "**Processes missing keys their env file declares**", ""]
        lines += table(["pid", "process", "env file", "missing keys"],
                       [[c.pid, c.name, c.env_file, f"{len(c.missing)} of {c.declared}: " + ", ".join(c.missing)]
                        for c in env.process_checks])
    if env.unreadable_processes:
        lines += ["", f"{env.unreadable_processes} process(es) next to an env file could not be read (run as root "
                      "to check them)."]
    if env.problems:
        lines += ["", *(f"- problem: {problem}" for problem in env.problems)]
    return lines


def _diff(diff: EnvDiff) -> list[str]:
    counts = diff.counts()
    lines = [f"### {diff.left} ({diff.left_kind or '?'}) vs {diff.right} ({diff.right_kind or '?'})", "",
             ", ".join(f"{n} {status}" for status, n in counts.items()) + "."]
    # An env-file baseline declares part of an environment: the rest of a whole environment is not drift.
    partial = diff.left_kind == "env-file" and diff.right_kind in WHOLE_ENVIRONMENTS
    rows = [row for row in diff.rows if row.status in DIFFERENT and not (partial and row.status == ONLY_RIGHT)]
    rows.sort(key=lambda row: row.is_session_key)  # shell-session variables say nothing about the application
    if partial and counts[ONLY_RIGHT]:
        lines.append(f"{counts[ONLY_RIGHT]} keys of the environment that the baseline env file does not declare "
                     "are not listed.")
    for side, problems in ((diff.left, diff.left_problems), (diff.right, diff.right_problems)):
        lines += [f"- problem in {side}: {problem}" for problem in problems]
    if rows:
        lines += [""] + table(
            ["status", "key", "left", "right", "what differs"],
            [[row.status, row.key + (" (session)" if row.is_session_key else ""), _value(row.left), _value(row.right),
              row.detail] for row in rows[:MAX_ROWS]],
        )
        if len(rows) > MAX_ROWS:
            lines.append(f"… and {len(rows) - MAX_ROWS} more.")
    return lines


def _value(value: str | None) -> str:
    return "(absent)" if value is None else clip(value, VALUE_CHARS) or '""'
