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
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tui.env.diff import CHANGED, HIDDEN, ONLY_LEFT, ONLY_RIGHT, SAME, DiffRow, EnvDiff, diff_sides
from tui.env.side import Side, SideError
from tui.env.sides import load_side
from tui.env.source import EnvSection
from widgets.keyed_table import KeyedTable
from widgets.pane import SourcePane

COLUMNS = [("status", "STATUS"), ("key", "KEY"), ("left", "LEFT"), ("right", "RIGHT"), ("detail", "DETAIL")]
STATUS_STYLE = {CHANGED: "bold yellow", ONLY_LEFT: "bold red", ONLY_RIGHT: "bold cyan", HIDDEN: "magenta", SAME: "dim"}
REVEALABLE_KINDS = {"process", "container", "self"}  # live sides; a file's secret is never shown


class EnvPane(SourcePane):
    source_name = "env"
    DEFAULT_CSS = """
    EnvPane #envdiff-sides { height: 3; }
    EnvPane #envdiff-sides Input { width: 1fr; }
    EnvPane #envdiff-picks { height: auto; max-height: 6; border: round $primary 40%; }
    EnvPane #envdiff-summary, EnvPane #envdiff-processes { height: auto; padding: 0 1; }
    """
    BINDINGS = [
        Binding("L", "edit_side('left')", "Edit left side"),
        Binding("R", "edit_side('right')", "Edit right side"),
        Binding("c", "configured", "Configured comparison"),
        Binding("n", "next_comparison", "Next configured comparison"),
        Binding("s", "toggle_same", "Show/hide same"),
        Binding("v", "reveal", "Reveal selected secret (live side)"),
        Binding("x", "swap", "Swap sides"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.section: EnvSection | None = None
        self.diff: EnvDiff | None = None
        self.custom: tuple[str, str] | None = None  # specs typed or picked by the operator
        self.sides: tuple[Side, Side] | None = None  # raw values, in memory only, for an on-purpose reveal
        self.configured_index = 0
        self.show_same = False
        self.filter_text = ""
        self._target = "left"

    def compose(self) -> ComposeResult:
        with Horizontal(id="envdiff-sides"):
            yield Input(placeholder="left: FILE | self | pid:N | container:NAME | db:URL | python:PATH", id="envdiff-left")
            yield Input(placeholder="right: same forms — Enter compares", id="envdiff-right")
        yield OptionList(id="envdiff-picks")
        yield Static(id="envdiff-banner", classes="banner")
        yield Static(id="envdiff-summary")
        yield KeyedTable(COLUMNS, id="envdiff-table")
        yield Static(id="envdiff-processes")

    def on_mount(self) -> None:
        self.query_one("#envdiff-banner").display = False
        self.query_one("#envdiff-picks", OptionList).border_title = "quick picks (Enter fills the side being edited)"
        self._update_picks()

    def focus(self, scroll_visible: bool = True) -> "EnvPane":
        self.query_one("#envdiff-table", KeyedTable).focus(scroll_visible)
        return self

    # ----- SourcePane contract -----
    def show_section(self, section: EnvSection) -> None:
        self.section = section
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
                         "type two sides above, or pick them from the list.")

    def show_unavailable(self, reason: str, remedy: str = "") -> None:
        self._banner(f"Env: {reason}" + (f" — {remedy}" if remedy else ""))

    def select_subject(self, subject: dict[str, Any]) -> bool:
        pid = subject.get("pid")
        check = next((c for c in (self.section.process_checks if self.section else []) if c.pid == pid), None)
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
    @on(Input.Submitted, "#envdiff-left, #envdiff-right")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        left = self.query_one("#envdiff-left", Input).value.strip()
        right = self.query_one("#envdiff-right", Input).value.strip()
        if event.input.id == "envdiff-left" and not right:
            self.query_one("#envdiff-right", Input).focus()
        elif left and right:
            self._start_custom(left, right)

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
        self.focus()

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
        mode = "custom" if self.custom else "configured"
        summary.update(Text.assemble(("left ", "dim"), self.diff.left, ("  right ", "dim"), self.diff.right,
                                     ("\n", ""), (f"{mode}: {counts}", "bold" if self.diff.differs else "green")))
        hidden = "" if self.show_same else " (same hidden: s)"
        table.border_title = f"{len(rows)} keys{hidden}" + (f", filter '{self.filter_text}'" if self.filter_text else "")

    def _matches(self, row: DiffRow) -> bool:
        return not self.filter_text or self.filter_text in f"{row.key} {row.status} {row.left} {row.right}".lower()

    def _show_processes(self, section: EnvSection) -> None:
        lines = [f"pid {c.pid} ({c.name}) lacks {', '.join(c.missing[:8])}{'…' if len(c.missing) > 8 else ''} "
                 f"from {c.env_file}" for c in section.process_checks]
        if section.unreadable_processes:
            lines.append(f"{section.unreadable_processes} processes next to an env file could not be read (run as root)")
        self.query_one("#envdiff-processes", Static).update(
            Text("\n".join(lines), style="yellow") if lines else Text("No process lacks a key of its .env.", style="dim"))

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
            picks.add_options([Option(spec, id=spec) for spec in unique])

    def _banner(self, text: str) -> None:
        banner = self.query_one("#envdiff-banner", Static)
        banner.display = bool(text)
        banner.update(Text(text))

    # ----- key actions -----
    def action_edit_side(self, side: str) -> None:
        self._target = side
        self.query_one(f"#envdiff-{side}", Input).focus()

    def action_configured(self) -> None:
        """Back to what the Env source compares on every poll (the configured baseline)."""
        self.custom = None
        if self.section:
            self.show_section(self.section)

    def action_next_comparison(self) -> None:
        if self.section and self.section.diffs:
            self.custom = None
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
        shown = "\n".join(f"{side.label}: {side.domains[row.domain][key]}" for side in live)
        self.notify(shown, title=f"{key} (not logged)", timeout=8)


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
    return Text(value.replace("\n", "⏎"), no_wrap=True, overflow="ellipsis")

