"""The Env source's section record: what every snapshot records about the environment (see tui/env/source.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tui.env.diff import EnvDiff
from tui.env.procenv import ProcessEnvCheck
from tui.env.sides import ENV_SECTION_FORMAT


@dataclass
class EnvSection:
    format: int = ENV_SECTION_FORMAT
    taken_at: float = 0.0  # unix time of this poll
    host: str = ""
    environ: dict[str, str] = field(default_factory=dict)  # tshoot's own environment, masked
    runtime: dict[str, str] = field(default_factory=dict)  # python.version, os.system, ...
    packages: dict[str, str] = field(default_factory=dict)  # installed in tshoot's interpreter
    baseline: str | None = None
    # the baseline (left) against each compared side (right), then the Env pane's comparison (chosen_by "operator")
    diffs: list[EnvDiff] = field(default_factory=list)
    process_checks: list[ProcessEnvCheck] = field(default_factory=list)
    unreadable_processes: int = 0
    problems: list[str] = field(default_factory=list)  # sides that could not be loaded, env files with errors
