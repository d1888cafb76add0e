"""The Databases pane: targets, the selected target's sessions, its blocking chains and (when it fails) its connection check.

Keys act on the highlighted session: EXPLAIN it, cancel or terminate it, or jump to the local process on the
other end of its connection (Processes, or its Python stack in Threads).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from tui import registry
from tui.actions import Action
from tui.databases.analysis import RUNNING_STATES, blocking_tree, chains_first, top_counts
from tui.databases.records import ConnectionReport, DatabasesSection, DbSession, TargetResult
from tui.findings import Finding
from tui.textsafe import literal, visible
from tui.wording import count, human_duration
from widgets.column_fit import ColumnFit, aligned, columns_spec, fit_columns
from widgets.dialogs import TextScreen
from widgets.keyed_table import KeyedTable
from widgets.pane import SourcePane

# Numbers and ages have fixed widths (right-aligned, never cut); names fit their content; the URL and the
# query take the width that is left. In a narrow terminal columns go in `drop` order (highest first): for a
# target, its poll time, server version, where it was found, its session count; for a session, its database,
# application, client address, user, transaction age, local pid, then query age — the flag, id, state, wait
# and query stay (an 80-column window shows them whole; `l` and the detail still name the local process).
TARGET_COLUMNS = [
    ColumnFit("flag", "!", width=1), ColumnFit("url", "TARGET", cap=30, flexible=True),
    ColumnFit("origin", "FOUND IN", cap=34, drop=3), ColumnFit("status", "STATUS", cap=24),
    ColumnFit("server", "SERVER", cap=28, drop=4),
    ColumnFit("conns", "CONNS", width=15, right=True), ColumnFit("sessions", "SESS", width=5, right=True, drop=2),
    ColumnFit("waits", "WAITS", width=5, right=True), ColumnFit("ms", "POLL ms", width=7, right=True, drop=5),
]
SESSION_COLUMNS = [
    ColumnFit("flag", "!", width=3), ColumnFit("id", "PID/ID", width=7, right=True),
    ColumnFit("user", "USER", cap=12, drop=4), ColumnFit("db", "DB", cap=12, drop=7),
    ColumnFit("app", "APPLICATION", cap=20, drop=6), ColumnFit("client", "CLIENT", cap=21, drop=5),
    ColumnFit("local", "LOCAL PID", cap=18, drop=2), ColumnFit("state", "STATE", cap=19, least=10),
    ColumnFit("wait", "WAIT", cap=28, least=19), ColumnFit("xact", "XACT", width=6, right=True, drop=3),
    ColumnFit("age", "QUERY AGE", width=9, right=True, drop=1), ColumnFit("query", "QUERY", cap=32, least=20, flexible=True),
]
FLAG_FOR_FINDING = {"blocked-query": "B", "idle-in-transaction": "I", "slow-query": "S"}
STEP_MARK = {"pass": ("✓", "green"), "warn": ("!", "yellow"), "fail": ("✗", "bold red"), "skipped": ("-", "dim")}
# Sort orders the `o` key cycles through: (label, key function, descending).
SORTS = [
    ("blocking chains first (head blocker on top)", lambda s: (not s.blocking_ids, -(s.query_age_s or 0))),
    ("query age", lambda s: -(s.query_age_s or 0)),
    ("transaction age", lambda s: -(s.xact_age_s or 0)),
    ("state", lambda s: (s.state, -(s.query_age_s or 0))),
    ("id", lambda s: s.id),
]


class DatabasesPane(SourcePane):
    source_name = registry.DATABASES

    DEFAULT_CSS = """
    DatabasesPane #db-targets { height: auto; max-height: 8; }
    DatabasesPane #db-sessions { height: 1fr; }
    DatabasesPane #db-detail { height: 1fr; border: round $primary 40%; padding: 0 1; }
    """

    BINDINGS = [
        # footer words are short so every key fits 80 columns; `?` shows the tooltip
        Binding("e", "explain", "Explain", tooltip="EXPLAIN the session's query (no ANALYZE)"),
        Binding("k", "interrupt(False)", "Cancel", tooltip="Cancel the session's query"),
        Binding("K", "interrupt(True)", "Terminate", tooltip="Terminate the session"),
        Binding("o", "jump('processes')", "Local proc", tooltip="Go to the client's local process (Processes)"),
        Binding("t", "jump('threads')", "Stack", tooltip="Python stack of the client's local process (Threads)"),
        Binding("D", "check_connection", "Check connection", tooltip="Check the connection to the target step by step"),
        Binding("s", "sort", "Sort", tooltip="Change session sort order"),
        Binding("less_than_sign", "target(-1)", "Previous target", show=False),
        Binding("greater_than_sign", "target(1)", "Next target", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.filter_text = ""
        self.sort_index = 0
        self._target_cells: list[tuple] = []  # what the tables show, to fit their columns again on a resize
        self._section_at: float | None = None  # when the section on screen arrived (the app's clock)
        self._age_note = ""  # "measured 12s ago" once the durations on screen are older than two intervals
        self._session_cells: list[tuple] = []

    def compose(self) -> ComposeResult:
        yield Static(id="db-banner", classes="banner")
        yield KeyedTable(columns_spec(TARGET_COLUMNS), id="db-targets")
        yield KeyedTable(columns_spec(SESSION_COLUMNS), id="db-sessions")
        with VerticalScroll(id="db-detail"):
            yield Static("Waiting for the first poll of the databases.", id="db-detail-text")

    def on_mount(self) -> None:
        self.query_one("#db-banner").display = False

    def on_resize(self) -> None:
        self._fit_columns()

    def _fit_columns(self) -> None:
        fit_columns(self.query_one("#db-targets", KeyedTable), TARGET_COLUMNS, self._target_cells)
        fit_columns(self.query_one("#db-sessions", KeyedTable), SESSION_COLUMNS, self._session_cells)

    def focus(self, scroll_visible: bool = True) -> "DatabasesPane":
        self.query_one("#db-sessions", KeyedTable).focus(scroll_visible)
        return self

    # ----- SourcePane contract -----
    def show_section(self, section: DatabasesSection) -> None:
        self._section_at, self._age_note = self.app.clock(), ""
        banner = self.query_one("#db-banner", Static)
        banner.display = bool(section.discovery_notes)
        banner.update(literal("\n".join(section.discovery_notes), multiline=True))
        self._render_targets()
        self._render_sessions()
        self._render_detail()

    def tick(self, now: float) -> None:
        """Waits and ages are measured at each poll: a slow poll (a failing target's connection check) or a hidden or
        paused pane leaves them standing still, so once older than two intervals they say since when."""
        age = now - self._section_at if self._section_at is not None else 0.0
        note = f"measured {human_duration(age)} ago" if age > 2 * self.app.config.interval else ""
        if note != self._age_note:
            self._age_note = note
            self._render_sessions()
            self._render_detail()

    def show_unavailable(self, reason: str, remedy: str = "") -> None:
        banner = self.query_one("#db-banner", Static)
        banner.display = True
        banner.update(literal(f"Databases: {reason}" + (f"\nWhat to do: {remedy}" if remedy else ""), multiline=True))

    def select_subject(self, subject: dict[str, Any]) -> bool:
        if self.section is None:
            return False
        target_id, pid = subject.get("target"), subject.get("pid")
        results = [r for r in self.section.targets if target_id in (None, r.target.id)]
        for result in results:
            if pid is not None and not any(s.id == pid for s in (result.state.sessions if result.state else [])):
                continue
            self.query_one("#db-targets", KeyedTable).move_to_key(result.target.id, scroll=True)
            self._render_sessions()
            self._render_detail()
            if pid is None:
                return True
            sessions = self.query_one("#db-sessions", KeyedTable)
            if not sessions.move_to_key(str(pid), scroll=True):
                self.filter_text = ""  # a jump must land even when a filter would hide the row
                self._render_sessions()
                sessions.move_to_key(str(pid), scroll=True)
            sessions.focus()
            self._render_detail()
            return True
        return False

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip().lower()
        self._render_sessions()

    def on_keyed_table_row_highlighted(self, event: KeyedTable.RowHighlighted) -> None:
        if event.table.id == "db-targets":
            self._render_sessions()
        self._render_detail()

    # ----- what is selected -----
    def _selected_result(self) -> TargetResult | None:
        if self.section is None or not self.section.targets:
            return None
        key = self.query_one("#db-targets", KeyedTable).selected_key
        return next((r for r in self.section.targets if r.target.id == key), self.section.targets[0])

    def _selected_session(self) -> DbSession | None:
        result = self._selected_result()
        if result is None or result.state is None:
            return None
        key = self.query_one("#db-sessions", KeyedTable).selected_key
        return next((s for s in result.state.sessions if str(s.id) == key), None)

    def _findings(self, target_id: str) -> list[Finding]:
        return [f for f in self.findings if f.subject.get("target") == target_id]

    # ----- rendering -----
    def _render_targets(self) -> None:
        if self.section is None:
            return
        rows = [(r.target.id, target_cells(r, self._findings(r.target.id))) for r in self.section.targets]
        table = self.query_one("#db-targets", KeyedTable)
        self._target_cells = [cells for _, cells in rows]
        fit_columns(table, TARGET_COLUMNS, self._target_cells)
        table.sync(rows)
        failing = sum(1 for r in self.section.targets if r.state is None and r.error)
        table.border_title = count(len(rows), "database target") + (f", {failing} failing" if failing else "")

    def _visible_sessions(self, result: TargetResult) -> list[DbSession]:
        sessions = result.state.sessions if result.state else []
        if self.filter_text:
            sessions = [s for s in sessions if self.filter_text in
                        f"{s.id} {s.user} {s.database} {s.application} {s.client_addr} {s.state} {s.query}".lower()]
        ordered = sorted(sessions, key=SORTS[self.sort_index][1])
        return chains_first(ordered, result.state.lock_waits) if self.sort_index == 0 and result.state else ordered

    def _render_sessions(self) -> None:
        result = self._selected_result()
        table = self.query_one("#db-sessions", KeyedTable)
        if result is None:
            return
        flags: dict[int, str] = {}
        for finding in self._findings(result.target.id):
            if finding.id in FLAG_FOR_FINDING and "pid" in finding.subject:
                flags[finding.subject["pid"]] = flags.get(finding.subject["pid"], "") + FLAG_FOR_FINDING[finding.id]
        visible = self._visible_sessions(result)
        rows = [(str(s.id), session_cells(s, flags.get(s.id, ""))) for s in visible]
        self._session_cells = [cells for _, cells in rows]
        fit_columns(table, SESSION_COLUMNS, self._session_cells)
        table.sync(rows)
        total = len(result.state.sessions) if result.state else 0
        shown = f", filter '{self.filter_text}' ({len(visible)}/{total})" if self.filter_text else ""
        order = SORTS[self.sort_index][0]
        measured = f" ({self._age_note})" if self._age_note else ""
        table.border_title = literal(f"{count(total, 'session')}{measured} on {result.target.url} — sorted by {order}{shown}")

    def _render_detail(self) -> None:
        result = self._selected_result()
        if result is None:
            return
        text = detail_text(result, self._selected_session())
        if self._age_note:
            text = Text.assemble((f"Durations {self._age_note} (the last poll)\n", "bold yellow"), text)
        self.query_one("#db-detail-text", Static).update(text)

    # ----- key actions -----
    def action_sort(self) -> None:
        self.sort_index = (self.sort_index + 1) % len(SORTS)
        self._render_sessions()

    def action_target(self, step: int) -> None:
        table = self.query_one("#db-targets", KeyedTable)
        if table.row_count:
            table.move_cursor(row=(table.cursor_row + step) % table.row_count)

    def action_jump(self, pane: str) -> None:
        session = self._selected_session()
        if session is None:
            return
        if session.local_pid is None:
            self.app.notify(visible(f"Session {session.id}: its client ({session.client_addr or 'Unix socket'}) is not "
                                    "a process tshoot can see on this machine"), severity="warning", markup=False)
            return
        self.post_message(self.JumpTo(pane, {"pid": session.local_pid}))

    def _live_source(self) -> Any:
        source = self.source
        if source is None:
            self.app.notify("A replay has no live database connection", severity="warning")
        return source

    def action_interrupt(self, terminate: bool) -> None:
        result, session = self._selected_result(), self._selected_session()
        source = self._live_source()
        if result is None or session is None or source is None:
            return
        if not terminate and session.state not in RUNNING_STATES:
            # Cancelling changes nothing here: say so, and offer what would end the transaction.
            self.app.notify(f"Session {session.id} is {session.state or 'idle'}: it runs no query to cancel. Only "
                            "terminating it ends its transaction and frees its locks — confirm to terminate, or "
                            "Esc.", severity="warning")
            terminate = True
        verb = "terminate" if terminate else "cancel query"  # the target says "session N": "terminate session N"
        query = session.query.replace("\n", " ")[:120] or "(no query)"
        action = Action(
            verb=verb,
            source=self.source_name,
            target=f"session {session.id} ({session.user}@{session.client_addr or 'socket'}, {session.state}) on "
                   f"{result.target.url}: {query}",
            subject={"target": result.target.id, "pid": session.id},
        )
        run = source.terminate if terminate else source.cancel
        self.post_message(self.RequestAction(action, lambda: run(result.target.id, session.id)))

    def action_explain(self) -> None:
        result, session = self._selected_result(), self._selected_session()
        source = self._live_source()
        if result is not None and session is not None and source is not None:
            self._explain(source, result.target.id, session.id)

    @work(thread=True, exit_on_error=False, group="db-explain")
    def _explain(self, source: Any, target_id: str, session_id: int) -> None:
        try:
            plan = source.explain(target_id, session_id)
        except Exception as exc:  # the session ended, a utility statement, parameters: say why, keep the pane
            self.app.call_from_thread(self.app.notify, visible(f"EXPLAIN of {session_id}: {exc}"), severity="warning",
                                      markup=False)
            return
        self.app.call_from_thread(self.app.push_screen, TextScreen(f"EXPLAIN of session {session_id}", plan))

    def action_check_connection(self) -> None:
        result = self._selected_result()
        source = self._live_source()
        if result is None:
            return
        if source is None:
            if result.connection_check:
                self.app.push_screen(TextScreen(f"Connection check: {result.target.url}", connection_check_text(result.connection_check)))
            return
        self._check_connection(source, result.target.id)

    @work(thread=True, exit_on_error=False, group="db-conncheck")
    def _check_connection(self, source: Any, target_id: str) -> None:
        try:
            report = source.diagnose(target_id)
        except ValueError as exc:
            self.app.call_from_thread(self.app.notify, visible(exc), severity="warning", markup=False)
            return
        self.app.call_from_thread(self.app.push_screen, TextScreen(f"Connection check: {report.url}", connection_check_text(report)))


def target_cells(result: TargetResult, findings: list[Finding]) -> tuple:
    flag = "!" if any(f.severity == "critical" for f in findings) else ("?" if findings else "")
    if result.state is None:
        failed = next((s.name for s in result.connection_check.steps if s.status == "fail"), None) if result.connection_check else None
        status = (f"same server as {result.same_server_as}" if result.same_server_as else
                  "not logged in" if result.not_connected else f"FAILED at {failed}" if failed else "error")
        return aligned(TARGET_COLUMNS, (flag, result.target.url, result.target.origin, status, "-", "-", "-", "-", "-"))
    state = result.state
    usage = state.usage
    conns = f"{usage.connections}/{usage.max_connections} {usage.percent:.0f}%" if usage else "-"
    return aligned(TARGET_COLUMNS, (flag, result.target.url, result.target.origin, "ok", state.version, conns,
                                    str(len(state.sessions)), str(len(state.lock_waits)), f"{result.collect_ms:.0f}"))


def session_cells(s: DbSession, flag: str) -> tuple:
    client = f"{s.client_addr}:{s.client_port}" if s.client_addr and s.client_port else (s.client_addr or "socket")
    local = f"{s.local_pid} {s.local_process or ''}".strip() if s.local_pid else ""
    wait = s.wait + (f" <- {','.join(map(str, s.blocking_ids))}" if s.blocking_ids else "")
    return aligned(SESSION_COLUMNS, (flag, str(s.id), s.user, s.database, s.application, client, local, s.state, wait,
                                     human_duration(s.xact_age_s), human_duration(s.query_age_s), " ".join(s.query.split())[:500]))


def detail_text(result: TargetResult, selected: DbSession | None) -> Text:
    text = Text()
    if result.same_server_as or result.not_connected or result.state is None:
        text.append(visible(result.target.url), style="bold")
        text.append(f"  found in {visible(result.target.origin)}\n", style="dim")
        if result.same_server_as:
            text.append(f"The same server as {visible(result.same_server_as)} (another URL for it): its sessions and "
                        "findings are shown there, once.\n")
        elif result.not_connected:
            text.append(f"Not logged in: {visible(result.not_connected, multiline=True)}\n")
        else:
            text.append(f"Cannot read it: {visible(result.error, multiline=True)}\n", style="red")
            if result.connection_check:
                text.append_text(connection_check_text(result.connection_check))
        return text
    state = result.state  # what to act on first (chains, the selected session), then the counts
    sessions = {s.id: s for s in state.sessions}
    if state.lock_waits:
        text.append("Blocking chains (head blocker first, waiting sessions below it):\n", style="bold")
        waits = {w.blocked_id: w for w in state.lock_waits}
        for depth, session_id in blocking_tree(state.lock_waits):
            session = sessions.get(session_id)
            text.append("  " + "  " * depth + ("└ " if depth else ""))
            text.append(f"{session_id} ", style="bold red" if depth == 0 else "bold")
            if session:
                text.append(visible(f"{session.user} {session.state} {human_duration(session.state_age_s)}"))
                if session.local_pid:
                    text.append(visible(f" local pid {session.local_pid} ({session.local_process})"), style="cyan")
            if session_id in waits:
                wait = waits[session_id]
                text.append(visible(f" waits {wait.waited_s:.0f}s for {wait.lock}"), style="yellow")
            if session and session.query:
                text.append(f": {visible(' '.join(session.query.split())[:80])}", style="dim")
            text.append("\n")
    if selected is not None:
        text.append(f"Session {selected.id}", style="bold")
        if selected.local_pid:
            text.append(visible(f"  client is local pid {selected.local_pid} ({selected.local_process}) — o: process, "
                                "t: Python stack"), style="cyan")
        text.append(f"\n{visible(selected.query, multiline=True) or '(no query)'}\n")
    text.append(visible(result.target.url), style="bold")  # the sessions' title names it already
    text.append(f"  found in {visible(result.target.origin)}\n", style="dim")
    if state.usage:
        u = state.usage
        text.append("Connections ", style="bold")
        text.append(f"{u.connections} of {u.max_connections} ({u.percent:.0f}%)  by user: {visible(top_counts(u.by_user))}")
        if u.by_application:
            text.append(f"  by application: {visible(top_counts(u.by_application))}")
        text.append(f"  by client: {visible(top_counts(u.by_client))}\n")
    if state.top_statements:
        text.append("Top statements by total time (pg_stat_statements):\n", style="bold")
        for statement in state.top_statements[:5]:
            calls = count(statement.calls, "call")
            text.append(f"  {statement.total_ms:10.0f} ms {calls:>14} {statement.mean_ms:8.1f} ms avg  ")
            text.append(f"{visible(' '.join(statement.query.split())[:90])}\n", style="dim")
    if state.tables:
        text.append("Most rows read by sequential scans:\n", style="bold")
        for table in state.tables[:5]:
            text.append(f"  {visible(table.table)}: {count(table.seq_scan, 'seq scan')}, {table.seq_rows_read:,} rows read, "
                        f"{count(table.idx_scan, 'index scan')}, {table.live_rows:,} rows\n")
    for note in state.notes:
        text.append(f"Note: {visible(note, multiline=True)}\n", style="dim")
    return text


def connection_check_text(report: ConnectionReport) -> Text:
    text = Text()
    text.append(f"Connection check of {visible(report.url)}\n", style="bold")
    for step in report.steps:
        mark, style = STEP_MARK.get(step.status, ("?", ""))
        text.append(f"  {mark} {visible(step.name):15} ", style=style)
        text.append(f"{visible(step.detail, multiline=True)}\n")
        if step.fix and step.status in ("fail", "warn"):
            text.append(f"      fix: {visible(step.fix, multiline=True)}\n", style="yellow")
    return text
