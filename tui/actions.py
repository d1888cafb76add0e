"""Actions that change the system (signal a process, end a DB session, restart a container).

Every one is confirmed by the operator naming its target, refused in --read-only mode, and recorded in
the action log that snapshots carry — whether it was done, had no effect, failed, was refused or cancelled.

An action's outcome is what was observed afterwards, never what was asked for: the `run` behind an action
re-reads the target once it has acted (is the process gone, the container running, the backend still there?)
and returns a `Verified` saying whether the intended change was seen.
"""

from __future__ import annotations

import getpass
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable


@dataclass
class Action:
    verb: str  # what will be done, e.g. "SIGTERM", "terminate backend", "restart"
    source: str  # pane that offers it
    target: str  # human-readable target for the confirmation: "pid 4242 (python app.py)"
    subject: dict[str, Any] = field(default_factory=dict)  # machine-readable target, as in findings


@dataclass(frozen=True)
class Verified:
    """What an action's `run` observed after acting: `effect` is True only when the intended change was seen."""

    effect: bool
    message: str  # what was observed: "pid 42 exited", "backend 7 is still idle in transaction: ..."


VERIFY_S = 3.0  # how long an action's target is watched for the intended change before "no effect" is reported


def watch_for_effect(look: Callable[[], Verified | None], verify_s: float = VERIFY_S) -> Verified | None:
    """Look again every 50 ms, for at most `verify_s`, until `look()` reports the intended change (a Verified);
    None when it never did, for the caller to say what it still sees."""
    deadline = time.monotonic() + verify_s
    while True:
        seen = look()
        if seen is not None or time.monotonic() >= deadline:
            return seen
        time.sleep(0.05)


@dataclass
class ActionRecord:
    at: str  # ISO 8601 UTC
    user: str
    verb: str
    source: str
    target: str
    subject: dict[str, Any]
    outcome: str  # "done" (effect verified), "no effect", "failed", "refused", "cancelled"
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
            user=current_user(),
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

    def perform(self, action: Action, run: Callable[[], Verified]) -> ActionRecord:
        """Run a confirmed action, unless read-only. `run` acts, then checks the target and returns what it saw
        (`Verified`); it raises when it could not act at all. Only a verified effect is logged as "done"."""
        if self.read_only:
            return self.record(action, "refused", "tshoot runs with --read-only")
        try:
            verified = run()
        except Exception as exc:  # the failure is the outcome we log and show
            return self.record(action, "failed", f"{type(exc).__name__}: {exc}")
        if not isinstance(verified, Verified):  # a run that did not check: its effect is unknown, never "done"
            return self.record(action, "failed", f"tshoot bug: {action.verb} did not report what it verified")
        return self.record(action, "done" if verified.effect else "no effect", verified.message)


def current_user() -> str:
    """Who runs tshoot, for the action log and advice; the uid where there is no passwd entry (some containers)."""
    try:
        return getpass.getuser()
    except Exception:
        return str(os.getuid())
