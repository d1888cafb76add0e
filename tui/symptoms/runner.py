"""Run a guide: each of its checks against live state, into results with evidence, fix and jump.

The CLI and the pane both come here; "verify" is simply running the same guide again with a fresh context.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import urlsplit

from tui import registry
from tui.config import Config
from tui.databases.conncheck import target_client
from tui.snapshot import Collection, collect_all
from tui.symptoms.checks import CHECKS, CheckContext, Outcome
from tui.symptoms.guides import Fix, Guide, GuideCheck

STATUS_EXIT = {"pass": 0, "skipped": 0, "warn": 1, "fail": 2}
_PLACEHOLDER = re.compile(r"\b(PID|CONTAINER|IMAGE|URL|HOST|USER|DB|PSQL|MYSQL)\b")
# A command that starts the other engine's client (PSQL for a MySQL target, ...) is left out, never shown unfilled.
_CLIENT_PLACEHOLDER = re.compile(r"\b(PSQL|MYSQL)\b")


@dataclass
class GuideOptions:
    """What the operator named for this run, added to the targets the config already names."""

    db_urls: list[str] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    token: str | None = None  # pasted by the operator; used for this run only, never written anywhere


def effective_config(config: Config, options: GuideOptions) -> Config:
    """The config the checks and the collection see: the config's targets plus this run's (as `tshoot doctor`)."""

    def merged(configured: list[Any], named: list[Any]) -> list[Any]:
        return list(dict.fromkeys([*configured, *named]))

    return dataclasses.replace(
        config,
        db_urls=merged(config.db_urls, options.db_urls),
        pids=merged(config.pids, options.pids),
        probe_urls=merged(config.probe_urls, options.urls),
        log_paths=merged(config.log_paths, options.logs),
        log_path_flags=merged(config.log_path_flags, options.logs),
    )


@dataclass
class Jump:
    pane: str
    subject: dict[str, Any]


@dataclass
class CheckResult:
    id: str
    title: str
    status: str  # pass | warn | fail | skipped
    summary: str  # what was seen, or why it was skipped
    evidence: dict[str, Any]
    fix: Fix | None  # only for warn / fail
    jump: Jump | None  # the pane and row that show it, only for warn / fail

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GuideRun:
    guide: str
    title: str
    at: str  # ISO 8601 UTC, when it ran
    results: list[CheckResult]

    @property
    def exit_code(self) -> int:
        """As `tshoot doctor`: 0 nothing wrong, 1 warnings, 2 failures."""
        return max((STATUS_EXIT[r.status] for r in self.results), default=0)

    def to_json(self) -> dict[str, Any]:
        return {"guide": self.guide, "title": self.title, "at": self.at,
                "checks": [r.to_json() for r in self.results]}


def run_guide(guide: Guide, context: CheckContext,
              on_result: Callable[[CheckResult], None] | None = None) -> GuideRun:
    """Run every check in order; a check that crashes is reported as skipped with the error, the rest still run."""
    run = GuideRun(guide.id, guide.title, datetime.now(timezone.utc).isoformat(timespec="seconds"), [])
    for item in guide.checks:
        result = run_check(item, context)
        run.results.append(result)
        if on_result is not None:
            on_result(result)
    return run


def run_check(item: GuideCheck, context: CheckContext) -> CheckResult:
    try:
        outcome = CHECKS[item.check](context, **item.params)
    except Exception as exc:  # a bug or an unexpected system state in one check must not end the guide
        outcome = Outcome("skipped", f"the check could not run: {type(exc).__name__}: {exc}")
    failing = outcome.status in ("warn", "fail")
    fix = None
    if failing:
        values = placeholder_values(outcome)
        fix = Fix(outcome.fix_first + item.fix.steps,
                  outcome.commands + [filled for filled in (fill_placeholders(c, values) for c in item.fix.commands)
                                      if not _CLIENT_PLACEHOLDER.search(filled)],
                  fill_placeholders(item.fix.code, values))
    pane = outcome.pane or item.jump
    jump = Jump(pane, outcome.subject) if failing and pane and outcome.subject is not None else None
    return CheckResult(item.id, item.title, outcome.status, outcome.summary, outcome.evidence, fix, jump)


def placeholder_values(outcome: Outcome) -> dict[str, str]:
    """What the fix's PID, CONTAINER, IMAGE, URL, HOST, USER and DB stand for, from the failing check's subject."""
    subject = outcome.subject or {}
    values = {}
    if isinstance(subject.get("pid"), int):
        values["PID"] = str(subject["pid"])
    container = subject.get("container") or (subject.get("name") if outcome.pane == registry.CONTAINERS else None)
    if container:
        values["CONTAINER"] = str(container)
    url = subject.get("url") or subject.get("target")
    if isinstance(url, str) and "://" in url:
        values["URL"] = url  # already masked by the check
        try:
            parts = urlsplit(url)
            values |= {"HOST": parts.hostname or "", "USER": parts.username or "", "DB": parts.path.lstrip("/")}
        except ValueError:
            pass
        client = target_client(url)  # the engine's client for this target: its host, port, user, database
        if client is not None:
            values["PSQL" if client[0] == "postgresql" else "MYSQL"] = client[1]
    values |= outcome.placeholders
    return {name: value for name, value in values.items() if value}


def fill_placeholders(text: str, values: dict[str, str]) -> str:
    """Replace the upper-case placeholder words the guide's commands and code use; unknown ones stay."""
    if not values:
        return text
    return _PLACEHOLDER.sub(lambda m: values.get(m[0], m[0]), text)


def live_collection(config: Config, observe: float) -> Callable[[], Collection]:
    """Collect every source once (the `tshoot doctor` path), when the first check asks for it."""
    return lambda: collect_all(config, observe)
