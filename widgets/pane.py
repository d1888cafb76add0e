"""Base class of every tab pane: it only renders the records its source collected.

State flows down as reactive attributes the app sets; requests flow up as messages the app routes:
- `section` (the latest record, live or replayed) → `show_section(section)`;
- `findings` (its own findings; every source's for a pane whose spec receives them) → `show_findings(findings)`;
- `problem` ((reason, remedy) when its source failed; the pane keeps its last data visible) → `show_unavailable`;
- `row_filter` (what the operator typed after `/`) → `set_filter(text)`.
The app also calls `select_subject(subject)` to jump to a row, `selected_subject()` for `g`, and `tick(now)` every
second while the pane is visible. A pane asks for things by posting `JumpTo`, `RequestAction`, `PollNow` or
`OpenGuide`; it reads only `self.source` (its live Source, None in a replay) and the app's public `config`,
`clock` and `is_replay`. No pane imports another pane.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, ClassVar

from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Input

if TYPE_CHECKING:
    from tui.actions import Action, Verified
    from tui.findings import Finding
    from tui.source import Source


class SourcePane(Vertical):
    source_name: ClassVar[str] = ""

    # repaint=False: the pane's widgets repaint what changed; a repaint of the pane itself would send its whole
    # screen area down the SSH link on every poll (docs/performance.md, "Bytes to the terminal")
    section: reactive[Any] = reactive(None, always_update=True, init=False, repaint=False)
    findings: reactive[list["Finding"]] = reactive(list, always_update=True, init=False, repaint=False)
    problem: reactive[tuple[str, str] | None] = reactive(None, always_update=True, init=False, repaint=False)
    row_filter: reactive[str] = reactive("", init=False, repaint=False)
    # Every other source's findings, so a row can say another pane has something on it (a deadlocked pid in
    # the Processes table); drawn with the pane's next section.
    elsewhere: reactive[list["Finding"]] = reactive(list, init=False, repaint=False)
    # When each source last answered (set on a pane whose spec receives every finding): a duration in a finding's
    # title is as old as that poll.
    measured_at: reactive[dict[str, float | None]] = reactive(dict, init=False, repaint=False)

    class JumpTo(Message):
        """Show `pane` with the row `subject` names selected (a finding's evidence, a linked pid, ...)."""

        def __init__(self, pane: str, subject: dict[str, Any]) -> None:
            super().__init__()
            self.pane = pane
            self.subject = subject

    class RequestAction(Message):
        """Confirm `action` (naming its target), run it off the event loop, log and verify the outcome."""

        def __init__(self, action: "Action", run: Callable[[], "Verified"]) -> None:
            super().__init__()
            self.action = action
            self.run = run

    class PollNow(Message):
        """Poll `name` now instead of waiting for its timer (a new selection, a finished action)."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    class OpenGuide(Message):
        """Open the guide that explains `finding` in the pane that holds the guides."""

        def __init__(self, finding: "Finding") -> None:
            super().__init__()
            self.finding = finding

    def __init__(self, source: "Source | None" = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source

    def focus(self, scroll_visible: bool = True) -> "SourcePane":
        """Focus the pane's first visible focusable widget, so its keys work right after switching to it."""
        candidates = [w for w in self.query("*") if w.focusable and w.display and w.visible]
        # Prefer a table or list over a text input, so digits and letters stay pane/app keys.
        candidates.sort(key=lambda w: isinstance(w, Input))
        if candidates:
            candidates[0].focus(scroll_visible)
        return self

    def poll_now(self) -> None:
        self.post_message(self.PollNow(self.source_name))

    # ----- watchers: the reactive state drives the hooks below -----
    def watch_section(self, section: Any) -> None:
        if section is not None:
            self.show_section(section)

    def watch_findings(self, findings: list["Finding"]) -> None:
        self.show_findings(findings)

    def watch_problem(self, problem: tuple[str, str] | None) -> None:
        if problem is not None:
            self.show_unavailable(*problem)

    def watch_row_filter(self, text: str) -> None:
        self.set_filter(text)

    # ----- hooks a pane overrides -----
    def show_section(self, section: Any) -> None:
        """Render the latest section record (`self.section`). Update tables by key: never clear and refill."""

    def show_findings(self, findings: list["Finding"]) -> None:
        """New findings; a pane that draws them with its rows redraws here or on its next section."""

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

    def open_guide_for(self, finding: "Finding") -> bool:
        """Only the pane that holds the guides opens one (its spec receives every finding)."""
        return False

    def notes_json(self) -> dict[str, str] | None:
        """Incident notes the operator wrote in this pane, for snapshots (None: this pane keeps none)."""
        return None

    def load_notes(self, data: Any) -> None:
        """Notes from a replayed snapshot."""
