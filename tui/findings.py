"""The one record every detector returns.

The Symptoms pane, `tshoot doctor`, snapshots and the Markdown report all read the same list of
Finding records, so a detector written once shows up everywhere.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from tui.textsafe import visible

Severity = Literal["critical", "warning", "info"]
SEVERITY_RANK: dict[str, int] = {"critical": 2, "warning": 1, "info": 0}


@dataclass
class Finding:
    id: str  # kind of problem, e.g. "memory-growth", "deadlock"
    severity: Severity
    source: str  # pane that found it: processes, threads, databases, containers, env, symptoms
    title: str  # one line for a list
    detail: str  # what it means and what to do, a few sentences
    subject: dict[str, Any] = field(default_factory=dict)  # what it is about, e.g. {"pid": 12, "name": "x"}
    evidence: dict[str, Any] = field(default_factory=dict)  # the numbers behind it
    guide: str | None = None  # id of the guide that explains the fix

    def __post_init__(self) -> None:
        # A title is one line wherever it goes (lists, report headings, doctor lines) and quotes host text (a
        # thread or process name): a newline in it would start a fake heading or finding in a report.
        self.title = visible(self.title)

    @property
    def key(self) -> str:
        """Stable identity across refreshes: same problem on the same subject."""
        subject = ",".join(f"{k}={self.subject[k]}" for k in sorted(self.subject))
        return f"{self.source}:{self.id}:{subject}"


# "41s", "4.5s", "3m12s", "2h05m", "1d03h", "250ms": a duration as titles write it
_DURATION = re.compile(r"\b\d+(?:\.\d+)?(?:ms|s|m|h|d)(?:\d+[smh])?\b")


def as_of(title: str, measured_at: float | None) -> str:
    """A title with a duration ("waits 41s", "blocked for 12s"), said with the time of the poll that measured it
    ("waits 41s as of 11:06:40"): the number does not grow while the title stays on screen, and tshoot does not
    know whether it still waits, so it says when it was true. Titles without a duration are unchanged."""
    match = _DURATION.search(title)
    if match is None or measured_at is None:
        return title
    stamp = time.strftime("%H:%M:%S", time.localtime(measured_at))
    return f"{title[:match.end()]} as of {stamp}{title[match.end():]}"


def with_row_keys(findings: list[Finding]) -> list[tuple[str, Finding]]:
    """Each finding with a key unique in the list, for a table row: its own key, then `key#2`, `key#3`, ...
    for later findings with the same key (a crafted or older snapshot can hold repeats)."""
    seen: dict[str, int] = {}
    keyed = []
    for finding in findings:
        count = seen[finding.key] = seen.get(finding.key, 0) + 1
        keyed.append((finding.key if count == 1 else f"{finding.key}#{count}", finding))
    return keyed


def by_severity(findings: list[Finding]) -> list[Finding]:
    """Most severe first; stable within a severity."""
    return sorted(findings, key=lambda f: -SEVERITY_RANK[f.severity])


def exit_code(findings: list[Finding]) -> int:
    """Monitoring-plugin convention: 0 nothing above info, 1 warnings, 2 critical."""
    return max((SEVERITY_RANK[f.severity] for f in findings), default=0)
