"""The Containers pane: every container in one table, and the "why did it die?" card for the selected one.

Engine events make the pane ask for an early poll, so a state change shows within a second instead of
at the next refresh tick. Logs and the container's processes open in their own screens.
"""

from __future__ import annotations

import shlex
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, RichLog, Sparkline, Static

from tui import registry
from tui.actions import Action
from tui.containers.analysis import crash_loop_reason, suggested_fix
from tui.containers.exitcodes import explain_exit
from tui.containers.inventory import engine_time
from tui.containers.records import ContainerProcess, ContainerRecord, ContainersSection, LogLine
from tui.containers.source import ContainersSource
from tui.findings import SEVERITY_RANK, Finding
from tui.textsafe import literal, visible
from tui.wording import count, human_duration
from widgets.column_fit import drop_to_fit
from widgets.keyed_table import KeyedTable
from widgets.pane import SourcePane
from widgets.status import human_bytes

COLUMNS = [
    ("flag", "!"),
    ("name", "NAME"),
    ("image", "IMAGE"),
    ("state", "STATE"),
    ("health", "HEALTH"),
    ("restarts", "RST"),
    ("exit", "EXIT"),
    ("oom", "OOM"),
    ("since", "SINCE"),
    ("cpu", " CPU%"),
    ("memory", "MEM USED/LIMIT"),
    ("ports", "PORTS"),
]
# In a narrow terminal these go first, in this order: what a container is doing and why it died stay.
DROP_ORDER = ["ports", "image", "since", "cpu"]
USUAL_WIDTH = {"flag": 1, "name": 16, "image": 14, "state": 8, "health": 9, "restarts": 3, "exit": 4, "oom": 3,
               "since": 6, "cpu": 5, "memory": 14, "ports": 12}
FLAG_FOR_FINDING = {"crash-loop": "L", "oom-killed": "O", "health-failing": "H", "exited-error": "E", "memory-near-limit": "M"}
STATE_ORDER = {"restarting": 0, "running": 1, "paused": 2, "created": 3, "exited": 4, "dead": 5}
LOG_TAIL = 500
FOLLOW_EVERY_S = 1.0


class ContainersPane(SourcePane):
    source_name = registry.CONTAINERS

    DEFAULT_CSS = """
    ContainersPane #ct-table { height: 1fr; }
    ContainersPane #ct-card { height: 1fr; border: round $primary 40%; padding: 0 1; }
    ContainersPane #ct-memory { height: 2; margin: 0; }
    LogsScreen #logs-view { height: 1fr; }
    """

    BINDINGS = [
        Binding("l", "logs", "Logs", tooltip="Logs (tail, follow, search)"),
        Binding("o", "processes", "Processes", tooltip="Processes in the container"),
        Binding("u", "container('start')", "Start", tooltip="Start container (up)"),
        Binding("k", "container('stop')", "Stop", tooltip="Stop container"),
        Binding("R", "container('restart')", "Restart", tooltip="Restart container"),
    ]

    class EngineChanged(Message):
        """Posted from the event watcher's thread: the engine reported a change."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.filter_text = ""
        self._poll_again = False

    def compose(self) -> ComposeResult:
        yield Static(id="ct-banner", classes="banner")
        yield KeyedTable(COLUMNS, id="ct-table")
        with VerticalScroll(id="ct-card"):
            yield Static("Select a container to see why it stopped, its health checks and last log lines.", id="ct-why")
            yield Static(id="ct-memory-title")
            yield Sparkline([], id="ct-memory", classes="spark")
            yield Static(id="ct-more")

    def on_mount(self) -> None:
        self.query_one("#ct-banner").display = False
        source = self.source
        if source is not None:
            source.set_change_listener(lambda: self.post_message(self.EngineChanged()))

    def on_unmount(self) -> None:
        source = self.source
        if source is not None:
            source.set_change_listener(None)

    def focus(self, scroll_visible: bool = True) -> "ContainersPane":
        self.query_one("#ct-table", KeyedTable).focus(scroll_visible)
        return self

    def on_resize(self) -> None:
        self._fit_columns()

    def _fit_columns(self) -> None:
        drop_to_fit(self.query_one("#ct-table", KeyedTable), [key for key, _ in COLUMNS], USUAL_WIDTH, DROP_ORDER, 0)

    # ----- SourcePane contract -----
    def show_section(self, section: ContainersSection) -> None:
        banner = self.query_one("#ct-banner", Static)
        banner.display = not section.watching_events
        if not section.watching_events:
            banner.update("Engine event stream down: changes show at each re-sync instead of at once.")
        self._render_rows()
        self._fit_columns()
        self._render_card()
        if self._poll_again:  # events arrived while that poll ran
            self._poll_again = False
            self.poll_now()

    def show_unavailable(self, reason: str, remedy: str = "") -> None:
        banner = self.query_one("#ct-banner", Static)
        banner.display = True
        banner.update(literal(f"Containers: {reason}" + (f"\nWhat to do: {remedy}" if remedy else ""), multiline=True))

    def select_subject(self, subject: dict[str, Any]) -> bool:
        record = self._find(subject)
        if record is None:
            return False
        if self.filter_text and record not in self._visible():
            self.filter_text = ""  # a jump must land even when a filter would hide the row
            self._render_rows()
        table = self.query_one("#ct-table", KeyedTable)
        found = table.move_to_key(record.id, scroll=True)
        if found:
            table.focus()
            self._render_card()
        return found

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip().lower()
        self._render_rows()

    # ----- live updates -----
    def on_containers_pane_engine_changed(self, message: EngineChanged) -> None:
        message.stop()
        status = getattr(self.app, "status", {}).get(self.source_name)
        if status is not None and status.polling_since is not None:
            self._poll_again = True
        self.poll_now()

    def on_keyed_table_row_highlighted(self, event: KeyedTable.RowHighlighted) -> None:
        self._render_card()

    # ----- rendering -----
    def _now(self) -> float:
        """Ages ("exited 2h46m ago") are worked out from their timestamps now, not at the last poll (a hidden
        pane polls every 30 s); a replay shows them as they were when the snapshot was taken."""
        return self.section.taken_at if self.app.is_replay or self.section is None else self.app.clock()

    def tick(self, now: float) -> None:
        if self.section is not None and not self.app.is_replay:
            self._render_rows()
            self._render_card()

    def _visible(self) -> list[ContainerRecord]:
        records = self.section.containers if self.section else []
        if self.filter_text:
            records = [r for r in records if self.filter_text in f"{r.name} {r.image} {r.state} {r.health or ''}".lower()]
        return sorted(records, key=lambda r: (-self._worst(r), STATE_ORDER.get(r.state, 9), r.name))

    def _render_rows(self) -> None:
        if self.section is None:
            return
        flags = self._flags()
        visible = self._visible()
        table = self.query_one("#ct-table", KeyedTable)
        table.sync([(r.id, row_cells(r, flags.get(r.id, ""), self._now())) for r in visible])
        total = len(self.section.containers)
        running = sum(r.state == "running" for r in self.section.containers)
        shown = f", filter '{self.filter_text}' ({len(visible)}/{total})" if self.filter_text else ""
        table.border_title = literal(f"{count(total, 'container')}, {running} running — engine "
                                     f"{self.section.engine_version}{shown}")

    def _render_card(self) -> None:
        record = self._selected()
        if record is None or self.section is None:
            return
        findings = [f for f in self._findings() if f.subject.get("id") == record.id[:12]]
        self.query_one("#ct-why", Static).update(why_card(record, findings, self._now()))
        history = [sample.used_bytes for sample in record.memory_history]
        spark = self.query_one("#ct-memory", Sparkline)
        spark.display = bool(history)
        spark.data = history
        self.query_one("#ct-memory-title", Static).update(memory_line(record))
        self.query_one("#ct-more", Static).update(details_text(record))

    def _findings(self) -> list[Finding]:
        return self.findings

    def _flags(self) -> dict[str, str]:
        flags: dict[str, str] = {}
        ids = {r.id[:12]: r.id for r in self.section.containers} if self.section else {}
        for finding in self._findings():
            full = ids.get(finding.subject.get("id", ""))
            if full and finding.id in FLAG_FOR_FINDING:
                flags[full] = flags.get(full, "") + FLAG_FOR_FINDING[finding.id]
        return flags

    def _worst(self, record: ContainerRecord) -> int:
        ranks = [SEVERITY_RANK[f.severity] + 1 for f in self._findings() if f.subject.get("id") == record.id[:12]]
        return max(ranks, default=0)

    def _selected(self) -> ContainerRecord | None:
        key = self.query_one("#ct-table", KeyedTable).selected_key
        records = self.section.containers if self.section else []
        return next((r for r in records if r.id == key), None)

    def _find(self, subject: dict[str, Any]) -> ContainerRecord | None:
        records = self.section.containers if self.section else []
        name, cid = subject.get("name"), str(subject.get("id") or "")
        return next((r for r in records if (cid and r.id.startswith(cid)) or (name and r.name == name)), None)

    # ----- key actions -----
    def action_logs(self) -> None:
        record = self._selected()
        if record is not None:
            self.app.push_screen(LogsScreen(record, self.source))

    def action_processes(self) -> None:
        record = self._selected()
        if record is None:
            return
        if self.source is None:
            self.app.notify("A replay has no live processes; the main process was pid "
                            f"{record.host_pid or '-'} on the host", severity="warning")
            return
        self._load_processes(record)

    @work(thread=True, exit_on_error=False, group="ct-processes")
    def _load_processes(self, record: ContainerRecord) -> None:
        try:
            processes = self.source.processes(record.id)
        except Exception as exc:  # stopped, removed, or the engine went away: say so, keep the pane
            self.app.call_from_thread(self.app.notify, visible(f"{record.name}: no processes ({exc})"), severity="warning",
                                      markup=False)
            return
        self.app.call_from_thread(self.app.push_screen, ProcessesScreen(record, processes))

    def action_container(self, verb: str) -> None:
        record = self._selected()
        if record is None:
            return
        action = Action(
            verb=verb,
            source=self.source_name,
            target=f"container {record.name} ({record.id[:12]}, image {record.image}, now {record.state})",
            subject=record.subject,
        )
        self.post_message(self.RequestAction(action, lambda: self.source.run_action(record.id, verb)))


def row_cells(r: ContainerRecord, flag: str, now: float) -> tuple:
    since = r.started_at if r.state in ("running", "restarting", "paused") else r.finished_at
    memory = "-"
    if r.memory_used_bytes is not None:
        memory = human_bytes(r.memory_used_bytes)
        if r.memory_limit_bytes:
            memory += f"/{human_bytes(r.memory_limit_bytes)} {r.memory_percent:3.0f}%"
    return (
        flag,
        r.name,
        r.image[:30],
        r.state,
        r.health or "-",
        f"{r.restart_count:3d}",
        "-" if r.state == "running" else f"{r.exit_code:4d}",
        "OOM" if r.oom_killed else "",
        age(since, now),
        "-" if r.cpu_percent is None else f"{r.cpu_percent:5.1f}",
        memory,
        ", ".join(r.ports)[:40],
    )


def age(iso: str | None, now: float) -> str:
    """How long ago an engine timestamp was, e.g. "3m05s"; "-" for never."""
    at = engine_time(iso)
    return "-" if at is None else human_duration(now - at)


def ago(iso: str | None, now: float) -> str:
    return "never" if not iso else f"{age(iso, now)} ago"


def why_card(r: ContainerRecord, findings: list[Finding], now: float) -> Text:
    """Everything that explains a dead or sick container, most telling first."""
    text = Text()
    text.append(visible(r.name), style="bold")
    text.append(f"  {visible(r.id[:12])}  image {visible(r.image)}  ", style="dim")
    text.append(visible(r.state + (f" ({r.health})" if r.health else "")), style="bold red" if findings else "bold green")
    text.append("\n")
    for finding in findings:
        text.append(f"{finding.severity.upper()} ", style="bold red" if finding.severity == "critical" else "bold yellow")
        text.append(f"{visible(finding.title)}\n")
    if r.state != "running" or r.exit_code or r.oom_killed:
        meaning = explain_exit(r.exit_code, r.oom_killed)
        text.append("Exit code ", style="bold")
        text.append(f"{r.exit_code}: {meaning.summary}\n")
    if r.error:
        text.append("Engine error: ", style="bold")
        text.append(f"{visible(r.error, multiline=True)}\n")
    policy = f"{r.restart_policy}:{r.restart_max_retries}" if r.restart_max_retries else r.restart_policy
    text.append("Restarts ", style="bold")
    text.append(visible(f"{r.restart_count} under policy {policy}"))
    loop = crash_loop_reason(r, now)
    text.append(f" — crash loop: {visible(loop)}\n" if loop else "\n", style="red" if loop else "")
    text.append("Started ", style="bold")
    text.append(f"{visible(ago(r.started_at, now))}   ")
    text.append("finished ", style="bold")
    text.append(f"{visible(ago(r.finished_at, now))}\n")
    text.append("Command ", style="bold")
    text.append(f"{visible(shlex.join(r.command)) or '-'}   ")  # quoted as a shell needs it: `sh -c 'echo boom >&2'`
    text.append("entrypoint ", style="bold")
    text.append(f"{visible(shlex.join(r.entrypoint)) or '-'}\n")
    if r.health_log:
        text.append(f"Health checks ({count(r.health_failing_streak, 'failure')} in a row):\n", style="bold")
        for run in r.health_log:
            style = "green" if run.exit_code == 0 else "red"
            text.append(visible(f"  {run.started[11:19]} exit {run.exit_code}  "), style=style)
            text.append(f"{visible(run.output.splitlines()[-1]) if run.output else '(no output)'}\n")
    if r.last_logs:
        text.append("Last log lines (E = stderr):\n", style="bold")
        for line in r.last_logs[-10:]:
            text.append_text(log_text(line))
            text.append("\n")
    text.append("Suggested fix: ", style="bold")
    text.append(visible(suggested_fix(r), multiline=True))
    return text


def memory_line(r: ContainerRecord) -> Text:
    if not r.memory_history:
        return Text("Memory: not sampled (not running)", style="dim")
    values = [s.used_bytes for s in r.memory_history]
    limit = f" of {human_bytes(r.memory_limit_bytes)} limit ({r.memory_percent:.0f}%)" if r.memory_percent is not None else ", no limit"
    span = r.memory_history[-1].at - r.memory_history[0].at
    return Text(f"Memory over the last {human_duration(span)}: now {human_bytes(values[-1])}{limit}, "
                f"min {human_bytes(min(values))}, max {human_bytes(max(values))}", style="bold")


def details_text(r: ContainerRecord) -> Text:
    text = Text()
    text.append("Ports ", style="bold")
    text.append(visible(", ".join(r.ports)) or "none")
    text.append(f"   host pid {r.host_pid or '-'}\n")
    text.append("Environment (secrets masked):", style="bold")
    text.append("\n" if r.env else " none\n")
    for key, value in sorted(r.env.items()):
        text.append(f"  {visible(key)}=", style="dim")
        text.append(f"{visible(value)}\n")
    return text


def log_text(line: LogLine) -> Text:
    text = Text()
    text.append(f"{visible(line.timestamp[:23].replace('T', ' ')) or '-':23} ", style="dim")
    if line.stream == "stderr":
        text.append("E ", style="bold red")
        text.append(visible(line.text), style="red")
    else:
        text.append("  ")
        text.append(visible(line.text))
    return text


class LogsScreen(ModalScreen[None]):
    """The container's log: tail, follow (f), search (/), stdout and stderr told apart (E = stderr)."""

    BINDINGS = [
        Binding("escape,q", "close", "Close"),
        Binding("f", "follow", "Follow on/off"),
        Binding("slash", "search", "Search"),
    ]

    def __init__(self, record: ContainerRecord, source: ContainersSource | None) -> None:
        super().__init__()
        self.record = record
        self.source = source  # None in a replay: the logs the snapshot kept, nothing to follow
        self.live = source is not None
        self.lines: list[LogLine] = list(record.last_logs)
        self.needle = ""
        self.following = self.live

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(id="logs-title")
            yield Input(placeholder="search (Enter keeps it, Esc closes the log)", id="logs-search")
            yield RichLog(id="logs-view", wrap=False, markup=False, max_lines=LOG_TAIL * 4)

    def on_mount(self) -> None:
        self.query_one("#logs-search").display = False
        self._redraw()
        if self.live:
            self._fetch(None)
            self.set_interval(FOLLOW_EVERY_S, self._follow_tick)
        self.query_one("#logs-view").focus()

    def _title(self) -> Text:
        mode = "following" if self.following else ("paused (f follows)" if self.live else "from the snapshot")
        found = f", search '{self.needle}'" if self.needle else ""
        return Text.assemble((f"logs of {visible(self.record.name)}", "bold"),
                             visible(f"  {count(len(self.lines), 'line')}, {mode}{found}  "),
                             ("(Esc closes, / searches)", "dim"))

    def _redraw(self) -> None:
        view = self.query_one("#logs-view", RichLog)
        view.clear()
        for line in self.lines:
            if self.needle in line.text.lower():
                view.write(self._highlighted(line))
        self.query_one("#logs-title", Static).update(self._title())

    def _highlighted(self, line: LogLine) -> Text:
        text = log_text(line)
        if self.needle:
            text.highlight_words([self.needle], style="reverse", case_sensitive=False)
        return text

    def _follow_tick(self) -> None:
        if self.following:
            last = next((line.timestamp for line in reversed(self.lines) if line.timestamp), None)
            self._fetch(last)

    @work(thread=True, exclusive=True, exit_on_error=False, group="ct-logs")
    def _fetch(self, after: str | None) -> None:
        source = self.source
        if source is None:
            return
        since = engine_time(after)
        try:
            fresh = source.logs(self.record.id, tail=LOG_TAIL, since=since)
        except Exception as exc:  # removed, or the engine went away: stop following, keep what we have
            self.app.call_from_thread(self._stop_following, str(exc))
            return
        self.app.call_from_thread(self._append, [line for line in fresh if not after or line.timestamp > after], after is None)

    def _append(self, fresh: list[LogLine], replace: bool) -> None:
        if replace:
            self.lines = fresh
            self._redraw()
            return
        self.lines = (self.lines + fresh)[-LOG_TAIL * 4:]
        view = self.query_one("#logs-view", RichLog)
        for line in fresh:
            if self.needle in line.text.lower():
                view.write(self._highlighted(line))
        self.query_one("#logs-title", Static).update(self._title())

    def _stop_following(self, why: str) -> None:
        self.following = False
        self.query_one("#logs-title", Static).update(self._title() + Text(f"\nstopped following: {visible(why)}", "red"))

    def action_follow(self) -> None:
        self.following = self.live and not self.following
        self.query_one("#logs-title", Static).update(self._title())

    def action_search(self) -> None:
        box = self.query_one("#logs-search", Input)
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.needle = event.value.strip().lower()
        self._redraw()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#logs-view").focus()

    def action_close(self) -> None:
        self.dismiss(None)


class ProcessesScreen(ModalScreen[None]):
    """The container's processes by host pid; Enter shows one in Processes, t its Python threads."""

    BINDINGS = [
        Binding("escape,q", "close", "Close"),
        Binding("o", "jump('processes')", "Show in Processes (or Enter)"),
        Binding("t", "jump('threads')", "Show Python threads"),
    ]

    def __init__(self, record: ContainerRecord, processes: list[ContainerProcess]) -> None:
        super().__init__()
        self.record = record
        self.processes = processes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(Text.assemble((f"processes of {visible(self.record.name)}", "bold"), " (host pids)  ",
                                       ("Enter or o: Processes pane, t: Threads pane, Esc closes", "dim")))
            yield DataTable(id="ct-processes", cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one("#ct-processes", DataTable)
        table.add_columns("HOST PID", "PPID", "USER", "PY", "COMMAND")
        for process in self.processes:
            table.add_row(str(process.host_pid), str(process.ppid), literal(process.user),
                          "py" if process.looks_like_python else "", literal(process.command), key=str(process.host_pid))
        table.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row: the table consumes the key, so the jump answers its RowSelected."""
        event.stop()
        self.action_jump(registry.PROCESSES)

    def action_jump(self, pane: str) -> None:
        table = self.query_one("#ct-processes", DataTable)
        if not table.row_count:
            return
        pid = int(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        self.dismiss(None)
        self.app.post_message(SourcePane.JumpTo(pane, {"pid": pid}))

    def action_close(self) -> None:
        self.dismiss(None)
