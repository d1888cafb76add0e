"""The footer: the keys that work here, on one line of text.

Textual's Footer builds a widget per key each time the keys change (every focus change, every pane switch) and
its data binding keeps every one of them alive: tshoot grew by about 3 MB a minute when panes were visited in
turn. This footer is one Static whose text is redrawn from `Screen.active_bindings`. The keys everyone needs
(`?` help, `q` quit) always stay: when the line is too narrow, the app's other keys go first, then the pane's last.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.app import App
from textual.screen import Screen
from textual.widgets import Static

ESSENTIAL = ("question_mark", "q")  # `?` help and `q` quit: shown whatever else the line has to leave out


class KeysFooter(Static):
    DEFAULT_CSS = """
    KeysFooter {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-description-foreground;
    }
    KeysFooter > .keys-footer--key {
        color: $footer-key-foreground;
        background: $footer-key-background;
        text-style: bold;
    }
    """
    COMPONENT_CLASSES = {"keys-footer--key"}

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._entries: list[Entry] = []
        self._shown: str | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_resize(self) -> None:
        self._show()

    def _bindings_changed(self, screen: Screen) -> None:
        self._entries = entries(screen, self.app)
        self._show()

    def _show(self) -> None:
        line = keys_line(self._entries, self.size.width or 80, self.get_component_rich_style("keys-footer--key"))
        if line.plain != self._shown:  # nothing changed: no repaint, no bytes down the link
            self._shown = line.plain
            self.update(line)


@dataclass(frozen=True)
class Entry:
    key: str
    display: str
    description: str
    enabled: bool
    rank: int  # 0 `?`/`q`, 1 the focused widget's and the pane's keys, 2 the app's others: dropped first

    @property
    def width(self) -> int:
        return len(self.display) + 1 + (len(self.description) + 1 if self.description else 0)


def entries(screen: Screen, app: App) -> list[Entry]:
    """Each shown binding once (by action), in the order the focus chain gives them."""
    seen: dict[str, Entry] = {}
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if binding.show and binding.action not in seen:
            rank = 0 if key in ESSENTIAL else 2 if active.node is app else 1
            seen[binding.action] = Entry(key, app.get_key_display(binding), binding.description, active.enabled, rank)
    return list(seen.values())


def keys_line(shown: list[Entry], width: int, key_style: Style) -> Text:
    """`d Detail … ? Help q Quit / Filter …` in `width` columns: the app's other keys go first when it is too
    narrow, then the pane's last ones; `?` and `q` always stay."""
    kept = sorted(shown, key=lambda entry: (1, 0, 2)[entry.rank])  # stable: the pane's keys, `?` `q`, the rest
    while sum(entry.width for entry in kept) > width and any(entry.rank for entry in kept):
        worst = max(entry.rank for entry in kept)
        drop = max(index for index, entry in enumerate(kept) if entry.rank == worst)
        kept.pop(drop)
    line = Text(no_wrap=True, overflow="crop")
    for entry in kept:
        line.append(entry.display, style=key_style if entry.enabled else Style(dim=True))
        line.append(f" {entry.description} " if entry.description else " ", style=Style(dim=not entry.enabled))
    return line
