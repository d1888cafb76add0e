"""Actions that change the system (signal a process, end a DB session, restart a container).

Every one is confirmed by the operator naming its target, refused in --read-only mode, and recorded in
the action log that snapshots carry — whether it was done, failed, refused or cancelled.
"""

from __future__ import annotations

import getpass
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable


@dataclass
class Action:
    verb: str  # what will be done, e.g. "SIGTERM", "terminate backend", "restart"
    source: str  # pane that offers it
    target: str  # human-readable target for the confirmation: "pid 4242 (python app.py)"
    subject: dict[str, Any] = field(default_factory=dict)  # machine-readable target, as in findings


@dataclass
class ActionRecord:
    at: str  # ISO 8601 UTC
    user: str
    verb: str
    source: str
    target: str
    subject: dict[str, Any]
    outcome: str  # "done", "failed", "refused", "cancelled"
    message: str = ""


class ActionLog:
    """Thread-safe, append-only log of every attempted action."""

    def __init__(self, read_only: bool) -> None:
        self.read_only = read_only
        self._entries: list[ActionRecord] = []
        self._lock = threading.Lock()

    @property
    def entries(self) -> list[ActionRecord]:
        with self._lock:
            return list(self._entries)

    def record(self, action: Action, outcome: str, message: str = "") -> ActionRecord:
        entry = ActionRecord(
            at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            user=_user(),
            verb=action.verb,
            source=action.source,
            target=action.target,
            subject=dict(action.subject),
            outcome=outcome,
            message=message,
        )
        with self._lock:
            self._entries.append(entry)
        return entry

    def perform(self, action: Action, run: Callable[[], str]) -> ActionRecord:
        """Run a confirmed action, unless read-only; `run` returns a message or raises on failure."""
        if self.read_only:
            return self.record(action, "refused", "tshoot runs with --read-only")
        try:
            message = run()
        except Exception as exc:  # the failure is the outcome we log and show
            return self.record(action, "failed", f"{type(exc).__name__}: {exc}")
        return self.record(action, "done", message or "")


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "?"
