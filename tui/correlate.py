"""Findings that need two panes: what one source saw, explained by what another measured.

Pure functions over the sections and findings every source produced, run wherever all of them meet: the
live app's list of findings, `doctor`, `snapshot` and the guides. A source never imports another source.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tui import registry
from tui.databases.analysis import RUNNING_STATES
from tui.findings import Finding


def correlate(findings: list[Finding], sections: dict[str, Any]) -> list[Finding]:
    """The findings, with those that another pane can explain completed by it."""
    databases = sections.get(registry.DATABASES)
    return [_pool_verdict(f, databases) if f.id == "pool-exhausted" else f for f in findings]


def _pool_verdict(finding: Finding, databases: Any) -> Finding:
    """Too small or leaking: the process's own sessions on the database say which."""
    pid = finding.subject.get("pid")
    sessions = [s for target in getattr(databases, "targets", []) if target.state and not target.same_server_as
                for s in target.state.sessions if s.local_pid == pid]
    if not sessions:
        return finding
    idle_in_tx = [s for s in sessions if s.state.startswith("idle in transaction")]
    busy = [s for s in sessions if s.state in RUNNING_STATES]  # PostgreSQL "active", MySQL "Query"/"Execute"
    if len(idle_in_tx) * 2 >= len(sessions):
        verdict = (f"leaked: {len(idle_in_tx)} of this process's {len(sessions)} database sessions sit idle in "
                   "transaction, checked out and never given back")
    elif len(busy) * 2 >= len(sessions):
        verdict = (f"too small or slow: {len(busy)} of this process's {len(sessions)} database sessions are "
                   "running queries; the pool cannot serve more threads at once")
    else:
        verdict = f"undecided: {len(sessions)} sessions of this process, neither mostly busy nor idle in transaction"
    evidence = {**finding.evidence, "verdict": verdict, "sessions": [
        {"id": s.id, "state": s.state, "state_age_s": s.state_age_s, "query": s.query[:200]} for s in sessions[:20]]}
    return dataclasses.replace(finding, title=f"{finding.title}: {verdict.split(':')[0]}", evidence=evidence,
                               detail=f"The pool is {verdict}. {finding.detail}")
