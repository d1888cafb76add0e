"""The Env source: what every snapshot records about the environment, and the findings about it.

Its section holds tshoot's own environment (masked: a secret is recorded as present, never as a value or
a hash), its runtime and packages, the diff of the configured baseline against the configured env files
(or against tshoot's own environment when none are configured), and processes that lack keys their
`.env` declares. `tshoot env-diff other.json this.json` reads exactly this section back.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import replace

from tui import registry
from tui.config import Config
from tui.env.diff import DIFFERENT, ONLY_RIGHT, EnvDiff, diff_sides
from tui.env.procenv import scan_processes, tshoot_family
from tui.env.records import EnvSection
from tui.env.runtime import this_runtime
from tui.env.side import SideError
from tui.env.sides import load_self, load_side
from tui.findings import Finding
from tui.redact import redact_mapping
from tui.source import Source

MAX_KEYS_IN_EVIDENCE = 20
# Sides that hold a whole process environment: keys beyond what an env-file baseline declares are normal there.
WHOLE_ENVIRONMENTS = {"self", "process", "container", "snapshot"}


class EnvSource(Source):
    name = registry.ENV
    section_type = EnvSection

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self._family = tshoot_family()
        self._operator_sides: tuple[str, str] | None = None

    def compare_also(self, sides: tuple[str, str] | None) -> None:
        """The two side specs the operator compares in the Env pane (None: none), diffed on every poll
        from now on, so a snapshot records the comparison the operator was looking at."""
        self._operator_sides = sides

    def collect(self) -> EnvSection:
        runtime, packages = this_runtime()
        section = EnvSection(taken_at=time.time(), host=socket.gethostname(), environ=redact_mapping(dict(os.environ)),
                             runtime=runtime, packages=packages, baseline=self.config.env_baseline)
        if self.config.env_baseline:
            section.diffs, section.problems = self._baseline_diffs(self.config.env_baseline)
        operator_sides = self._operator_sides  # read once: the pane may change it while this poll runs
        if operator_sides:
            try:
                diff = diff_sides(*(load_side(spec, self.config) for spec in operator_sides))
                section.diffs.append(replace(diff, chosen_by="operator"))
            except SideError as exc:
                section.problems.append(f"the Env pane's comparison: {exc}")
        scan = scan_processes(self.config.env_files, self._family)
        section.process_checks, section.unreadable_processes = scan.checks, scan.unreadable
        section.problems += scan.problems
        return section

    def _baseline_diffs(self, baseline_spec: str) -> tuple[list[EnvDiff], list[str]]:
        try:
            baseline = load_side(baseline_spec, self.config)
        except SideError as exc:
            return [], [f"baseline: {exc}"]
        diffs, problems = [], []
        for spec in self.config.env_files or ["self"]:
            try:
                current = load_self() if spec == "self" else load_side(spec, self.config)
                diffs.append(diff_sides(baseline, current))
            except SideError as exc:
                problems.append(str(exc))
        return diffs, problems

    def analyze(self, section: EnvSection) -> list[Finding]:
        return drift_findings(section) + missing_env_findings(section)


def drift_findings(section: EnvSection) -> list[Finding]:
    """`env-drift`: the baseline differs from a compared side. Shell-session variables do not count, nor the
    rest of a whole environment compared with an env file that declares only some of it."""
    findings = []
    for diff in section.diffs:
        if diff.chosen_by != "config":  # two sides the operator chose to compare: they may differ on purpose
            continue
        partial = diff.left_kind == "env-file" and diff.right_kind in WHOLE_ENVIRONMENTS
        rows = [row for row in diff.rows if row.status in DIFFERENT and not row.is_session_key
                and not (partial and row.status == ONLY_RIGHT)]
        if not rows:
            continue
        counts = {status: sum(row.status == status for row in rows) for status in DIFFERENT}
        summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
        findings.append(Finding(
            id="env-drift", severity="warning", source=registry.ENV,
            title=f"{diff.right} differs from baseline {diff.left}: {summary}",
            detail=("The environment no longer matches the baseline chosen as known-good. `changed` keys have "
                    "another value, `only-left` keys are missing here, `only-right` keys are new. Check the keys "
                    "listed first in the Env pane; a missing or changed URL, flag or version is the usual cause "
                    "of 'works there, fails here'."),
            subject={"baseline": diff.left, "side": diff.right},
            evidence={**counts, "keys": [row.key for row in rows[:MAX_KEYS_IN_EVIDENCE]]},
            guide="dev-prod",
        ))
    return findings


def missing_env_findings(section: EnvSection) -> list[Finding]:
    """`missing-env`: a running process lacks keys that the env file in its working directory declares."""
    return [
        Finding(
            id="missing-env", severity="warning", source=registry.ENV,
            title=f"pid {check.pid} ({check.name}) lacks {len(check.missing)} of {check.declared} keys from {check.env_file}",
            detail=("The process's environment does not have keys that its env file declares: it was started before "
                    "they were added, or by something that does not load that file (a systemd unit, a cron job, a "
                    "shell without `set -a`). Restart it the way the file gets loaded, then compare again."),
            # one process may lack keys of two env files: two findings, told apart by the file
            subject={"pid": check.pid, "name": check.name, "env_file": check.env_file},
            evidence={"env_file": check.env_file, "missing": check.missing[:MAX_KEYS_IN_EVIDENCE]},
            guide="dev-prod",
        )
        for check in section.process_checks
    ]
