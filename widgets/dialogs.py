"""Modal screens shared by every pane: confirmation, help, and a text report."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui.textsafe import literal, visible


class ConfirmScreen(ModalScreen[bool]):
    """Asks before anything changes the system; names the exact target. `y` confirms, `n`/Esc cancels."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes, do it"),
        Binding("n,escape", "answer(False)", "No, cancel"),
    ]

    def __init__(self, verb: str, target: str) -> None:
        super().__init__()
        self.verb = verb
        self.target = target

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box", classes="dialog"):
            yield Static(literal(self.verb, "bold"), id="confirm-verb")
            yield Static(literal(self.target, multiline=True), id="confirm-target")
            yield Static("This changes the system and is recorded in the action log.", classes="dim")
            with Horizontal(classes="buttons"):
                yield Button(literal(f"{self.verb} (y)"), variant="error", id="yes")
                yield Button("No, do nothing (n)", variant="primary", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class TextScreen(ModalScreen[None]):
    """A scrollable read-only text (help, collector problems, reports). Esc or q closes it.

    Never markup: the title and a str body are shown literally, control characters visible; a `Text` body
    (built with styles by the caller, host text made visible) as it is."""

    BINDINGS = [Binding("escape,q", "close", "Close")]

    def __init__(self, title: str, body: str | Text) -> None:
        super().__init__()
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(Text.assemble((visible(self.title_text), "bold"), "  ", ("(Esc to close)", "dim")))
            with VerticalScroll():
                yield Static(self.body if isinstance(self.body, Text) else literal(self.body, multiline=True))

    def action_close(self) -> None:
        self.dismiss(None)
