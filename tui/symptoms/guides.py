"""Guides are data: TOML files in this package's `guides/` folder, plus the operator's `config.guides_dir`.

A guide file:

    id = "http-500"                      # letters, digits and dashes; an operator guide with a built-in id replaces it
    title = "Internal server errors"
    summary = "one line for the list"
    meaning = "what the symptom usually means"
    verify = "how to confirm the fix (the checks are re-run)"

    [[checks]]
    id = "probe"                         # unique within the guide
    title = "The URL answers without a 5xx"
    check = "http_status"                # a function in tui/symptoms/checks.py
    params = { timeout = 5.0 }           # its keyword arguments
    jump = "processes"                   # pane to open from a failing check (optional)
    [checks.fix]
    steps = ["..."]
    commands = ["..."]
    code = "..."

In `commands` and `code`, PID, CONTAINER, IMAGE, URL, HOST, USER and DB stand for the failing check's subject;
PSQL and MYSQL for that database's own client with its host, port, user and database (a command naming the
other engine's client is left out). A command that can stop, restart, reconfigure or change data says so:
`  # DISRUPTIVE: <its consequence>` (a test holds the built-in guides to it).

Every file is validated on load; a bad operator file is reported with its name and problem and the
other guides still load.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from tui import registry
from tui.findings import Finding
from tui.safefile import CONFIG_LIMIT, FileRefused, parse_toml, read_text
from tui.symptoms.checks import CHECKS, READS_FINDING_IDS, READS_FINDINGS

BUILTIN_ORDER = ("db-connection", "http-500", "slow", "auth", "intermittent", "container-restart", "dev-prod", "hang")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class GuideError(Exception):
    """A guide file is unreadable or invalid; the message names the file and what is wrong."""


@dataclass
class Fix:
    steps: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)  # shell lines to copy
    code: str = ""  # a snippet to copy (config or application code)


@dataclass
class GuideCheck:
    id: str
    title: str
    check: str  # name of the function in CHECKS
    params: dict[str, Any] = field(default_factory=dict)
    jump: str | None = None  # pane to jump to when it fails
    fix: Fix = field(default_factory=Fix)


@dataclass
class Guide:
    id: str
    title: str
    summary: str
    meaning: str
    verify: str
    checks: list[GuideCheck]
    origin: str  # the file it came from

    def check_reading(self, finding_id: str) -> int | None:
        """Position of the first check that reads this finding id (its live badge counts those), or None."""
        for position, item in enumerate(self.checks):
            if finding_id in item.params.get("ids", []) and item.check in READS_FINDING_IDS or (
                    finding_id in READS_FINDINGS.get(item.check, [])):
                return position
        return None

    def matches(self, finding: Finding) -> bool:
        return finding.guide == self.id or self.check_reading(finding.id) is not None


@dataclass
class GuideBook:
    guides: dict[str, Guide]  # by id, built-ins in BUILTIN_ORDER, then the operator's
    problems: list[str]  # operator files that could not be loaded, with why

    def get(self, guide_id: str) -> Guide:
        try:
            return self.guides[guide_id]
        except KeyError:
            raise GuideError(f"unknown guide '{guide_id}' (known: {', '.join(self.guides)})") from None

    def for_finding(self, finding: Finding) -> Guide | None:
        """The finding's own guide, else the guide that checks it earliest (it is most about it)."""
        if finding.guide in self.guides:
            return self.guides[finding.guide]
        ranked = [(g.check_reading(finding.id), n, g) for n, g in enumerate(self.guides.values())]
        return min(((p, n, g) for p, n, g in ranked if p is not None), default=(0, 0, None))[2]

    def badge(self, guide: Guide, findings: list[Finding]) -> list[Finding]:
        return [f for f in findings if guide.matches(f)]


def load_guides(guides_dir: str | None = None) -> GuideBook:
    """The built-in guides (an error in them is a bug: it raises) and the operator's (errors are collected)."""
    guides: dict[str, Guide] = {}
    package = resources.files("tui.symptoms") / "guides"
    for entry in sorted(package.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            guide = parse_guide(entry.read_text(encoding="utf-8"), f"built-in {entry.name}")
            guides[guide.id] = guide
    ordered = {gid: guides.pop(gid) for gid in BUILTIN_ORDER if gid in guides} | guides
    problems: list[str] = []
    if guides_dir:
        folder = Path(guides_dir).expanduser()
        if not folder.is_dir():
            problems.append(f"guides_dir {folder}: not a folder")
        else:
            for file in sorted(folder.glob("*.toml")):
                try:
                    guide = parse_guide(read_text(file, CONFIG_LIMIT), str(file))
                except FileRefused as exc:  # a FIFO or a device named *.toml is refused, never waited on
                    problems.append(f"guide file {exc}")
                    continue
                except GuideError as exc:
                    problems.append(str(exc))
                    continue
                ordered[guide.id] = guide
    return GuideBook(ordered, problems)


def parse_guide(text: str, origin: str) -> Guide:
    """One guide from TOML text, validated; GuideError names `origin` and the problem."""
    try:
        data = parse_toml(text, origin)
    except FileRefused as exc:
        raise GuideError(f"guide file {exc}") from None
    where = f"guide file {origin}"
    _only_keys(data, {"id", "title", "summary", "meaning", "verify", "checks"}, where)
    guide_id = _string(data, "id", where)
    if not _ID.match(guide_id):
        raise GuideError(f"{where}: id '{guide_id}' must be lower-case letters, digits and dashes")
    raw_checks = data.get("checks")
    if not isinstance(raw_checks, list) or not raw_checks:
        raise GuideError(f"{where}: needs at least one [[checks]] table")
    checks = [_parse_check(item, f"{where}, check #{n}") for n, item in enumerate(raw_checks, 1)]
    seen: set[str] = set()
    for item in checks:
        if item.id in seen:
            raise GuideError(f"{where}: two checks have the id '{item.id}'")
        seen.add(item.id)
    return Guide(guide_id, _string(data, "title", where), _string(data, "summary", where),
                 _string(data, "meaning", where), _string(data, "verify", where), checks, origin)


def _parse_check(item: Any, where: str) -> GuideCheck:
    if not isinstance(item, dict):
        raise GuideError(f"{where}: must be a table")
    _only_keys(item, {"id", "title", "check", "params", "jump", "fix"}, where)
    name = _string(item, "check", where)
    function = CHECKS.get(name)
    if function is None:
        raise GuideError(f"{where}: unknown check '{name}' (known: {', '.join(sorted(CHECKS))})")
    params = item.get("params", {})
    if not isinstance(params, dict):
        raise GuideError(f"{where}: params must be a table")
    _check_params(function, params, f"{where} ({name})")
    jump = item.get("jump")
    if jump is not None and jump not in registry.names():
        raise GuideError(f"{where}: jump '{jump}' is not a pane (panes: {', '.join(registry.names())})")
    fix = item.get("fix", {})
    if not isinstance(fix, dict):
        raise GuideError(f"{where}: fix must be a table")
    _only_keys(fix, {"steps", "commands", "code"}, f"{where}, fix")
    for key in ("steps", "commands"):
        if not isinstance(fix.get(key, []), list) or not all(isinstance(s, str) for s in fix.get(key, [])):
            raise GuideError(f"{where}: fix.{key} must be a list of strings")
    if not isinstance(fix.get("code", ""), str):
        raise GuideError(f"{where}: fix.code must be a string")
    return GuideCheck(_string(item, "id", where), _string(item, "title", where), name, params, jump,
                      Fix(list(fix.get("steps", [])), list(fix.get("commands", [])), fix.get("code", "")))


def _check_params(function: Any, params: dict[str, Any], where: str) -> None:
    """The params must be keyword arguments the check accepts, and its required ones must be there."""
    signature = inspect.signature(function)
    accepted = list(signature.parameters.values())[1:]  # the first is the context
    names = {p.name for p in accepted}
    unknown = sorted(set(params) - names)
    if unknown:
        raise GuideError(f"{where}: unknown param(s) {', '.join(unknown)} (accepted: {', '.join(sorted(names)) or 'none'})")
    missing = [p.name for p in accepted if p.default is inspect.Parameter.empty and p.name not in params]
    if missing:
        raise GuideError(f"{where}: missing param(s) {', '.join(missing)}")


def _only_keys(data: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise GuideError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")


def _string(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise GuideError(f"{where}: '{key}' must be a non-empty string")
    return value.strip()
