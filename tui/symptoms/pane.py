"""The Symptoms pane: guides with a live badge, the Overview of every pane's findings, guide runs and incident notes.

It is not fed by a collector: the app calls `show_findings(findings)` whenever any pane's findings change.
Running a guide happens in a thread worker (probes block); each result crosses back as it completes.
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from tui import registry
from tui.findings import SEVERITY_RANK, Finding, as_of, with_row_keys
from tui.snapshot import Collection
from tui.symptoms.checks import CheckContext
from tui.symptoms.guides import Guide, GuideBook, load_guides
from tui.symptoms.notes import PROMPTS, WORKFLOW, IncidentNotes
from tui.symptoms.render import STATUS_LABEL, evidence_lines, result_lines
from tui.symptoms.runner import CheckResult, run_guide
from tui.textsafe import literal, visible
from tui.wording import human_duration
from widgets.column_fit import ColumnFit, columns_spec, fit_columns
from widgets.keyed_table import KeyedTable
from widgets.pane import SourcePane

OVERVIEW = "overview"
SEVERITY_LABEL = {"critical": "CRIT", "warning": "WARN", "info": "info"}
SHORT_COUNTS_BELOW = 100  # pane width under which the guide list's counts are written "7C 10W 2i"
# "What" says what is wrong: it takes the room, and in a narrow pane the Pane column goes (the detail names it)
ROW_COLUMNS = [ColumnFit("status", "Status", cap=6), ColumnFit("where", "Pane", cap=10, drop=1),
               ColumnFit("title", "What", cap=40, least=30, flexible=True)]


class SymptomsPane(SourcePane):
    source_name = registry.SYMPTOMS
    BINDINGS = [
        Binding("enter", "open_row", "Open", tooltip="Open evidence / run guide"),
        Binding("g", "open_guide", "Guide", tooltip="Guide of this finding"),
        Binding("r", "run_guide", "Run guide", tooltip="Refresh here: run / verify the guide"),
        Binding("A", "overview", "All", tooltip="Overview: all findings"),
        Binding("n", "edit_notes", "Notes", tooltip="Incident notes"),
        Binding("i", "paste_token", "Token", tooltip="Input a token (auth guide)"),
    ]
    DEFAULT_CSS = """
    SymptomsPane #guides { width: 38; max-width: 40%; }
    SymptomsPane #right { width: 1fr; }
    SymptomsPane #heading { height: auto; max-height: 6; padding: 0 1; }
    SymptomsPane #rows { min-height: 6; }
    SymptomsPane #detail-box { height: 1fr; border-top: solid $primary; }
    SymptomsPane #detail { padding: 0 1; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.book: GuideBook = GuideBook({}, [])
        self._rows: dict[str, Finding] = {}  # the Overview's row key -> its finding
        self.notes = IncidentNotes()
        self.view = OVERVIEW  # OVERVIEW or the id of the guide on screen
        self.results: dict[str, list[CheckResult]] = {}  # last run of each guide
        self.ran_at: dict[str, float] = {}  # when each guide's last run started (the app's clock)
        self.running: str | None = None
        self._token: str | None = None  # pasted for the auth guide; memory only, never written
        self._filter = ""
        self._row_cells: list[tuple] = []  # the rows on screen, for fitting the columns to the width
        self._polls_shown: dict[str, float | None] = {}  # when the findings on screen were measured, by pane

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield KeyedTable([("guide", "Guide"), ("now", "Now")], id="guides")
            with Vertical(id="right"):
                yield Static(id="heading")
                yield KeyedTable(columns_spec(ROW_COLUMNS), id="rows")
                with VerticalScroll(id="detail-box"):
                    yield Static(id="detail", markup=False)

    def on_mount(self) -> None:
        self.book = load_guides(self.app.config.guides_dir)
        if self.book.problems:
            self.app.notify("Some operator guides were not loaded:\n" + "\n".join(map(visible, self.book.problems)),
                            severity="warning", timeout=10, markup=False)
        self._refresh_guides()
        self._show_view()

    # ----- what the app calls -----
    def show_findings(self, findings: list[Finding]) -> None:
        """Every pane's findings, most severe first: refresh the badges and the Overview."""
        self._rows = dict(with_row_keys(findings))
        self._refresh_guides()
        if self.view == OVERVIEW:
            self._show_view()

    def notes_json(self) -> dict[str, str]:
        return self.notes.to_json()

    def load_notes(self, data: Any) -> None:
        """Notes from a replayed snapshot."""
        self.notes = IncidentNotes.from_json(data)

    def open_guide(self, guide_id: str, run: bool = True) -> bool:
        """Show a guide (and run it unless it has results already or this is a replay); False if unknown."""
        if guide_id not in self.book.guides:
            return False
        self.view = guide_id
        self.query_one("#guides", KeyedTable).move_to_key(guide_id)
        self._show_view()
        if run and guide_id not in self.results:
            self.action_run_guide()
        return True

    def open_guide_for(self, finding: Finding) -> bool:
        guide = self.book.for_finding(finding)
        if guide is None:
            self.app.notify(visible(f"No guide covers '{finding.id}' yet"), severity="warning", markup=False)
            return False
        return self.open_guide(guide.id)

    def select_subject(self, subject: dict[str, Any]) -> bool:
        """`{"guide": id}` opens a guide; any other subject selects the Overview finding about it."""
        if "guide" in subject:
            return self.open_guide(str(subject["guide"]))
        match = next((key for key, f in self._rows.items() if f.subject == subject), None)
        if match is None:
            return False
        self.action_overview()
        return self.query_one("#rows", KeyedTable).move_to_key(match)

    def set_filter(self, text: str) -> None:
        self._filter = text.lower()
        self._show_view()

    # ----- keys -----
    def action_overview(self) -> None:
        self.view = OVERVIEW
        self.query_one("#guides", KeyedTable).move_to_key(OVERVIEW)
        self._show_view()

    def action_open_row(self) -> None:
        """Overview: jump to the finding's evidence. Guide: jump to the pane and row of a failing check."""
        if self.query_one("#guides", KeyedTable).has_focus:
            key = self.query_one("#guides", KeyedTable).selected_key
            if key == OVERVIEW:
                self.action_overview()
            elif key:
                self.open_guide(key)
            return
        key = self.query_one("#rows", KeyedTable).selected_key
        if key is None:
            return
        if self.view == OVERVIEW:
            finding = self._finding(key)
            if finding is not None:
                self.post_message(self.JumpTo(finding.source, finding.subject))
            return
        result = self._result(key)
        if result is not None and result.jump is not None:
            self.post_message(self.JumpTo(result.jump.pane, result.jump.subject))
        elif result is not None:
            self.app.notify("This check has no row to show in another pane", severity="information")

    def action_open_guide(self) -> None:
        if self.view != OVERVIEW:
            return
        finding = self._finding(self.query_one("#rows", KeyedTable).selected_key)
        if finding is not None:
            self.open_guide_for(finding)

    def action_run_guide(self) -> None:
        """Run the guide on screen; running it again is the verify step."""
        if self.view == OVERVIEW:
            self.app.notify("Pick a guide first (left list, Enter)", severity="information")
            return
        if self.app.is_replay:
            self.app.notify("A replay cannot run live checks: the Overview shows the snapshot's findings",
                            severity="warning")
            return
        if self.running:
            self.app.notify(visible(f"Guide {self.running} is still running"), severity="information", markup=False)
            return
        guide = self.book.guides[self.view]
        self.running = guide.id
        self.results[guide.id] = []
        self.ran_at[guide.id] = self.app.clock()
        self._show_view()
        self._run(guide, self._check_context())

    def action_edit_notes(self) -> None:
        def saved(lines: dict[str, str] | None) -> None:
            if lines is not None:
                for step, text in lines.items():
                    self.notes.set(step, text)
                self.app.notify("Incident notes kept: snapshots and reports carry them")

        self.app.push_screen(NotesScreen(self.notes), saved)

    def action_paste_token(self) -> None:
        def pasted(token: str | None) -> None:
            if token is not None:
                self._token = token.strip() or None
                self.app.notify("Token kept in memory for the auth guide" if self._token else "Token forgotten")

        self.app.push_screen(TokenScreen(), pasted)

    # ----- running -----
    def _check_context(self) -> CheckContext:
        """Checks read what the panes already collected (no second collection), plus their own live probes."""
        app = self.app
        errors = {name: (s.error, s.remedy) for name, s in getattr(app, "status", {}).items() if s.error}
        collection = Collection(sections=dict(getattr(app, "sections", {})), errors=errors,
                                findings=list(self.findings))
        return CheckContext(app.config, self._token, lambda: collection)

    @work(thread=True, exclusive=True, group="symptoms-guide", exit_on_error=False)
    def _run(self, guide: Guide, context: CheckContext) -> None:
        try:
            run_guide(guide, context, on_result=lambda result: self.app.call_from_thread(self._add, guide.id, result))
        finally:
            self.app.call_from_thread(self._finished, guide.id)

    def _add(self, guide_id: str, result: CheckResult) -> None:
        self.results.setdefault(guide_id, []).append(result)
        if self.view == guide_id:
            self._show_view()

    def _finished(self, guide_id: str) -> None:
        self.running = None
        results = self.results.get(guide_id, [])
        failing = sum(r.status == "fail" for r in results)
        warning = sum(r.status == "warn" for r in results)
        self._refresh_guides()
        if self.view == guide_id:
            self._show_view()
        self.app.notify(visible(f"{guide_id}: {failing} failing, {warning} warning, "
                                f"{len(results) - failing - warning} passed or skipped"), markup=False)

    # ----- rendering -----
    def on_resize(self) -> None:
        self._refresh_guides()  # the counts are written short or long by the width
        fit_columns(self.query_one("#rows", KeyedTable), ROW_COLUMNS, self._row_cells)

    def _sync_rows(self, table: KeyedTable, rows: list[tuple[str, tuple]]) -> None:
        self._row_cells = [cells for _, cells in rows]
        table.sync(rows)
        fit_columns(table, ROW_COLUMNS, self._row_cells)

    def _refresh_guides(self) -> None:
        short = 0 < self.size.width < SHORT_COUNTS_BELOW  # "7C 10W 2i": the guide list is narrow at 80 columns
        rows = [(OVERVIEW, ("Overview (all)", _count(self.findings, short)))]
        for guide in self.book.guides.values():
            found = self.book.badge(guide, self.findings)
            last = self.results.get(guide.id)
            ran = f" ran:{_worst(last)}" if last and self.running != guide.id else (
                " running…" if self.running == guide.id else "")
            rows.append((guide.id, (guide.id, _count(found, short) + ran)))
        self.query_one("#guides", KeyedTable).sync(rows)

    def _show_view(self) -> None:
        table = self.query_one("#rows", KeyedTable)
        heading = self.query_one("#heading", Static)
        if self.view == OVERVIEW:
            self._polls_shown = self._polled_at()
            shown = [(key, f) for key, f in self._rows.items() if not self._filter or self._filter in _text_of(f)]
            _update(heading, f"[b]Overview[/b]: {len(self.findings)} finding(s) from every pane, most severe first. "
                             "Enter: evidence · g: its guide · n: incident notes")
            at_top = table.cursor_row <= 0  # the operator has not moved down the list
            self._sync_rows(table, [(key, (SEVERITY_LABEL[f.severity], f.source, self._title(f))) for key, f in shown])
            selected = self._rows.get(table.selected_key or "")
            worse = shown and selected and SEVERITY_RANK[shown[0][1].severity] > SEVERITY_RANK[selected.severity]
            if shown and (at_top or worse):  # the most severe row, in view: findings arrive one pane at a time
                table.move_cursor(row=0, animate=False, scroll=False)
                table.scroll_to(y=0, animate=False)
            if not shown:
                self._detail(["Nothing found above normal." if not self.findings else "No finding matches the filter."])
        else:
            guide = self.book.guides[self.view]
            results = self.results.get(guide.id, [])
            state = "running…" if self.running == guide.id else ("r: run" if not results else
                                                                 f"{self._ran(guide.id)} — r: verify (re-run)")
            _update(heading, Text.assemble((visible(guide.title), "bold"), visible(f"  ({guide.id}, {state})") + "\n",
                                           visible(" ".join(guide.meaning.split()))))  # guide text is data, never markup
            self._sync_rows(table, [(r.id, (STATUS_LABEL[r.status], r.jump.pane if r.jump else "",
                                            f"{r.title}: {r.summary}")) for r in results])
            if not results:
                self._detail([f"{len(guide.checks)} checks: " + "; ".join(c.title for c in guide.checks),
                              "", f"Verify: {guide.verify}"])
        self._show_detail(table.selected_key)

    def _ran(self, guide_id: str) -> str:
        """When the results on screen were measured: a guide's checks are not re-run on their own."""
        at = self.ran_at.get(guide_id)
        if at is None:
            return "ran earlier"
        return f"ran at {time.strftime('%H:%M:%S', time.localtime(at))}, {human_duration(self.app.clock() - at)} ago"

    def tick(self, now: float) -> None:
        if self.view != OVERVIEW and self.running != self.view and self.results.get(self.view):
            self._show_view()  # the heading's "ran … ago" moves on
        polls = self._polled_at()
        if self.view == OVERVIEW and polls != self._polls_shown:
            self._show_view()  # a poll re-measured a duration whose title did not change: its "as of" moves on

    def _polled_at(self) -> dict[str, float | None]:
        """When each pane's findings were measured: its last poll that answered (none in a replay)."""
        return dict(self.measured_at)

    def _title(self, finding: Finding) -> str:
        """The finding's title; a duration in it says when it was measured."""
        return as_of(finding.title, self._polls_shown.get(finding.source))

    def on_keyed_table_row_highlighted(self, event: KeyedTable.RowHighlighted) -> None:
        if event.table.id == "rows":
            self._show_detail(event.key)

    def on_keyed_table_row_selected(self, event: KeyedTable.RowSelected) -> None:
        event.stop()
        self.action_open_row()

    def _show_detail(self, key: str | None) -> None:
        if key is None:
            return
        if self.view == OVERVIEW:
            finding = self._finding(key)
            if finding is not None:
                guide = self.book.for_finding(finding)
                self._detail([f"{self._title(finding)}  [{finding.source}]", "", finding.detail, "",
                              *evidence_lines(finding.evidence),
                              "", f"guide: {guide.id} (g)" if guide else "no guide covers it yet"])
            return
        result = self._result(key)
        if result is not None:
            lines = result_lines(result)
            if result.status not in ("warn", "fail") and result.evidence:
                lines += ["       evidence:", *(f"         {line}" for line in evidence_lines(result.evidence))]
            if result.jump:
                lines.append("       Enter: open it there")
            self._detail(lines)

    def _detail(self, lines: list[str]) -> None:
        _update(self.query_one("#detail", Static), literal("\n".join(lines), multiline=True))

    def _finding(self, key: str | None) -> Finding | None:
        return self._rows.get(key or "")

    def _result(self, key: str | None) -> CheckResult | None:
        return next((r for r in self.results.get(self.view, []) if r.id == key), None)


def _update(static: Static, content: str | Text) -> None:
    """Findings arrive with every poll of every pane, mostly unchanged: an update, even to the same text,
    lays the whole screen out again, which redraws every table's scrollbar on the terminal."""
    if static.content != content:
        static.update(content)


def _count(findings: list[Finding], short: bool = False) -> str:
    """How many of each severity, worst first ("5 CRIT 2 WARN 1 info", or "5C 2W 1i" when `short`): never the
    total under the worst label."""
    if not findings:
        return "-"
    return " ".join((f"{n}{SEVERITY_LABEL[severity][0]}" if short else f"{n} {SEVERITY_LABEL[severity]}")
                    for severity in SEVERITY_LABEL if (n := sum(1 for f in findings if f.severity == severity)))


def _worst(results: list[CheckResult]) -> str:
    return next((s for s in ("fail", "warn", "pass") if any(r.status == s for r in results)), "skipped")


def _text_of(finding: Finding) -> str:
    return f"{finding.source} {finding.id} {finding.title} {finding.subject}".lower()


class NotesScreen(ModalScreen[dict[str, str] | None]):
    """One line per workflow step; Enter on the last line or Ctrl+S keeps them, Esc discards the edits."""

    BINDINGS = [Binding("escape", "cancel", "Discard"), Binding("ctrl+s", "save", "Keep notes")]
    DEFAULT_CSS = """
    NotesScreen { align: center middle; }
    NotesScreen > Vertical { width: 90; height: auto; border: thick $primary; background: $surface; padding: 0 1; }
    NotesScreen Input { margin: 0; }
    """

    def __init__(self, notes: IncidentNotes) -> None:
        super().__init__()
        self._notes = notes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Incident notes[/b]: one line per step. Ctrl+S keeps them, Esc discards.")
            for step in WORKFLOW:
                yield Input(visible(self._notes.lines.get(step, "")), placeholder=f"{step}: {PROMPTS[step]}", id=f"note-{step}")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == f"note-{WORKFLOW[-1]}":
            self.action_save()
        else:
            self.focus_next()

    def action_save(self) -> None:
        self.dismiss({step: self.query_one(f"#note-{step}", Input).value for step in WORKFLOW})

    def action_cancel(self) -> None:
        self.dismiss(None)


class TokenScreen(ModalScreen[str | None]):
    """Paste a token for the auth guide; it stays in memory for this session and is never written anywhere."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    TokenScreen { align: center middle; }
    TokenScreen > Vertical { width: 90; height: auto; border: thick $primary; background: $surface; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Paste the token (JWT) the client sends; Enter keeps it in memory, empty forgets it.")
            yield Input(password=True, placeholder="eyJ...", id="token")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
