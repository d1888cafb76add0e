"""The Textual app: tabs, bindings, command palette and refresh scheduling.

Collection runs in thread workers and only messages cross back to the event loop. Each source is
polled again only when its previous poll has finished (polls never overlap); the visible pane polls at
the configured interval, hidden ones several times slower, and nothing polls while paused. A poll that
raises marks only its own pane; one that hangs past the timeout is shown as stale.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import threading
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable

from rich.text import Text
from textual import events, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input, TabbedContent, TabPane
from textual.worker import Worker, WorkerState
from textual.worker_manager import WorkerManager

from tui import registry
from tui import __version__
from tui.actions import Action, ActionLog, Verified
from tui.config import Config
from tui.correlate import correlate
from tui.errorlog import log_exception, log_path
from tui.findings import Finding, by_severity
from tui.redact import redact_text
from tui.snapshot import LoadedSnapshot, build_snapshot, default_snapshot_name, write_snapshot
from tui.source import Source, SourceUnavailable
from tui.textsafe import visible
from widgets.dialogs import ConfirmScreen, TextScreen
from widgets.keyed_table import KeyedTable
from widgets.keys_footer import KeysFooter
from widgets.pane import SourcePane
from widgets.status import StatusHeader

# The pane keys are the registry's; a digit no source claims is disabled (check_action), so a source added to the
# registry gets its key with no edit here.
PANE_KEYS = "123456789"
MIN_WIDTH, MIN_HEIGHT = 80, 20
HIDDEN_START_DELAY_S = 1.5
CLOSE_WAIT_S = 0.5


class SourceUpdated(Message):
    """A poll finished: the new section and findings, or why it failed."""

    def __init__(
        self, name: str, section: Any, findings: list[Finding], error: SourceUnavailable | None, took_s: float
    ) -> None:
        super().__init__()
        self.name = name
        self.section = section
        self.findings = findings
        self.error = error
        self.took_s = took_s


@dataclass
class SourceStatus:
    polling_since: float | None = None
    last_ok: float | None = None
    error: str | None = None
    remedy: str = ""
    took_s: float = 0.0
    poll_again: bool = False  # asked to poll while a poll ran: poll once more as soon as it answers


class TshootApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "tshoot"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        *(Binding(key, f"show_pane_key('{key}')", "Show pane", show=False) for key in PANE_KEYS),
        Binding("slash", "filter", "Filter"),
        Binding("question_mark", "help", "Help"),
        Binding("p", "pause", "Pause"),
        Binding("r", "refresh_now", "Refresh now"),
        Binding("S", "snapshot", "Snapshot"),
        Binding("exclamation_mark", "problems", "Collector problems", show=False),
        Binding("g", "guide", "Guide for this finding", show=False),
        Binding("q", "quit", "Quit"),
        Binding("escape", "close_filter", "Close filter", show=False),
    ]

    def __init__(
        self,
        config: Config,
        sources: Iterable[Source] = (),
        replay: LoadedSnapshot | None = None,
        snapshot_dir: str | Path = ".",
        host: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self._workers = _ReportingWorkers(self)
        self.config = config
        self.replay = replay
        self.sources: dict[str, Source] = {} if replay else {s.name: s for s in sources}
        self.actions = ActionLog(read_only=config.read_only or replay is not None)
        self.snapshot_dir = Path(snapshot_dir)
        self.status: dict[str, SourceStatus] = {name: SourceStatus() for name in self.sources}
        self.sections: dict[str, Any] = {}
        self.findings: dict[str, list[Finding]] = {}
        self.paused = False
        self.host = replay.host if replay else (host or socket.gethostname())
        self.clock = clock  # tests freeze it so screenshots are stable
        self._pane_filters: dict[str, str] = {}
        self._warned_small = False
        self._last_findings: list[tuple] | None = None
        self._poll_timers: dict[str, Timer] = {}

    # ----- layout -----
    def compose(self) -> ComposeResult:
        yield StatusHeader(id="status")
        with TabbedContent(id="tabs", initial=registry.names()[0]):
            for spec in registry.specs():
                with TabPane(spec.title, id=spec.name):
                    yield spec.pane_class(source=self.sources.get(spec.name), id=f"pane-{spec.name}")
        yield Input(placeholder="filter (Enter to keep, Esc to clear)", id="filter")
        yield KeysFooter(id="footer")  # ctrl+p is in `?`

    def on_mount(self) -> None:
        asyncio.get_running_loop().set_default_executor(_DaemonThreads())  # where thread workers run
        self.query_one("#filter", Input).display = False
        self.call_after_refresh(lambda: self.pane(self._active()).focus())  # a digit pressed at start has moved on
        if self.replay:
            self._show_replay(self.replay)
        else:
            for name in self.sources:
                # the visible pane first; the others start a moment later so they do not slow its first paint
                self._schedule(name, 0 if name == registry.names()[0] else HIDDEN_START_DELAY_S)
            self.set_interval(1.0, self._tick)
        self._render_status()
        self._check_size()

    # ----- what panes read, and the requests they post -----
    @property
    def is_replay(self) -> bool:
        return self.replay is not None

    def pane(self, name: str) -> SourcePane:
        return self.query_one(f"#pane-{name}", SourcePane)

    def all_findings(self) -> list[Finding]:
        return by_severity(correlate([f for name in registry.names() for f in self.findings.get(name, [])], self.sections))

    def on_source_pane_jump_to(self, message: SourcePane.JumpTo) -> None:
        self.jump_to(message.pane, message.subject)

    def on_source_pane_request_action(self, message: SourcePane.RequestAction) -> None:
        self.request_action(message.action, message.run)

    def on_source_pane_poll_now(self, message: SourcePane.PollNow) -> None:
        self.poll_now(message.name)

    def on_source_pane_open_guide(self, message: SourcePane.OpenGuide) -> None:
        self.open_guide_for(message.finding)

    def open_guide_for(self, finding: Finding) -> None:
        """Show the pane that holds the guides (its spec receives every finding) with the guide for `finding`."""
        holder = next((s.name for s in registry.specs() if s.receives_findings), None)
        if holder is not None:
            self.action_show_pane(holder)
            self.pane(holder).open_guide_for(finding)

    def jump_to(self, pane: str, subject: dict[str, Any]) -> None:
        """Show `pane` with the row that `subject` names selected (a finding's evidence, a linked pid, ...)."""
        if pane not in registry.names():  # a guide file or an older snapshot may name a pane this tshoot lacks
            self.notify(visible(f"There is no {pane} pane in this tshoot"), severity="warning", markup=False)
            return
        self.action_show_pane(pane)
        if not self.pane(pane).select_subject(subject):
            described = ", ".join(f"{k}={v}" for k, v in subject.items())
            self.notify(visible(f"{registry.title(pane)}: nothing matches {described} now"), severity="warning",
                        markup=False)

    def poll_now(self, name: str) -> None:
        """Poll `name` now; if a poll is running, once more right after it (what it read may be older than the ask)."""
        status = self.status.get(name)
        if status is None:
            return
        if status.polling_since is None:
            self._start_poll(name)
        else:
            status.poll_again = True

    def request_action(self, action: Action, run: Callable[[], Verified]) -> None:
        """Confirm an action naming its target, then run it off the event loop and log the outcome."""
        if self.actions.read_only:
            why = "a replay" if self.is_replay else "--read-only"
            self.actions.record(action, "refused", f"refused: {why}")
            self.notify(visible(f"Refused in {why}: {action.verb} {action.target}"), severity="error", markup=False)
            return

        def answered(yes: bool | None) -> None:
            if not yes:
                self.actions.record(action, "cancelled")
                return
            self._perform(action, run)

        self.push_screen(ConfirmScreen(action.verb, action.target), answered)

    @work(thread=True, exit_on_error=False, group="actions")
    def _perform(self, action: Action, run: Callable[[], Verified]) -> None:
        entry = self.actions.perform(action, run)
        severity = {"done": "information", "no effect": "warning"}.get(entry.outcome, "error")
        self.call_from_thread(self.notify, visible(f"{action.verb}: {entry.outcome} — {entry.message}"),
                              severity=severity, markup=False)
        self.call_from_thread(self.poll_now, action.source)

    # ----- polling -----
    def _schedule(self, name: str, delay: float) -> None:
        """One pending timer per source: a new schedule replaces the old one, so polls never multiply."""
        if (pending := self._poll_timers.pop(name, None)) is not None:
            pending.stop()
        self._poll_timers[name] = self.set_timer(max(delay, 0.01), partial(self._start_poll, name), name=f"poll-{name}")

    def _start_poll(self, name: str) -> None:
        if (pending := self._poll_timers.pop(name, None)) is not None:
            pending.stop()  # polled early (poll_now): the scheduled poll is no longer wanted
        status = self.status[name]
        if status.polling_since is not None:
            return  # the previous poll is still running: never overlap
        if self.paused or len(self.screen_stack) > 1:
            self._schedule(name, self.config.interval)  # nobody is looking: check again later
            return
        status.polling_since = time.monotonic()
        self.run_worker(partial(self._poll_blocking, name), thread=True, group=f"poll-{name}", exit_on_error=False)

    def _poll_blocking(self, name: str) -> None:
        source = self.sources[name]
        started = time.monotonic()
        section, findings, error = None, [], None
        try:
            section = source.collect()
            findings = source.analyze(section)
        except SourceUnavailable as exc:
            error = exc
        except Exception as exc:  # a collector bug marks its own pane, nothing else
            logged = log_exception(f"the {name} collector", exc)
            error = SourceUnavailable(f"collector failed: {type(exc).__name__}: {exc}",
                                      f"this is a tshoot bug; please report it with the traceback in {logged}")
        self.post_message(SourceUpdated(name, section, findings, error, time.monotonic() - started))

    def on_source_updated(self, message: SourceUpdated) -> None:
        status = self.status.setdefault(message.name, SourceStatus())
        status.polling_since = None
        status.took_s = message.took_s
        try:
            self._deliver(message.name, message.section, message.findings, message.error)
        except NoMatches:  # a poll that finished while the app was taking its screen down (quitting)
            return
        if message.name in self.sources:  # live sources poll again; a replay or a fed section does not
            again, status.poll_again = status.poll_again, False
            self._schedule(message.name, 0 if again else self._interval_for(message.name))

    def _deliver(self, name: str, section: Any, findings: list[Finding], error: SourceUnavailable | None) -> None:
        status = self.status.setdefault(name, SourceStatus())
        pane = self.pane(name)
        if error is not None:
            status.error, status.remedy = (None, "") if error.idle else (error.reason, error.remedy)
            pane.problem = (error.reason, error.remedy)
        else:
            status.error, status.remedy = None, ""
            status.last_ok = self.clock()
            self.sections[name] = section
            self.findings[name] = findings
            pane.findings = findings  # before the section: a pane draws its rows with their findings
            pane.section = section
            measured = {source: s.last_ok for source, s in self.status.items()}
            for spec in registry.specs():
                if spec.receives_findings:  # its durations say when they were measured
                    self.pane(spec.name).measured_at = measured
        self._findings_changed()
        self._render_status()

    def _findings_changed(self) -> None:
        """Hand every finding to the panes whose spec receives them, only when something about them changed."""
        findings = self.all_findings()
        fingerprint = [(f.key, f.severity, f.title) for f in findings]
        if fingerprint == self._last_findings:
            return
        self._last_findings = fingerprint
        for spec in registry.specs():
            if spec.receives_findings:
                self.pane(spec.name).findings = findings
            else:
                self.pane(spec.name).elsewhere = [f for f in findings if f.source != spec.name]

    def _interval_for(self, name: str) -> float:
        visible = self.query_one(TabbedContent).active == name
        return self.config.interval * (1 if visible else self.config.hidden_interval_factor)

    def _tick(self) -> None:
        """Every second: mark sources that stopped answering, and repaint the header's clock and ages."""
        try:
            self._watch_hung_polls()
            self._render_status()
            self.pane(self._active()).tick(self.clock())
        except NoMatches:  # the timer fired while the app was taking its screen down (quitting): nothing to paint
            return

    def _hung_after(self, name: str) -> float:
        """A poll running this long has stopped answering: two of its intervals (or twice its usual time, for
        a source that is slow by nature), never more than the collector timeout."""
        status = self.status[name]
        return min(self.config.collector_timeout, max(2 * self._interval_for(name), 2 * status.took_s))

    def _watch_hung_polls(self) -> None:
        now = time.monotonic()
        for name, status in self.status.items():
            if status.polling_since is None or now - status.polling_since <= self._hung_after(name):
                continue
            error = f"stale: collector has not answered for {now - status.polling_since:.0f}s"
            if error != status.error:  # the count goes on, so the pane and `!` say how long
                status.error = error
                status.remedy = "the source is slow or hung; its last data stays on screen"
                self.pane(name).problem = (status.error, status.remedy)

    # ----- header -----
    def _render_status(self) -> None:
        """The header, computed from timestamps now: uptime runs on, and numbers older than two intervals
        say how old they are (a hidden Processes pane polls 15x less often; nothing polls while paused)."""
        section = self.sections.get(registry.PROCESSES)  # the header's load and memory are its system summary
        system = getattr(section, "system", None)
        problems = {name: s.error for name, s in self.status.items() if s.error}
        active = self.status.get(self._active()) or self.status.get(registry.PROCESSES)
        refreshed = active.last_ok if active else None
        now = self.replay.taken_epoch if self.replay else self.clock()
        numbers_at = getattr(section, "taken_at", None) if section is not None else None
        mode = ""
        if self.replay:
            mode = f"REPLAY {self.replay.taken_at}"
        elif self.paused:
            mode = "PAUSED"
        elif self.config.read_only:
            mode = "READ-ONLY"
        self.query_one(StatusHeader).show(
            host=self.host,
            uptime_s=system.uptime_s + max(0.0, now - numbers_at) if system and numbers_at else None,
            load=system.load if system else None,
            cores=system.cores if system else None,
            cpu_percent=system.cpu_percent if system else None,
            mem_percent=system.mem_percent if system else None,
            mem_used=(system.mem_total - system.mem_available) if system else None,
            mem_total=system.mem_total if system else None,
            refreshed_at=self.replay.taken_epoch if self.replay else refreshed,
            problems=problems,
            mode=mode,
            now=now,
            numbers_at=numbers_at,
            stale_after_s=2 * self.config.interval,
        )

    # ----- replay -----
    def _show_replay(self, replay: LoadedSnapshot) -> None:
        names = registry.names()
        for name, (section, error) in replay.sections.items():
            if name not in names:
                continue
            self.status.setdefault(name, SourceStatus())
            findings = [f for f in replay.findings if f.source == name]
            self._deliver(name, section, findings, SourceUnavailable(error) if error else None)
        extra = [f for f in replay.findings if f.source not in replay.sections]  # the guides' own findings
        for spec in registry.specs():
            if spec.receives_findings:
                self.findings[spec.name] = extra
                self.pane(spec.name).load_notes(replay.notes)
        self._findings_changed()

    # ----- actions bound to keys -----
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A digit key works only when a registered source claims it."""
        if action == "show_pane_key":
            return any(spec.key == parameters[0] for spec in registry.specs())
        return True

    def action_show_pane_key(self, key: str) -> None:
        self.action_show_pane(next(spec.name for spec in registry.specs() if spec.key == key))

    def action_show_pane(self, name: str) -> None:
        tabs = self.query_one(TabbedContent)
        self.screen.set_focus(None)  # focus left in the old pane would pull its tab back to the front
        tabs.active = name
        self.pane(name).focus()  # TabActivated then polls it, so it does not wait for its hidden-pane timer

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        name = event.pane.id or ""
        self._sync_filter_box(name)
        if name in self.sources:
            self.poll_now(name)

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.value = self._pane_filters.get(self._active(), "")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            name = self._active()
            self._pane_filters[name] = event.value
            self.pane(name).row_filter = event.value

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self._hide_filter_box()

    def action_close_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.display:
            box.value = ""
            self._hide_filter_box()

    def _hide_filter_box(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = bool(box.value)
        self.pane(self._active()).focus()

    def _sync_filter_box(self, name: str) -> None:
        box = self.query_one("#filter", Input)
        text = self._pane_filters.get(name, "")
        box.display = bool(text)
        if box.value != text:
            with box.prevent(Input.Changed):
                box.value = text

    def _active(self) -> str:
        return self.query_one(TabbedContent).active or registry.names()[0]

    def action_guide(self) -> None:
        """Open the guide of the finding about the selected row (else the pane's most severe finding)."""
        name = self._active()
        if registry.spec(name).receives_findings:
            return  # the pane that holds the guides binds its own `g`
        findings = self.findings.get(name, [])
        if not findings:
            self.notify(f"{registry.title(name)}: no findings here to guide you through")
            return
        selected = self.pane(name).selected_subject() or {}
        about = [f for f in findings if selected and all(f.subject.get(k) == v for k, v in selected.items())]
        self.open_guide_for(by_severity(about or findings)[0])

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.notify("Paused: nothing refreshes until you press p again" if self.paused else "Resumed")
        self._render_status()

    def action_refresh_now(self) -> None:
        self.poll_now(self._active())

    def action_help(self) -> None:
        self.push_screen(TextScreen("tshoot help", help_text(self)))

    def action_problems(self) -> None:
        lines = []
        for name, status in self.status.items():
            if status.error:  # the error quotes the host (a driver's or engine's message): literal, never markup
                lines.append(Text.assemble((registry.title(name), "bold"), ": ", visible(status.error, multiline=True)))
                if status.remedy:
                    lines.append(Text(f"  what to do: {visible(status.remedy, multiline=True)}"))
        lines = lines or [Text("Every collector is healthy.")]
        lines += [Text(""), Text(f"tshoot's own errors (bugs) are logged with their traceback in {visible(str(log_path()))}")]
        self.push_screen(TextScreen("Collector problems", Text("\n").join(lines)))

    def action_snapshot(self) -> None:
        path = self.snapshot_dir / default_snapshot_name(self.host)
        self._write_snapshot(path)

    @work(thread=True, exit_on_error=False, group="snapshot")
    def _write_snapshot(self, path: Path) -> None:
        sections = {name: self.sections.get(name) for name in self.sources or self.sections}
        errors = {name: (s.error, s.remedy) for name, s in self.status.items() if s.error}
        notes = next((n for spec in registry.specs() if (n := self.pane(spec.name).notes_json()) is not None), None)
        try:
            doc = build_snapshot(
                host=self.host,
                sections=sections,
                errors=errors,
                findings=self.all_findings(),
                actions=self.actions.entries,
                notes=notes,
                keep_locals=self.config.snapshot_locals,
            )
            write_snapshot(doc, path, "json")
        except OSError as exc:
            self.call_from_thread(self.notify, visible(f"Snapshot not written: {path}: {exc.strerror or exc}"),
                                  severity="error", markup=False)
            return
        self.call_from_thread(self.notify, visible(f"Snapshot written to {path.resolve()}"), markup=False)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for spec in registry.specs():
            yield SystemCommand(f"Show {spec.title}", f"Switch to the {spec.title} pane ({spec.key})",
                                partial(self.action_show_pane, spec.name))
        yield SystemCommand("Snapshot", "Write the whole state to a JSON file (S)", self.action_snapshot)
        yield SystemCommand("Pause / resume", "Stop or restart live refresh (p)", self.action_pause)
        yield SystemCommand("Refresh now", "Poll the visible pane now (r)", self.action_refresh_now)
        yield SystemCommand("Filter", "Filter the rows of the visible pane (/)", self.action_filter)
        yield SystemCommand("Collector problems", "Why a pane is failing or stale (!)", self.action_problems)
        yield SystemCommand("Help", "Every key binding (?)", self.action_help)
        yield SystemCommand("Quit", "Leave tshoot (q)", self.exit)

    # ----- terminal size -----
    def on_resize(self, event: events.Resize) -> None:
        self._check_size(event.size)  # `self.size` is still the old size while this handler runs

    def _check_size(self, size: tuple[int, int] | None = None) -> None:
        """Warn once each time the terminal becomes too small, not on every resize event."""
        width, height = size or self.size
        self.set_class(height < MIN_HEIGHT, "-short")  # app.tcss keeps the rows and drops the rest
        too_small = width < MIN_WIDTH or height < MIN_HEIGHT
        if too_small and not self._warned_small:
            self.notify(
                f"Terminal is {width}x{height}; tshoot needs at least {MIN_WIDTH}x{MIN_HEIGHT} to show every column.",
                severity="warning",
                timeout=5,
            )
        self._warned_small = too_small

    # ----- tshoot's own errors -----
    def report_bug(self, where: str, error: Exception) -> None:
        """An unexpected exception that did not stop the app: log it with its traceback and say where."""
        logged = log_exception(where, error)
        self.notify(visible(redact_text(f"tshoot bug in {where}: {type(error).__name__}: {error}"))
                    + f"\nThe traceback is in {logged}; please report it.", severity="error", timeout=15, markup=False)

    def _fatal_error(self) -> None:
        """An unhandled exception ends the app (exit code 1). Textual would print its traceback with every
        frame's local variables (passwords, tokens, hostile text): print one redacted line and the log's path
        instead, and keep the traceback in the log."""
        error = self._exception
        logged = log_exception("the terminal UI", error) if error is not None else str(log_path())
        self.bell()
        message = visible(redact_text(f"tshoot stopped on an unexpected error (a tshoot bug): "
                                      f"{type(error).__name__}: {error}"))
        self._exit_renderables.append(Text(f"{message}\nThe traceback is in {logged}; please report it."))
        self._close_messages_no_wait()

    def on_unmount(self) -> None:
        """Close every source, but give up after CLOSE_WAIT_S: closing must never keep tshoot from quitting."""

        def close_all() -> None:
            for source in self.sources.values():
                try:
                    source.close()
                except Exception:  # a source that cannot close cleanly is left to the process's exit
                    pass

        closing = threading.Thread(target=close_all, name="tshoot-close", daemon=True)
        closing.start()
        closing.join(CLOSE_WAIT_S)


class _DaemonThreads(concurrent.futures.ThreadPoolExecutor):
    """Runs each thread worker in a daemon thread of its own and never waits for one: a collector blocked in
    a system call (py-spy on a stuck process, a hung NFS read, a database) must not keep `q` from quitting.
    Polls never overlap, so there are about as many threads as sources and open dialogs. (A ThreadPoolExecutor
    only because asyncio accepts nothing else as the default executor; none of its pool is used.)"""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # handed to the worker, which reports it
                future.set_exception(exc)
            else:
                future.set_result(result)

        threading.Thread(target=run, name="tshoot-worker", daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Nothing to wait for: a worker still running when tshoot quits ends with the process."""


class _ReportingWorkers(WorkerManager):
    """Workers that must not stop the app (exit_on_error=False) still must not fail silently: a worker that
    raised is a tshoot bug, logged with its traceback and shown with the log's path."""

    def _remove_worker(self, worker: Worker) -> None:
        super()._remove_worker(worker)
        if worker.state == WorkerState.ERROR and not worker.exit_on_error and isinstance(worker.error, Exception):
            self._app.report_bug(f"{worker.name or worker.group} (a background task)", worker.error)


def help_text(app: "TshootApp") -> Text:
    """Every binding: panes, the visible pane's own keys, the focused widget's extra keys, then the global ones."""
    pane = app.pane(app._active())
    focused = app.focused
    lines = ["  " + "  ".join(f"{spec.key}={spec.title}" for spec in registry.specs()), ""]
    titles = {pane: f"{registry.title(pane.source_name)} pane", app: "Everywhere"}
    if focused is not None and focused is not pane and not isinstance(focused, KeyedTable):
        titles[focused] = "Focused widget"
    groups: dict[str, dict[str, str]] = {title: {} for title in titles.values()}
    # The pane's own keys, including the ones its focused table answers first (Enter opens the row either way).
    for binding in Binding.make_bindings(type(pane).BINDINGS):
        if binding.description and pane.check_action(binding.action, ()) is not False:
            groups[titles[pane]].setdefault(app.get_key_display(binding), binding.tooltip or binding.description)
    # Screen.active_bindings resolves the focus chain: a pane's own key hides the global one bound to the same key.
    for active in app.screen.active_bindings.values():
        title, binding = titles.get(active.node), active.binding
        if title is None or active.node is pane or not binding.description or binding.action.startswith("show_pane_key"):
            continue  # tables' cursor keys are summed up below; the pane keys are the first line
        groups[title].setdefault(app.get_key_display(binding), binding.tooltip or binding.description)
    for title in (titles[pane], "Focused widget", "Everywhere"):
        if groups.get(title):
            lines.append(Text(title, style="bold"))
            lines += [f"  {k:>12}  {d}" for k, d in groups[title].items()]
            lines.append("")
    lines += [
        "  arrows / PgUp / PgDn / Home / End move in tables; Tab moves between widgets; ctrl+p opens the command palette",
        "",
        Text.assemble(("Refresh", "bold"), f" every {app.config.interval:g}s (hidden panes "
                      f"x{app.config.hidden_interval_factor:g}); config: {visible(app.config.source_file or 'defaults')}; "
                      f"read-only: {'yes' if app.actions.read_only else 'no'}"),
        f"tshoot {__version__}",
    ]
    return Text("\n").join(Text(line) if isinstance(line, str) else line for line in lines)
