"""The Env pane: two sides side by side, live.

By default it shows what the Env source compared (the configured baseline against the configured env files
or tshoot's own environment) and the processes that lack keys of their `.env`. Typing two side specs (or
picking them from the list) compares anything else, re-compared on every refresh. Secrets are masked; one
value of a live side (a process, a container, tshoot itself) can be revealed on purpose, never a file's.
"""

from __future__ import annotations

import glob
from typing import Any

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tui import registry
from tui.env.diff import CHANGED, HIDDEN, ONLY_LEFT, ONLY_RIGHT, SAME, DiffRow, EnvDiff, diff_sides
from tui.env.records import EnvSection
from tui.env.side import Side, SideError
from tui.env.sides import load_side
from tui.textsafe import literal, visible
from tui.wording import count
from widgets.keyed_table import KeyedTable
from widgets.pane import SourcePane

COLUMNS = [("status", "STATUS"), ("key", "KEY"), ("left", "LEFT"), ("right", "RIGHT"), ("detail", "DETAIL")]
STATUS_STYLE = {CHANGED: "bold yellow", ONLY_LEFT: "bold red", ONLY_RIGHT: "bold cyan", HIDDEN: "magenta", SAME: "dim"}
REVEALABLE_KINDS = {"process", "container", "self"}  # live sides; a file's secret is never shown


class EnvPane(SourcePane):
    source_name = registry.ENV
    DEFAULT_CSS = """
    EnvPane #envdiff-sides { height: 3; }
    EnvPane #envdiff-sides Input { width: 1fr; }
    EnvPane #envdiff-picks { height: auto; max-height: 6; border: round $primary 40%; }
    EnvPane #envdiff-summary, EnvPane #envdiff-processes { height: auto; padding: 0 1; }
    """
    BINDINGS = [
        Binding("left_square_bracket", "edit_side('left')", "Left", tooltip="Type the left side"),
        Binding("right_square_bracket", "edit_side('right')", "Right", tooltip="Type the right side"),
        Binding("c", "configured", "Configured", tooltip="Configured comparison"),
        Binding("greater_than_sign", "next_comparison", "Next", tooltip="Next configured comparison"),
        Binding("equals_sign", "toggle_same", "Same", tooltip="Show/hide same"),
        Binding("v", "reveal", "Reveal", tooltip="Reveal selected secret (live side)"),
        Binding("w", "swap", "Swap", tooltip="Swap sides"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.diff: EnvDiff | None = None
        self.custom: tuple[str, str] | None = None  # specs typed or picked by the operator
        self.sides: tuple[Side, Side] | None = None  # raw values, in memory only, for an on-purpose reveal
        self.configured_index = 0
        self.show_same = False
        self.filter_text = ""
        self._target = "left"

    def compose(self) -> ComposeResult:
        with Horizontal(id="envdiff-sides"):
            # the table has the keys until [ or ]: typed letters would act as keys (p pauses), so the box says so
            yield SideInput(placeholder="press [ to type the left side: FILE | self | pid:N | container:NAME | "
                                        "db:URL | python:PATH",
                            id="envdiff-left", select_on_focus=False)  # [ and ] select it themselves
            yield SideInput(placeholder="press ] to type the right side (same forms), Enter compares", id="envdiff-right",
                            select_on_focus=False)
        yield OptionList(id="envdiff-picks")
        yield Static(id="envdiff-banner", classes="banner")
        yield Static(id="envdiff-summary")
        yield DiffTable(COLUMNS, id="envdiff-table")
        yield Static(id="envdiff-processes")

    def on_mount(self) -> None:
        self.query_one("#envdiff-banner").display = False
        self.query_one("#envdiff-picks", OptionList).border_title = "quick picks (Enter fills the side being edited)"
        self._update_picks()

    def focus(self, scroll_visible: bool = True) -> "EnvPane":
        self._focus_now(self.query_one("#envdiff-table", KeyedTable), scroll_visible)
        return self

    def _focus_now(self, widget: Widget, scroll_visible: bool = True) -> None:
        """Move focus now: `widget.focus()` moves it only after the keys already queued, so keys typed right
        after L, R or Enter went to the widget that had focus before (typed into the wrong input, or lost)."""
        self.screen.set_focus(widget, scroll_visible=scroll_visible)

    # ----- SourcePane contract -----
    def show_section(self, section: EnvSection) -> None:
        self._update_picks()
        self._show_processes(section)
        if self.custom:
            if not self.app.is_replay:
                self._compare(*self.custom)  # live refresh of the operator's comparison
            return
        if section.diffs:
            self.configured_index %= len(section.diffs)
            self._show_diff(section.diffs[self.configured_index], None)
        else:
            self._show_diff(None, None)
            self._banner("\n".join(section.problems) or "No baseline configured (env_baseline in the config): "
                         "press [ and ] to type two sides, or pick them from the list.")

    def show_unavailable(self, reason: str, remedy: str = "") -> None:
        self._banner(f"Env: {reason}" + (f" — {remedy}" if remedy else ""))

    def select_subject(self, subject: dict[str, Any]) -> bool:
        pid = subject.get("pid")
        check = next((c for c in (self.section.process_checks if self.section else [])
                      if c.pid == pid and subject.get("env_file", c.env_file) == c.env_file), None)
        if check:
            self._start_custom(f"pid:{check.pid}", check.env_file)
            return True
        if "baseline" in subject:
            self.action_configured()
            return True
        return False

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip().lower()
        self._render_rows()

    # ----- comparing -----
    def submit(self) -> None:
        """Enter in a side: compare (when both sides are typed) and give the keys back to the table, so [, ], =,
        v act. Called by the input itself as the key is handled, before the keys typed after Enter."""
        left, right = self._inputs()
        if left and right:
            self._start_custom(left, right)
            return
        missing = "left" if not left else "right"
        self._banner(f"Both sides are needed: press {'[' if missing == 'left' else ']'} to type the {missing} side.")
        self.focus()

    async def replay_key(self, event: events.Key) -> None:
        """A key queued for a widget of this pane that has lost focus since (typed right after L, R or Enter):
        act on it where the focus is now, at once, so the keys after it keep their order."""
        focused = self.screen.focused
        if isinstance(focused, SideInput) and event.key == "enter":
            self.submit()
        elif isinstance(focused, SideInput) and event.is_printable and event.character:
            focused.type_text(event.character)
        elif not isinstance(focused, SideInput) and event.key in PANE_KEYS:
            await self.run_action(PANE_KEYS[event.key])
        elif focused is not None:  # anything else (cursor keys, app keys): to the focused widget, as a new key
            focused.post_message(events.Key(event.key, event.character))

    @on(Input.Changed, "#envdiff-left, #envdiff-right")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()  # not the app's filter box

    @on(OptionList.OptionSelected, "#envdiff-picks")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        box = self.query_one(f"#envdiff-{self._target}", Input)
        box.value = str(event.option.id)
        other = self.query_one(f"#envdiff-{'right' if self._target == 'left' else 'left'}", Input)
        if other.value.strip():
            self._start_custom(*(self._inputs()))
        else:
            self._target = "right" if self._target == "left" else "left"

    def _inputs(self) -> tuple[str, str]:
        return (self.query_one("#envdiff-left", Input).value.strip(), self.query_one("#envdiff-right", Input).value.strip())

    def _start_custom(self, left: str, right: str) -> None:
        self.custom = (left, right)
        for name, value in (("left", left), ("right", right)):
            box = self.query_one(f"#envdiff-{name}", Input)
            if box.value != value:
                with box.prevent(Input.Changed):
                    box.value = value
        self._banner(f"comparing {left} with {right}…")
        self._compare(left, right)
        self._tell_source(self.custom)
        self.focus()

    def _tell_source(self, sides: tuple[str, str] | None) -> None:
        """Let the live Env source diff the operator's comparison on its polls too, so snapshots record it."""
        source = self.source
        if source is not None:
            source.compare_also(sides)
            self.poll_now()

    @work(thread=True, exclusive=True, group="env-compare", exit_on_error=False)
    def _compare(self, left_spec: str, right_spec: str) -> None:
        """Load both sides off the event loop; only the masked diff (and the in-memory sides) cross back."""
        config = self.app.config
        try:
            left, right = load_side(left_spec, config), load_side(right_spec, config)
            diff = diff_sides(left, right)
        except SideError as exc:
            self.app.call_from_thread(self._banner, str(exc))
            return
        self.app.call_from_thread(self._show_custom, (left_spec, right_spec), diff, (left, right))

    def _show_custom(self, specs: tuple[str, str], diff: EnvDiff, sides: tuple[Side, Side]) -> None:
        if self.custom != specs:
            return  # the operator moved on while this comparison was loading
        self._show_diff(diff, sides)

    # ----- rendering -----
    def _show_diff(self, diff: EnvDiff | None, sides: tuple[Side, Side] | None) -> None:
        self.diff, self.sides = diff, sides
        problems = [f"left: {p}" for p in diff.left_problems] + [f"right: {p}" for p in diff.right_problems] if diff else []
        self._banner("\n".join(problems))
        self._render_rows()

    def _render_rows(self) -> None:
        table = self.query_one("#envdiff-table", KeyedTable)
        summary = self.query_one("#envdiff-summary", Static)
        if not self.diff:
            table.sync([])
            summary.update("")
            return
        rows = [row for row in self.diff.rows if (self.show_same or row.status != SAME) and self._matches(row)]
        table.sync([(row.key, row_cells(row)) for row in rows])
        counts = ", ".join(f"{n} {status}" for status, n in self.diff.counts().items() if n) or "nothing to compare"
        mode = "custom" if self.custom or self.diff.chosen_by == "operator" else "configured"
        summary.update(Text.assemble(("left ", "dim"), visible(self.diff.left), ("  right ", "dim"), visible(self.diff.right),
                                     ("\n", ""), (f"{mode}: {counts}", "bold" if self.diff.differs else "green")))
        hidden = "" if self.show_same else " (same hidden: s)"
        shown = f", filter '{self.filter_text}'" if self.filter_text else ""
        table.border_title = literal(f"{count(len(rows), 'key')}{hidden}{shown}")

    def _matches(self, row: DiffRow) -> bool:
        return not self.filter_text or self.filter_text in f"{row.key} {row.status} {row.left} {row.right}".lower()

    def _show_processes(self, section: EnvSection) -> None:
        lines = [f"pid {c.pid} ({c.name}) lacks {', '.join(c.missing[:8])}{'…' if len(c.missing) > 8 else ''} "
                 f"from {c.env_file}" for c in section.process_checks]
        if section.unreadable_processes:
            lines.append(f"{count(section.unreadable_processes, 'process', 'processes')} next to an env file could not "
                         "be read (run as root)")
        self.query_one("#envdiff-processes", Static).update(
            literal("\n".join(lines), style="yellow", multiline=True) if lines else Text("No process lacks a key of its .env.", style="dim"))

    def _update_picks(self) -> None:
        picks = self.query_one("#envdiff-picks", OptionList)
        specs = ["self"]
        if self.section:
            specs += [s for s in [self.section.baseline] if s]
            specs += [f"pid:{c.pid}" for c in self.section.process_checks] + [c.env_file for c in self.section.process_checks]
        config = self.app.config
        specs += [s for s in [config.env_baseline, *config.env_files] if s]
        specs += sorted(glob.glob("*.json") + glob.glob(".env*") + glob.glob("*.env"))[:20]
        unique = list(dict.fromkeys(specs))
        if [str(picks.get_option_at_index(i).id) for i in range(picks.option_count)] != unique:
            picks.clear_options()
            picks.add_options([Option(literal(spec), id=spec) for spec in unique])

    def _banner(self, text: str) -> None:
        banner = self.query_one("#envdiff-banner", Static)
        banner.display = bool(text)
        banner.update(literal(text, multiline=True))

    # ----- key actions -----
    def action_edit_side(self, side: str) -> None:
        """Focus the side's input with its text selected, so what is typed next replaces it."""
        self._target = side
        box = self.query_one(f"#envdiff-{side}", SideInput)
        self._focus_now(box)
        box.select_all()

    def action_configured(self) -> None:
        """Back to what the Env source compares on every poll (the configured baseline)."""
        self.custom = None
        self._tell_source(None)
        if self.section:
            self.show_section(self.section)

    def action_next_comparison(self) -> None:
        if self.section and self.section.diffs:
            self.custom = None
            self._tell_source(None)
            self.configured_index = (self.configured_index + 1) % len(self.section.diffs)
            self.show_section(self.section)

    def action_toggle_same(self) -> None:
        self.show_same = not self.show_same
        self._render_rows()

    def action_swap(self) -> None:
        if self.custom:
            self._start_custom(self.custom[1], self.custom[0])

    def action_reveal(self) -> None:
        """Show one secret of a live side, on screen only, for a few seconds: never a file's or a snapshot's."""
        key = self.query_one("#envdiff-table", KeyedTable).selected_key
        row = next((r for r in self.diff.rows if r.key == key), None) if self.diff and key else None
        if row is None or not row.secret:
            self.notify("Select a masked secret to reveal it.", severity="warning")
            return
        live = [side for side in self.sides or () if side.kind in REVEALABLE_KINDS and key in side.domains.get(row.domain, {})]
        if not live:
            self.notify("Only a secret of a live side (process, container, self) can be revealed; never a file's.",
                        severity="warning")
            return
        shown = "\n".join(visible(f"{side.label}: {side.domains[row.domain][key]}") for side in live)
        self.notify(shown, title=visible(f"{key} (not logged)"), timeout=8, markup=False)


PANE_KEYS = {binding.key: binding.action for binding in EnvPane.BINDINGS}
FOCUS_KEYS = ("left_square_bracket", "right_square_bracket")  # pane keys that move focus into a side


class SideInput(Input):
    """A side's input. Enter compares as the key is handled; keys that reach it after focus moved on go on."""

    async def on_key(self, event: events.Key) -> None:
        pane, focused = _pane_and_focus(self)
        if focused and event.key != "enter":
            return  # Input's own handler types it
        event.stop()
        event.prevent_default()  # not typed here
        if focused:
            pane.submit()
        else:
            await pane.replay_key(event)

    def type_text(self, text: str) -> None:
        """Type `text` as a key press would: replacing the selected text, if any."""
        if self.selection.is_empty:
            self.insert_text_at_cursor(text)
        else:
            self.replace(text, *self.selection)


class DiffTable(KeyedTable):
    """The diff table. [ and ] act as the key is handled here, not when it reaches the app's bindings: keys
    typed right after them are queued here already, and are then typed into the side, in order."""

    async def on_key(self, event: events.Key) -> None:
        pane, focused = _pane_and_focus(self)
        if focused and event.key not in FOCUS_KEYS:
            return  # the table's and the app's bindings handle it
        if not focused and not isinstance(self.screen.focused, SideInput):
            return
        event.stop()
        event.prevent_default()
        if focused:
            await pane.run_action(PANE_KEYS[event.key])
        else:
            await pane.replay_key(event)


def _pane_and_focus(widget: Widget) -> tuple[EnvPane, bool]:
    """The pane `widget` is in, and whether `widget` has focus right now (`has_focus` changes only when the
    Focus event is handled, after the keys queued before it)."""
    pane = next(ancestor for ancestor in widget.ancestors if isinstance(ancestor, EnvPane))
    return pane, widget.screen.focused is widget


def row_cells(row: DiffRow) -> tuple:
    return (
        Text(row.status, style=STATUS_STYLE[row.status]),
        row.key,
        _value(row.left),
        _value(row.right),
        row.detail,
    )


def _value(value: str | None) -> Text:
    if value is None:
        return Text("(absent)", style="dim italic")
    return Text(visible(value.replace("\n", "⏎")), no_wrap=True, overflow="ellipsis")

