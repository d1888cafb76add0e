"""The Processes pane: htop's table and summary, plus findings, detail, ports and signals."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import psutil
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Sparkline, Static

from tui import registry
from tui.actions import Action
from tui.processes import memtrace
from tui.processes.collect import reveal_environ_value, send_signal
from tui.processes.order import sticky_order
from tui.processes.records import ListeningPort, ProcessDetail, ProcessesSection, ProcessRow
from tui.textsafe import literal, visible
from tui.wording import human_duration
from widgets.column_fit import drop_to_fit
from widgets.dialogs import TextScreen
from widgets.keyed_table import KeyedTable
from widgets.pane import SourcePane
from widgets.status import LiveText, human_bytes

COLUMNS = [
    ("flag", "!"),
    ("pid", "PID"),
    ("user", "USER"),
    ("name", "NAME"),
    ("cpu", " CPU%"),
    ("rss", "    RSS"),
    ("mem", " MEM%"),
    ("threads", " THR"),
    ("state", "S"),
    ("started", "STARTED"),
    ("cmdline", "COMMAND"),
]
# In a narrow terminal the command line needs room: these columns go first, in this order, and come back
# when the terminal is wide again (their usual widths, so the choice depends on the width alone).
DROP_ORDER = ["started", "threads", "mem", "user"]
USUAL_WIDTH = {"flag": 1, "pid": 7, "user": 10, "name": 20, "cpu": 5, "rss": 7, "mem": 5, "threads": 4, "state": 1,
               "started": 8}
COMMAND_ROOM = 30
NAME_CELLS = 20  # a kernel worker's long name no longer pushes the command line off an 80-column screen
SORTS: dict[str, Any] = {
    "pid": lambda r: r.pid,
    "user": lambda r: r.user,
    "name": lambda r: r.name.lower(),
    "cpu": lambda r: r.cpu_percent,
    "rss": lambda r: r.rss,
    "mem": lambda r: r.rss,
    "threads": lambda r: r.threads,
    "state": lambda r: r.state,
    "started": lambda r: r.started,
    "cmdline": lambda r: r.cmdline,
}
SORT_CYCLE = ["cpu", "rss", "pid", "user", "name", "threads", "state", "started", "cmdline"]
STATE_LETTER = {"running": "R", "sleeping": "S", "disk-sleep": "D", "zombie": "Z", "stopped": "T", "idle": "I", "tracing-stop": "t"}
FLAG_FOR_FINDING = {"memory-growth": "L", "cpu-hog": "C", "process-d-state": "D", "zombie-processes": "Z"}
HUNG_FLAG = "H"  # the Threads source found a hang in it (a deadlock, a starved pool, a blocked loop, ...)
NOT_A_HANG = {"hot-code", "sweep-incomplete"}
PORT_COLUMNS = [("proto", "PROTO"), ("address", "ADDRESS"), ("port", " PORT"), ("pid", "PID"), ("process", "PROCESS")]


class ProcessesPane(SourcePane):
    source_name = registry.PROCESSES

    # No horizontal scrollbar (left/right still scroll; `d` shows the whole command line): Textual
    # redraws it, cell by cell, whenever the row count changes, which was half the bytes sent per refresh.
    DEFAULT_CSS = """
    ProcessesPane #proc-table { scrollbar-size-horizontal: 0; }
    """

    # footer words are short so every key fits 80 columns; `?` shows the tooltip
    BINDINGS = [
        Binding("enter", "threads", "Threads", tooltip="Threads of process"),
        Binding("d", "detail", "Detail"),
        Binding("t", "threads", "Threads", tooltip="Threads of process", show=False),
        Binding("T", "tree", "Tree", tooltip="Tree view"),
        Binding("N", "ports", "Ports", tooltip="Listening ports (network)"),
        Binding("s", "cycle_sort(1)", "Sort", tooltip="Next sort column (< and > step through them)"),
        Binding("P", "sort('cpu')", "CPU", tooltip="Sort by CPU"),
        Binding("M", "sort('rss')", "Mem", tooltip="Sort by memory"),
        Binding("less_than_sign", "cycle_sort(-1)", "Previous sort column", show=False),
        Binding("greater_than_sign", "cycle_sort(1)", "Next sort column", show=False),
        Binding("I", "invert", "Invert", tooltip="Invert sort"),
        Binding("k", "signal('SIGTERM')", "TERM", tooltip="SIGTERM"),
        Binding("K", "signal('SIGKILL')", "KILL", tooltip="SIGKILL"),
        Binding("a", "trace_memory", "Allocs", tooltip="Trace memory: where a Python process allocates"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._trace_shown_at = 0.0
        self.sort_key = "cpu"
        self.reverse = True
        self.tree_view = False
        self.filter_text = ""
        self.flags: dict[int, str] = {}
        self._cells_by_pid: dict[int, tuple] = {}  # pid -> (row, how it was drawn, cells)
        self._placed_by_cpu: dict[object, float] = {}  # pid -> the CPU% its row was placed by (tui/processes/order.py)
        self._notes_shown: str | None = None
        self._summary_lines = 0

    def compose(self) -> ComposeResult:
        yield LiveText(id="proc-summary")
        yield Static(id="proc-banner", classes="banner")
        yield KeyedTable(COLUMNS, id="proc-table")
        yield KeyedTable(PORT_COLUMNS, id="proc-ports")

    def on_mount(self) -> None:
        self.query_one("#proc-ports").display = False
        self.query_one("#proc-banner").display = False

    def focus(self, scroll_visible: bool = True) -> "ProcessesPane":
        self._visible_table().focus(scroll_visible)
        return self

    def on_resize(self) -> None:
        self._fit_columns()

    def _fit_columns(self) -> None:
        drop_to_fit(self.query_one("#proc-table", KeyedTable), [key for key, _ in COLUMNS], USUAL_WIDTH, DROP_ORDER,
                    COMMAND_ROOM)

    # ----- SourcePane contract -----
    def show_section(self, section: ProcessesSection) -> None:
        newest = max(section.memtraces, key=lambda trace: trace.taken_at, default=None)
        if newest is not None and newest.taken_at > self._trace_shown_at and not self.app.is_replay:
            self._trace_shown_at = newest.taken_at  # the trace the operator asked for has arrived: show it
            self.app.push_screen(TextScreen(f"Memory trace of pid {newest.pid}", memtrace.memtrace_text(newest)))
        self.flags = {}
        for finding in self.findings:
            pid = finding.subject.get("pid")
            if pid is not None and finding.id in FLAG_FOR_FINDING:
                self.flags[pid] = self.flags.get(pid, "") + FLAG_FOR_FINDING[finding.id]
        for pid in sorted({f.subject.get("pid") for f in self.elsewhere if f.source == registry.THREADS
                           and f.id not in NOT_A_HANG and isinstance(f.subject.get("pid"), int)}):
            self.flags[pid] = self.flags.get(pid, "") + HUNG_FLAG
        notes = "\n".join(section.notes)
        if notes != self._notes_shown:  # an update lays the whole screen out again: only on change
            self._notes_shown = notes
            banner = self.query_one("#proc-banner", Static)
            banner.display = bool(notes)
            banner.update(literal(notes, multiline=True))
        summary = summary_text(section)
        lines = summary.plain.count("\n")
        self.query_one("#proc-summary", LiveText).show_text(summary, layout=lines != self._summary_lines)
        self._summary_lines = lines
        self._render_rows()
        self._fit_columns()

    def show_unavailable(self, reason: str, remedy: str = "") -> None:
        banner = self.query_one("#proc-banner", Static)
        banner.display = True
        banner.update(literal(f"Processes: {reason}" + (f" — {remedy}" if remedy else ""), multiline=True))
        self._notes_shown = None  # the next good section puts its own notes back

    def select_subject(self, subject: dict[str, Any]) -> bool:
        pid = subject.get("pid")
        if pid is None:
            return False
        if self.filter_text and not any(r.pid == pid for r in self._visible_rows()):
            self.filter_text = ""  # a jump must land even when a filter would hide the row
            self._render_rows()
        self._show_ports(False)
        table = self.query_one("#proc-table", KeyedTable)
        found = table.move_to_key(str(pid), scroll=True)
        if found:
            table.focus()
        return found

    def selected_subject(self) -> dict[str, Any] | None:
        pid = self._selected_pid()
        return {"pid": pid} if pid is not None else None

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip().lower()
        self._render_rows()

    # ----- rendering -----
    def _visible_rows(self) -> list[ProcessRow]:
        rows = self.section.rows if self.section else []
        if self.filter_text:
            needle = self.filter_text
            # what the operator reads (escapes made visible) matches as well as the raw text
            rows = [r for r in rows if needle in (text := f"{r.pid} {r.user} {r.name} {r.cmdline}").lower()
                    or needle in visible(text).lower()]
        return rows

    def _render_rows(self) -> None:
        if not self.section:
            return
        if self.sort_key == "cpu" and not self.tree_view:
            rows, self._placed_by_cpu = sticky_order(self._visible_rows(), lambda r: r.pid, lambda r: r.cpu_percent,
                                                     self._placed_by_cpu, self.reverse)
        else:
            rows = sorted(self._visible_rows(), key=SORTS[self.sort_key], reverse=self.reverse)
        prefixes: dict[int, str] = {}
        if self.tree_view:
            rows, prefixes = tree_order(rows)
        self.query_one("#proc-table", KeyedTable).sync([(str(r.pid), self._cached_cells(r, prefixes.get(r.pid, ""))) for r in rows])
        if len(self._cells_by_pid) > 2 * len(self.section.rows):  # forget processes long gone
            live = {r.pid for r in self.section.rows}
            self._cells_by_pid = {pid: c for pid, c in self._cells_by_pid.items() if pid in live}
        ports = self.section.listening
        if self.filter_text:
            ports = [p for p in ports if self.filter_text in f"{p.port} {p.process} {p.pid}".lower()]
        self.query_one("#proc-ports", KeyedTable).sync([(port_key(p), port_cells(p)) for p in ports])
        self._update_title(len(rows))

    def _cached_cells(self, r: ProcessRow, prefix: str) -> tuple:
        """The collector hands back the same row object for a process that did not change: reuse its cells."""
        key = (prefix, self.flags.get(r.pid, ""), self.section.taken_at - r.started < 86400)
        cached = self._cells_by_pid.get(r.pid)
        if cached and cached[0] is r and cached[1] == key:
            return cached[2]
        cells = self._cells(r, prefix)
        self._cells_by_pid[r.pid] = (r, key, cells)
        return cells

    def _cells(self, r: ProcessRow, prefix: str) -> tuple:
        now = self.section.taken_at if self.section else time.time()
        age = now - r.started
        started = time.strftime("%H:%M:%S", time.localtime(r.started)) if age < 86400 else time.strftime("%b%d", time.localtime(r.started))
        return (
            self.flags.get(r.pid, ""),
            str(r.pid),
            r.user[:10],
            _cut(prefix + r.name, NAME_CELLS),
            f"{r.cpu_percent:5.1f}",
            f"{human_bytes(r.rss):>7}",
            f"{r.mem_percent:5.1f}",
            f"{r.threads:4d}",
            STATE_LETTER.get(r.state, r.state[:1]),
            started,
            "-" if "cmdline" in r.denied else r.cmdline[:400],
        )

    def _update_title(self, shown: int) -> None:
        total = len(self.section.rows) if self.section else 0
        arrow = "▼" if self.reverse else "▲"
        mode = "tree" if self.tree_view else f"sorted by {self.sort_key} {arrow}"
        filt = f", filter '{self.filter_text}' ({shown}/{total})" if self.filter_text else ""
        self.query_one("#proc-table", KeyedTable).set_title(f"{total} processes, {mode}{filt}")

    def _visible_table(self) -> KeyedTable:
        ports = self.query_one("#proc-ports", KeyedTable)
        return ports if ports.display else self.query_one("#proc-table", KeyedTable)

    def _selected_row(self) -> ProcessRow | None:
        key = self.query_one("#proc-table", KeyedTable).selected_key
        if key is None or not self.section:
            return None
        pid = int(key)
        return next((r for r in self.section.rows if r.pid == pid), None)

    def _selected_pid(self) -> int | None:
        ports = self.query_one("#proc-ports", KeyedTable)
        if ports.display:
            key = ports.selected_key
            port = next((p for p in (self.section.listening if self.section else []) if port_key(p) == key), None)
            return port.pid if port else None
        row = self._selected_row()
        return row.pid if row else None

    # ----- key actions -----
    def action_sort(self, key: str) -> None:
        self._placed_by_cpu = {}  # the operator asked for an order: exact, from the values shown now
        if self.sort_key == key:
            self.reverse = not self.reverse
        else:
            self.sort_key, self.reverse = key, key in ("cpu", "rss", "mem", "threads", "started")
        self._render_rows()
        self._to_top()

    def _to_top(self) -> None:
        """A new order is read from the top, as in htop: the biggest consumer must be in view."""
        table = self.query_one("#proc-table", KeyedTable)
        if table.row_count:
            table.move_cursor(row=0, animate=False, scroll=True)

    def action_cycle_sort(self, step: int) -> None:
        index = SORT_CYCLE.index(self.sort_key) if self.sort_key in SORT_CYCLE else 0
        self.action_sort(SORT_CYCLE[(index + step) % len(SORT_CYCLE)])

    def action_invert(self) -> None:
        self._placed_by_cpu = {}
        self.reverse = not self.reverse
        self._render_rows()
        self._to_top()

    def on_keyed_table_header_selected(self, event: KeyedTable.HeaderSelected) -> None:
        key = event.column_key
        if key in SORTS:
            self.action_sort(key)

    def action_tree(self) -> None:
        self.tree_view = not self.tree_view
        self._render_rows()

    def action_ports(self) -> None:
        self._show_ports(not self.query_one("#proc-ports").display)

    def _show_ports(self, show: bool) -> None:
        self.query_one("#proc-ports").display = show
        self.query_one("#proc-table").display = not show
        self._visible_table().focus()

    def action_threads(self) -> None:
        pid = self._selected_pid()
        if pid is not None:
            self.post_message(self.JumpTo(registry.THREADS, {"pid": pid}))

    def action_detail(self) -> None:
        pid = self._selected_pid()
        if pid is None:
            return
        if self.app.is_replay:
            row = next((r for r in self.section.rows if r.pid == pid), None) if self.section else None
            self.app.push_screen(DetailScreen(None, row_summary(row) if row else Text(f"pid {pid}")))
            return
        self._load_detail(pid)

    @work(thread=True, exit_on_error=False, group="proc-detail")
    def _load_detail(self, pid: int) -> None:
        source = self.source
        try:
            detail = source.detail(pid)
        except psutil.NoSuchProcess:
            self.app.call_from_thread(self.app.notify, f"pid {pid} has exited", severity="warning")
            return
        self.app.call_from_thread(self.app.push_screen, DetailScreen(detail, Text()))

    def action_trace_memory(self) -> None:
        """memray or tracemalloc inside the selected Python process for a few seconds: the live form of comparing
        two tracemalloc snapshots. It changes the process (injected code, slower allocations), so it is an action."""
        row = self._selected_row()
        source = self.source
        if row is None:
            return
        action = Action(
            verb="trace memory",
            source=registry.PROCESSES,
            target=f"pid {row.pid} ({row.name}) run by {row.user}: {memtrace.plan(row.pid)}",
            subject={"pid": row.pid, "name": row.name},
        )
        self.post_message(self.RequestAction(action, lambda: source.trace_memory(row.pid)))

    def action_signal(self, name: str) -> None:
        row = self._selected_row()
        if row is None:
            return
        sig = signal.Signals[name]
        itself = "TSHOOT ITSELF — this ends the program you are using. " if row.pid == os.getpid() else ""
        action = Action(
            verb=name,
            source=registry.PROCESSES,
            target=f"{itself}pid {row.pid} ({row.name}) run by {row.user}: {row.cmdline[:200]}",
            subject={"pid": row.pid, "name": row.name},
        )
        self.post_message(self.RequestAction(action, lambda: send_signal(row.pid, sig, row.started)))


def _cut(text: str, cells: int) -> str:
    return text if len(text) <= cells else text[: cells - 1] + "…"


def summary_text(section: ProcessesSection) -> Text:
    """Per-CPU bars, memory and swap, load against cores, disk and network rates: htop's top block."""
    s = section.system
    text = Text()
    for i, pct in enumerate(s.per_cpu_percent):
        text.append(f"cpu{i:<2}")
        text.append_text(bar(pct, 20))
        text.append(f" {pct:5.1f}%   ")
        if i % 4 == 3:
            text.append("\n")
    if len(s.per_cpu_percent) % 4:
        text.append("\n")
    used = s.mem_total - s.mem_available
    text.append("mem  ")
    text.append_text(bar(used / s.mem_total * 100 if s.mem_total else 0, 20))
    text.append(f" {human_bytes(used)}/{human_bytes(s.mem_total)}   swap ")
    text.append_text(bar(s.swap_used / s.swap_total * 100 if s.swap_total else 0, 10))
    text.append(f" {human_bytes(s.swap_used)}/{human_bytes(s.swap_total)}")
    if s.swap_in_bytes_s or s.swap_out_bytes_s:
        text.append(f" in {human_bytes(s.swap_in_bytes_s)}/s out {human_bytes(s.swap_out_bytes_s)}/s", style="bold red")
    text.append("\n")
    text.append("load ")
    text.append(" ".join(f"{x:.2f}" for x in s.load), style="bold red" if s.load[0] > s.cores else "bold")
    text.append(f" on {s.cores} cores   iowait {s.iowait_percent:.1f}%   up {human_duration(s.uptime_s)}   ")
    text.append(f"disk r {human_bytes(s.disk_read_bytes_s)}/s w {human_bytes(s.disk_write_bytes_s)}/s   ")
    text.append(f"net rx {human_bytes(s.net_recv_bytes_s)}/s tx {human_bytes(s.net_sent_bytes_s)}/s")
    return text


def bar(percent: float, width: int) -> Text:
    filled = max(0, min(width, round(percent / 100 * width)))
    style = "red" if percent >= 90 else "yellow" if percent >= 60 else "green"
    return Text.assemble("[", ("|" * filled, style), " " * (width - filled), "]")


def tree_order(rows: list[ProcessRow]) -> tuple[list[ProcessRow], dict[int, str]]:
    """Rows in parent-child order (children keep the current sort), with tree-drawing prefixes."""
    by_pid = {r.pid: r for r in rows}
    children: dict[int, list[ProcessRow]] = {}
    roots = []
    for r in rows:
        if r.ppid in by_pid and r.ppid != r.pid:
            children.setdefault(r.ppid, []).append(r)
        else:
            roots.append(r)
    ordered: list[ProcessRow] = []
    prefixes: dict[int, str] = {}
    stack = [(r, "", True, True) for r in reversed(roots)]
    while stack:
        row, indent, last, is_root = stack.pop()
        prefixes[row.pid] = "" if is_root else indent + ("└─ " if last else "├─ ")
        ordered.append(row)
        kids = children.get(row.pid, [])
        child_indent = "" if is_root else indent + ("   " if last else "│  ")
        for i, kid in reversed(list(enumerate(kids))):
            stack.append((kid, child_indent, i == len(kids) - 1, False))
    return ordered, prefixes


def port_key(p: ListeningPort) -> str:
    return f"{p.proto}:{p.address}:{p.port}:{p.pid}"


def port_cells(p: ListeningPort) -> tuple:
    return (p.proto, p.address, f"{p.port:5d}", str(p.pid) if p.pid else "-", p.process)


def row_summary(r: ProcessRow) -> Text:
    return Text(
        f"pid {r.pid} ({visible(r.name)}) user {visible(r.user)}, state {visible(r.state)}, CPU {r.cpu_percent}%, "
        f"RSS {human_bytes(r.rss)}, {r.threads} threads\n{visible(r.cmdline)}\n\n"
        "(replay: open files, environment and connections are only read live)"
    )


def detail_heading(d: ProcessDetail) -> Text:
    return Text.assemble((f"pid {d.pid} — {visible(d.name)}", "bold"), f"  user {visible(d.user)}  ",
                         ("(Esc closes, v reveals a value)", "dim"))


def detail_paths(d: ProcessDetail) -> Text:
    return Text(f"exe: {visible(d.exe)}\ncwd: {visible(d.cwd)}\ncmd: {visible(d.cmdline)}"
                + (f"\nnot readable without root: {', '.join(map(visible, d.denied))}" if d.denied else ""))


def detail_listing(title: str, items: list[str]) -> Text:
    """A titled list of host strings (connections, open files), one per line, each literal."""
    return Text.assemble((title, "bold"), "\n", "\n".join(map(visible, items)) or "none")


class DetailScreen(ModalScreen[None]):
    """Everything about one process; environment values masked, `v` reveals the selected one on purpose."""

    BINDINGS = [
        Binding("escape,q", "close", "Close"),
        Binding("v", "reveal", "Reveal selected env value"),
    ]

    def __init__(self, detail: ProcessDetail | None, fallback: Text) -> None:
        super().__init__()
        self.detail = detail
        self.fallback = fallback

    def compose(self) -> ComposeResult:
        d = self.detail
        with Vertical(classes="dialog wide"):
            if d is None:
                yield Static(self.fallback)
                return
            yield Static(detail_heading(d))
            with VerticalScroll():
                yield Static(detail_paths(d))
                if d.cpu_history:
                    yield Static(f"CPU% (last {len(d.cpu_history)} samples, now {d.cpu_history[-1]:.1f}%)")
                    yield Sparkline(d.cpu_history, classes="spark")
                if d.rss_history:
                    yield Static(f"RSS (now {human_bytes(d.rss_history[-1])}, min {human_bytes(min(d.rss_history))})")
                    yield Sparkline(d.rss_history, classes="spark")
                yield Static(f"[b]threads[/b] ({len(d.thread_ids)}): " + " ".join(map(str, d.thread_ids[:50])))
                yield Static(detail_listing("connections", d.connections))
                yield Static(detail_listing("open files", d.open_files[:200]))
                yield Static("[b]environment[/b] (secrets masked)")
                env = DataTable(id="env-table", cursor_type="row")
                yield env

    def on_mount(self) -> None:
        if self.detail:
            table = self.query_one("#env-table", DataTable)
            table.add_columns("KEY", "VALUE")
            for key, value in sorted(self.detail.environ.items()):
                table.add_row(literal(key), literal(value), key=key)

    def action_reveal(self) -> None:
        if not self.detail:
            return
        table = self.query_one("#env-table", DataTable)
        if not table.row_count:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        try:
            value = reveal_environ_value(self.detail.pid, key)
        except (psutil.Error, KeyError) as exc:
            self.app.notify(visible(f"cannot read {key}: {exc}"), severity="error", markup=False)
            return
        table.update_cell(key, table.ordered_columns[1].key, literal(value))

    def action_close(self) -> None:
        self.dismiss(None)
