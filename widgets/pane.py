"""Base class of every tab pane: it only renders the records its source collected.

The app calls, on the event loop:
- `show_section(section)` with the latest record of the pane's source (live or replayed);
- `show_unavailable(reason, remedy)` when the source failed (the pane keeps its last data visible);
- `select_subject(subject)` to jump to a row named by a finding's or another pane's subject;
- `set_filter(text)` when the operator types a filter with `/`;
- `selected_subject()` when the operator presses `g` (guide for the finding about the selected row);
- `tick(now)` every second while the pane is visible, to age what it shows (no poll needed).

A pane reaches the rest of the app only through these TshootApp methods:
`app.request_action(action, run)` (confirmation, --read-only, action log), `app.jump_to(pane, subject)`,
`app.source(name)` (the live Source, None in a replay), `app.poll_now(name)`, `app.config`,
`app.findings_for(name)`, `app.is_replay`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.containers import Vertical
from textual.widgets import Input


class SourcePane(Vertical):
    source_name: ClassVar[str] = ""

    def focus(self, scroll_visible: bool = True) -> "SourcePane":
        """Focus the pane's first visible focusable widget, so its keys work right after switching to it."""
        candidates = [w for w in self.query("*") if w.focusable and w.display and w.visible]
        # Prefer a table or list over a text input, so digits and letters stay pane/app keys.
        candidates.sort(key=lambda w: isinstance(w, Input))
        if candidates:
            candidates[0].focus(scroll_visible)
        return self

    def show_section(self, section: Any) -> None:
        """Render the latest section record. Update tables by key: never clear and refill."""

    def show_unavailable(self, reason: str, remedy: str = "") -> None:
        """Say why the source cannot be read and what to do; keep the last data on screen."""

    def select_subject(self, subject: dict[str, Any]) -> bool:
        """Move the cursor to the row `subject` names; False when there is no such row."""
        return False

    def selected_subject(self) -> dict[str, Any] | None:
        """The subject of the selected row (as findings name it), so `g` can open the guide for it."""
        return None

    def set_filter(self, text: str) -> None:
        """Show only rows matching `text` (case-insensitive substring); empty shows all."""

    def tick(self, now: float) -> None:
        """A second passed: say how old measured numbers are once they are older than two intervals."""
