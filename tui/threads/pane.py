"""The Threads pane: choose a process, see its threads and stacks, and any deadlock in jstack's words."""

from __future__ import annotations

import re
import time
from pathlib import PurePosixPath
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from tui import registry
from tui.findings import SEVERITY_RANK, Finding, as_of
from tui.threads.deadlock import format_deadlock_report, thread_state
from tui.textsafe import literal, visible
from tui.threads.records import Profile, ProcessThreads, ThreadRecord, ThreadsSection
from tui.wording import human_duration
from widgets.column_fit import ColumnFit, columns_spec, fit_columns
from widgets.dialogs import TextScreen
from widgets.keyed_table import KeyedTable
from widgets.pane import SourcePane

# The status and the state lead with the words that matter (DEADLOCK, "waiting for X"): they take the room,
# and in a narrow list the name (`python3`: the command says more), then the Python version, then the command go.
PROCESS_COLUMNS = [
    ColumnFit("pid", "PID", cap=7), ColumnFit("name", "NAME", cap=20, drop=3), ColumnFit("python", "PY", cap=7, drop=2),
    ColumnFit("status", "STATUS", cap=28, least=20, flexible=True), ColumnFit("cmdline", "COMMAND", cap=60, drop=1),
]
CHOOSE = "Choose a process (Enter)."
THREAD_COLUMNS = [
    ColumnFit("tid", "TID", cap=7), ColumnFit("name", "THREAD", cap=24, least=12),
    ColumnFit("state", "STATE", cap=44, least=24, flexible=True), ColumnFit("where", "WHERE", cap=40, least=20, drop=1),
]


class ThreadsPane(SourcePane):
    source_name = registry.THREADS

    DEFAULT_CSS = """
    ThreadsPane #thr-top { height: 1fr; }
    ThreadsPane #thr-processes { width: 38%; }
    ThreadsPane #thr-threads { width: 1fr; }
    ThreadsPane #thr-stack-box { height: 1fr; border: round $primary 40%; padding: 0 1; }
    ThreadsPane .deadlock { height: auto; max-height: 10; border: heavy $error; color: $text; padding: 0 1; }
    """

    BINDINGS = [
        Binding("enter", "choose", "Dump this process", show=False),
        Binding("v", "toggle_locals", "Locals", tooltip="Show/hide locals"),
        Binding("space", "toggle_live", "Live/hold", tooltip="Live / hold"),
        Binding("r", "dump_now", "Dump now", tooltip="Refresh here: dump now, also on hold"),
        Binding("D", "deadlock_report", "Deadlocks", tooltip="Deadlock report"),
        Binding("x", "unwatch", "Unwatch", tooltip="Stop watching process"),
        Binding("h", "hot_code", "Hot code", tooltip="Where a busy process spends its CPU"),
        Binding("tab", "switch_table", "Processes / threads", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.selected_pid: int | None = None
        self.show_locals = False
        self.live = True
        self.filter_text = ""
        self._listed: set[str] = set()  # pids of the rows the process list shows
        self._exited: int | None = None  # the selected process exited and was dropped from the list
        self._shown: ThreadsSection | None = None  # the section on screen before the newest one
        self._age_note = ""  # "dumped 40s ago" once the stacks on screen are older than two intervals
        self._process_cells: list[tuple] = []  # the rows on screen, for fitting the columns to the width
        self._thread_cells: list[tuple] = []

    def compose(self) -> ComposeResult:
        yield Static(id="thr-banner", classes="banner")
        yield Static(id="thr-deadlock", classes="deadlock")
        with Horizontal(id="thr-top"):
            yield KeyedTable(columns_spec(PROCESS_COLUMNS), id="thr-processes")
            yield KeyedTable(columns_spec(THREAD_COLUMNS), id="thr-threads")
        with VerticalScroll(id="thr-stack-box"):
            yield Static(CHOOSE, id="thr-stack")

    def on_mount(self) -> None:
        self.query_one("#thr-banner").display = False
        self.query_one("#thr-deadlock").display = False
        self.query_one("#thr-processes", KeyedTable).border_title = "processes"

    def on_resize(self) -> None:
        self._fit_columns()

    def _fit_columns(self) -> None:
        fit_columns(self.query_one("#thr-processes", KeyedTable), PROCESS_COLUMNS, self._process_cells)
        fit_columns(self.query_one("#thr-threads", KeyedTable), THREAD_COLUMNS, self._thread_cells)

    def focus(self, scroll_visible: bool = True) -> "ThreadsPane":
        table = self.query_one("#thr-threads" if self.selected_pid else "#thr-processes", KeyedTable)
        table.focus(scroll_visible)
        return self

    # ----- SourcePane contract -----
    def show_section(self, section: ThreadsSection) -> None:
        selected, shown = str(self.selected_pid), self._shown
        if (shown is not None and selected in shown.processes and selected not in section.processes
                and all(c.pid != self.selected_pid for c in section.candidates)):
            # the source dropped it and it is no Python candidate either (it exited): say so, do not pick another.
            # A sweep suspect that calmed down leaves `processes` but still runs: it stays selected.
            self._exited = self.selected_pid
            self.selected_pid = None
        self._shown, self._age_note = section, ""
        if self.selected_pid is None and self._exited is None and section.processes:
            self.selected_pid = int(next(iter(section.processes)))
        self._refresh_view()

    def show_unavailable(self, reason: str, remedy: str = "") -> None:
        self._banner(f"Threads: {reason}" + (f" — {remedy}" if remedy else ""))

    def tick(self, now: float) -> None:
        """Stacks are as old as the poll that dumped them: a slow dump, a hidden or paused pane leaves them."""
        if self.section is None or self.app.is_replay:
            return
        age = now - self.section.taken_at
        note = f", dumped {human_duration(age)} ago" if age > 2 * self.app.config.interval else ""
        if note != self._age_note:
            self._age_note = note
            self._render_threads(self._process())

    def select_subject(self, subject: dict[str, Any]) -> bool:
        pid = subject.get("pid")
        if not isinstance(pid, int):
            return False
        source = self.source
        if source is None and (self.section is None or str(pid) not in self.section.processes):
            return False  # a replay shows only what was dumped
        self._select(pid)
        return True

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip().lower()
        self._refresh_view()

    # ----- selection -----
    def _select(self, pid: int) -> None:
        self.selected_pid, self._exited = pid, None
        source = self.source
        if source is not None:
            source.watch(pid)
            source.focus(pid)
            source.request_dump()
            self.poll_now()
        self._refresh_view()
        self.query_one("#thr-processes", KeyedTable).move_to_key(str(pid), scroll=True)
        self.query_one("#thr-threads", KeyedTable).focus()

    def _process(self) -> ProcessThreads | None:
        if self.section is None or self.selected_pid is None or self._hidden_by_filter():
            return None
        return self.section.processes.get(str(self.selected_pid))

    def _hidden_by_filter(self) -> bool:
        """The selected process's row is filtered out: its details are not shown under another row."""
        return bool(self.filter_text) and self.selected_pid is not None and str(self.selected_pid) not in self._listed

    def _findings(self) -> list[Finding]:
        return [f for f in self.findings if f.subject.get("pid") == self.selected_pid]

    # ----- rendering -----
    def _refresh_view(self) -> None:
        self._render_processes()
        process = self._process()
        findings = self._findings()
        deadlocks = [f for f in findings if f.id == "deadlock"] if process else []
        report = self.query_one("#thr-deadlock", Static)
        report.display = bool(deadlocks)
        if deadlocks:
            report.update(deadlock_summary(deadlocks))
        measured = self.section.taken_at if self.section is not None else None  # when these findings were true
        notes = [as_of(f.title, measured) for f in findings if f.id != "deadlock"] if process else []
        if self._exited is not None:
            notes.append(f"pid {self._exited} exited: it is no longer listed")
        if self._hidden_by_filter():
            notes.append(f"pid {self.selected_pid} is hidden by the filter '{self.filter_text}' (/ then Esc clears it)")
        if process is not None:
            if process.error:
                notes.insert(0, f"pid {process.pid}: {process.error}" + (f" — {process.remedy}" if process.remedy else ""))
            notes += process.warnings
        if not self.live:
            notes.append("HOLD: stacks are not refreshed (space: live, r: dump now)")
        self._banner("\n".join(notes))
        self._render_threads(process)
        self._render_stack(process)

    def _banner(self, text: str) -> None:
        banner = self.query_one("#thr-banner", Static)
        banner.display = bool(text)
        banner.update(literal(text, multiline=True))

    def _render_processes(self) -> None:
        """One row per pid (a watched process, else a Python candidate): the ones with a hang finding first,
        most severe first, then those the sweep found stuck, then the rest, each group by pid. A stable order,
        so the row under the cursor is still the one Enter dumps when a refresh comes in between (busiest-first
        moved them). The command is shown short (the script, not the interpreter's path); / filters on all of it."""
        if self.section is None:
            return
        worst: dict[int, int] = {}
        for finding in self.findings:
            if finding.id != "hot-code" and isinstance(pid := finding.subject.get("pid"), int):
                worst[pid] = max(worst.get(pid, 0), SEVERITY_RANK[finding.severity] + 1)
        found = {p.pid for p in self.section.processes.values() if p.found_by == "scan"}
        rows: dict[int, tuple] = {}
        cmdlines: dict[int, str] = {}
        for process in self.section.processes.values():
            rows[process.pid] = (str(process.pid), process.name[:20],
                                 process.python_version or ("-" if not process.python else "?"),
                                 self._process_status(process), short_command(process.cmdline))
            cmdlines[process.pid] = process.cmdline
        for candidate in self.section.candidates:
            if candidate.pid not in rows:
                rows[candidate.pid] = (str(candidate.pid), candidate.name[:20], candidate.python_version,
                                       "Python (Enter: dump)", short_command(candidate.cmdline))
                cmdlines[candidate.pid] = candidate.cmdline
        order = sorted(rows, key=lambda pid: (-worst.get(pid, 0), pid not in found, pid))
        shown = [(rows[pid][0], rows[pid]) for pid in order
                 if not self.filter_text or self.filter_text in " ".join((*rows[pid], cmdlines[pid])).lower()]
        self._listed = {key for key, _ in shown}
        self._process_cells = [cells for _, cells in shown]
        table = self.query_one("#thr-processes", KeyedTable)
        table.sync(shown)
        fit_columns(table, PROCESS_COLUMNS, self._process_cells)

    def _process_status(self, process: ProcessThreads) -> str:
        if process.error:
            return process.error
        ids = {f.id for f in self.findings if f.subject.get("pid") == process.pid} - {"hot-code"}
        label = "DEADLOCK, " if "deadlock" in ids else (f"{sorted(ids)[0].upper()}, " if ids else "")
        found = ", found by sweep" if process.found_by == "scan" else ""
        stuck = sum(t.stuck for t in process.threads)
        return f"{label}{stuck}/{len(process.threads)} stuck{found}"  # the words that matter first: cut from the end

    def _render_threads(self, process: ProcessThreads | None) -> None:
        table = self.query_one("#thr-threads", KeyedTable)
        threads = process.threads if process else []
        rows = [(str(t.tid), (str(t.tid), t.name, thread_state(t), _where(t))) for t in threads]
        self._thread_cells = [cells for _, cells in rows]
        table.sync(rows)
        fit_columns(table, THREAD_COLUMNS, self._thread_cells)
        if process is None:
            table.border_title = ""
        else:
            paused = f", paused ≤{process.dump_seconds * 1000:.0f} ms per dump" if process.dump_seconds else ""
            table.border_title = literal(f"pid {process.pid} {process.name}: {len(threads)} threads{paused}{self._age_note}")

    def _selected_thread(self, process: ProcessThreads | None) -> ThreadRecord | None:
        key = self.query_one("#thr-threads", KeyedTable).selected_key
        if process is None or key is None:
            return None
        return next((t for t in process.threads if str(t.tid) == key), None)

    def _render_stack(self, process: ProcessThreads | None) -> None:
        view = self.query_one("#thr-stack", Static)
        self.query_one("#thr-stack-box").border_title = literal(process.cmdline) if process else ""
        if process is None:
            view.update(CHOOSE)
            return
        if process.jstack:
            view.update(literal(process.jstack, multiline=True))
            return
        thread = self._selected_thread(process)
        view.update(stack_text(thread, self.show_locals) if thread else Text("Select a thread to see its stack."))

    # ----- events and keys -----
    def on_keyed_table_row_highlighted(self, event: KeyedTable.RowHighlighted) -> None:
        if event.table.id == "thr-threads":
            self._render_stack(self._process())

    def on_keyed_table_row_selected(self, event: KeyedTable.RowSelected) -> None:
        if event.table.id == "thr-processes" and event.key:
            self._select(int(event.key))

    def action_choose(self) -> None:
        key = self.query_one("#thr-processes", KeyedTable).selected_key
        if key:
            self._select(int(key))

    def action_toggle_locals(self) -> None:
        self.show_locals = not self.show_locals
        self._render_stack(self._process())

    def action_toggle_live(self) -> None:
        self.live = not self.live
        source = self.source
        if source is not None:
            source.set_live(self.live)
        self._refresh_view()

    def action_dump_now(self) -> None:
        source = self.source
        if source is not None:
            source.request_dump()
            self.poll_now()

    def action_deadlock_report(self) -> None:
        deadlocks = [f for f in self._findings() if f.id == "deadlock"]
        body = "\n\n".join(format_deadlock_report(f) for f in deadlocks) or "No deadlock found in this process."
        self.app.push_screen(TextScreen(f"Deadlocks in pid {self.selected_pid}", body))

    def action_hot_code(self) -> None:
        """Where the process under the cursor spends its CPU (sampled without pausing it, when it is busy)."""
        key = self.query_one("#thr-processes", KeyedTable).selected_key
        pid = int(key) if key else self.selected_pid
        profile = self.section.profiles.get(str(pid)) if self.section and pid else None
        if profile is None:
            body = (f"pid {pid} has not been profiled: only Python processes using at least "
                    f"{self.app.config.thresholds.cpu_hog_percent:g}% of a core are (py-spy record, no pause).")
        else:
            body = profile_text(profile)
        self.app.push_screen(TextScreen(f"Where the CPU goes: pid {pid}", body))

    def action_unwatch(self) -> None:
        source = self.source
        if source is not None and self.selected_pid is not None:
            source.unwatch(self.selected_pid)
            self.selected_pid = None
            self.poll_now()

    def action_switch_table(self) -> None:
        processes = self.query_one("#thr-processes", KeyedTable)
        target = self.query_one("#thr-threads", KeyedTable) if processes.has_focus else processes
        target.focus()


def profile_text(profile: Profile) -> str:
    """The hot functions of a profile, most self time first, and its hottest stacks."""
    lines = [f"{profile.name or 'pid ' + str(profile.pid)} at {profile.cpu_percent:.0f}% CPU: {profile.samples} samples "
             f"over {profile.seconds:g}s, taken {time.strftime('%H:%M:%S', time.localtime(profile.taken_at))}", "",
             f"{'self %':>7} {'total %':>8}  function (where)"]
    lines += [f"{h.self_percent:7.1f} {h.total_percent:8.1f}  {h.function} ({h.location})" for h in profile.hot]
    if profile.stacks:
        lines += ["", "Hottest stacks (outermost first):"]
        lines += [f"{share:5.1f}%  {stack}" for stack, share in profile.stacks]
    return visible("\n".join(lines), multiline=True)


def deadlock_summary(deadlocks: list[Finding]) -> Text:
    """One line per thread of each cycle, so the box stays small; D opens the jstack-style report."""
    text = Text()
    for finding in deadlocks:
        text.append(visible(f"DEADLOCK in pid {finding.subject['pid']} ({finding.evidence.get('confidence')})"),
                    style="bold red")
        text.append("  D: full jstack-style report\n", style="dim")
        for entry in finding.evidence.get("threads", []):
            text.append(visible(f'  "{entry["name"]}" holds {entry["holds"]}, waits for {entry["waits_for"]} '
                                f'at {entry["waits_at"].rsplit("/", 1)[-1]}') + "\n")
    text.rstrip()
    return text


_INTERPRETER = re.compile(r"^python[\d.]*m?$|^pypy[\d.]*$")
_INTERPRETER_OPTIONS_WITH_VALUE = {"-X", "-W", "-Q"}


def short_command(cmdline: str) -> str:
    """What a narrow column should say of a command line: `/opt/app/.venv/bin/python3 -u /srv/app/worker.py
    --queue x` is `worker.py --queue x`, `python3 -m celery worker` is `-m celery worker`, `/usr/bin/gunicorn
    app:app` is `gunicorn app:app`. The whole line is the stack view's title, and / filters on it."""
    words = cmdline.split(" ")
    if not words or not words[0]:
        return cmdline
    program = PurePosixPath(words[0]).name
    if not _INTERPRETER.match(program):
        return " ".join([program, *words[1:]])
    rest = words[1:]
    while rest and rest[0].startswith("-") and rest[0] not in ("-m", "-c"):
        rest = rest[2:] if rest[0] in _INTERPRETER_OPTIONS_WITH_VALUE else rest[1:]
    if rest and rest[0] not in ("-m", "-c"):
        rest = [PurePosixPath(rest[0]).name, *rest[1:]]
    return " ".join(rest) or program


def _where(thread: ThreadRecord) -> str:
    if not thread.frames:
        return "(no Python frames)"
    frame = thread.frames[0]
    return f"{frame.function} {frame.filename.rsplit('/', 1)[-1]}:{frame.line}"


def stack_text(thread: ThreadRecord, show_locals: bool) -> Text:
    """A thread's stack, innermost first, with the source line, the locks each frame holds and (on demand) locals."""
    text = Text()
    text.append(visible(f'"{thread.name}" tid {thread.tid} — {thread_state(thread)}') + "\n", style="bold")
    for depth, frame in enumerate(thread.frames):
        text.append(f"#{depth:<2} {visible(frame.function)} ", style="bold" if depth == 0 else "")
        text.append(f"{visible(frame.filename)}:{frame.line}\n", style="dim")
        if frame.line_text:
            text.append(f"      {visible(frame.line_text)}\n", style="cyan")
        if frame.waits is not None and depth == 0:
            text.append(f"      waits for {visible(frame.waits.expr)}\n", style="red")
        for held in frame.held:
            text.append(f"      holds {visible(held.expr)} (taken at line {held.line})\n", style="yellow")
        if show_locals:
            for var in frame.locals:
                text.append(f"      {visible(var.name)} = {visible(var.repr)}\n", style="dim")
    if not thread.frames:
        text.append("no Python frames (a thread running native code only)\n", style="dim")
    return text
