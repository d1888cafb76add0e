"""The Logs pane on a real LogsSource following a real file this test appends to (follow, pause, filters, clusters,
the jump to Processes, hostile text), and on the sample records (selection by a finding's subject, snapshot and
replay)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path


from tests.samples import FROZEN_NOW
from tests.samples import logs as sample
from tests.uihelpers import feed, frozen_app, populate, screen_text, show
from tui import registry
from tui.app import TshootApp
from tui.config import Config
from tui.logs.pane import LogsPane, LogView, parse_when
from tui.logs.readers import CUT_MARK
from tui.logs.records import LogLine, LogSource, LogsSection
from tui.logs.source import LINES_IN_FILE, LogsSource
from tui.processes.source import ProcessesSource
from tui.snapshot import build_snapshot, load_snapshot, write_snapshot
from tui.textsafe import visible
from widgets.dialogs import TextScreen

WAIT_S = 20.0


def write(path: Path, *messages: str, level: str = "INFO", pid: int = 4242) -> None:
    """Lines as Python's logging writes them with a syslog-like prefix: time, program[pid], level."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    with open(path, "a", encoding="utf-8") as f:
        for message in messages:
            f.write(f"{stamp},000 app[{pid}]: {level} {message}\n")


async def until(pilot, condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        pilot.app.poll_now(registry.LOGS)
        await pilot.pause(0.1)


def live_app(path: Path, *others) -> tuple[TshootApp, LogsSource]:
    config = Config(log_paths=[str(path)], interval=0.2)
    source = LogsSource(config, only_named=True)
    return TshootApp(config, sources=[source, *(other(config) for other in others)], host="test"), source


async def open_logs(pilot) -> None:
    """Show the Logs pane once the app has focused its first pane (that focus would pull Processes back)."""
    await pilot.pause()
    await show(pilot, registry.LOGS)


def pane(app) -> LogsPane:
    return app.pane(registry.LOGS)


def view(app) -> LogView:
    return app.query_one("#logs-stream", LogView)


def texts(app) -> list[str]:
    return [row.line.text for row in view(app).rows]


async def test_lines_appear_follow_pauses_on_the_way_up_and_resumes_with_end(tmp_path):
    path = tmp_path / "app.log"
    write(path, *(f"request {n} served" for n in range(60)))
    app, source = live_app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_logs(pilot)
        await until(pilot, lambda: any("request 59 served" in t for t in texts(app)), "the written lines")
        stream = view(app)
        assert stream.following and stream.cursor == len(stream.rows) - 1
        assert "request 59 served" in screen_text(app), "following shows the newest line"
        await pilot.press("up", "up", "pageup")
        assert not stream.following and "PAUSED, 0 new" in stream.border_title
        selected = stream.selected
        write(path, "first while paused", "second while paused")
        await until(pilot, lambda: any("second while paused" in t for t in texts(app)), "lines written while paused")
        assert stream.selected is selected, "the cursor stays on its line while paused"
        assert "second while paused" not in screen_text(app)
        assert "PAUSED, 2 new (End/f follows)" in stream.border_title
        await pilot.press("end")
        await pilot.pause()
        assert stream.following and "second while paused" in screen_text(app)
        assert "following" in stream.border_title
        await pilot.press("up")
        await pilot.press("f")
        assert stream.following and stream.cursor == len(stream.rows) - 1


async def test_regex_filter_highlights_matches_and_an_invalid_one_is_plain_text(tmp_path):
    path = tmp_path / "app.log"
    write(path, "payment 7311 timed out after 30s", "cart ok", "payment 7312 accepted", "what (is this")
    app, _ = live_app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_logs(pilot)
        await until(pilot, lambda: any("what (is this" in t for t in texts(app)), "the written lines")
        await pilot.press("slash", *"pay.*73\\d+")
        await pilot.pause()
        assert [t.split(": INFO ")[1] for t in texts(app)] == ["payment 7311 timed out after 30s", "payment 7312 accepted"]
        assert "2 matches" in view(app).border_title
        strip = view(app).render_line(0)
        highlighted = "".join(s.text for s in strip if s.style and s.style.reverse)
        assert highlighted == "payment 7311", "the match, and only the match, is highlighted"
        app.query_one("#filter").value = "(is"  # not a regex: searched as it is written
        await pilot.pause()
        assert [t.split(": INFO ")[1] for t in texts(app)] == ["what (is this"]
        assert "not a regex: plain text" in view(app).border_title


async def test_level_filter_context_and_source_keys(tmp_path):
    path = tmp_path / "app.log"
    write(path, "before one", "before two")
    write(path, "disk is failing", level="ERROR")
    write(path, "slow disk", level="WARNING")
    write(path, "after one", "after two", "after three", "after four")
    app, _ = live_app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_logs(pilot)
        await until(pilot, lambda: any("after four" in t for t in texts(app)), "the written lines")
        await pilot.press("E")
        assert [t.split(": ", 1)[1] for t in texts(app)] == ["ERROR disk is failing"]
        await pilot.press("plus")  # 3 lines of context around each match
        assert [t.rsplit(" ", 2)[-2:] for t in texts(app)] == [
            ["before", "one"], ["before", "two"], ["is", "failing"], ["slow", "disk"], ["after", "one"], ["after", "two"]]
        assert [row.context for row in view(app).rows] == [True, True, False, True, True, True]
        await pilot.press("plus", "E", "W")
        assert [t.split(": ", 1)[1] for t in texts(app)] == ["ERROR disk is failing", "WARNING slow disk"]
        await pilot.press("W", "greater_than_sign")  # the only source, then all of them again
        assert f"only file:{path}" in view(app).border_title and len(texts(app)) == 8
        await pilot.press("greater_than_sign")
        assert "only" not in view(app).border_title


async def test_clusters_show_the_templates_and_enter_filters_the_stream_to_one(tmp_path):
    path = tmp_path / "app.log"
    write(path, *(f"user {n} logged in from 10.0.0.{n}" for n in range(20)))
    write(path, *(f"cache miss for key item-{n}" for n in range(5)))
    app, _ = live_app(path)
    async with app.run_test(size=(120, 30)) as pilot:
        await open_logs(pilot)
        await until(pilot, lambda: sum("cache miss" in t for t in texts(app)) == 5, "the written lines")
        await pilot.press("C")
        await pilot.pause()
        shown = screen_text(app)
        assert "logged in from <IP>" in shown and "cache miss for key" in shown and "NEW" in shown
        table = app.query_one("#logs-clusters")
        for _ in range(5):
            if "cache miss" in str(table.get_row_at(table.cursor_row)):
                break
            await pilot.press("down")
        await pilot.press("enter")
        await pilot.pause()
        assert view(app).display and len(texts(app)) == 5 and all("cache miss" in t for t in texts(app))
        assert "INFO cache miss for k" in view(app).border_title


async def test_enter_on_a_line_with_a_pid_shows_its_process(tmp_path):
    path = tmp_path / "app.log"
    write(path, "worker started", pid=os.getpid())
    app, _ = live_app(path, ProcessesSource)
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: app.sections.get(registry.PROCESSES) is not None, "a processes poll")
        await open_logs(pilot)
        await until(pilot, lambda: any("worker started" in t for t in texts(app)), "the written line")
        assert view(app).selected.pid == os.getpid()
        assert f"pid {os.getpid()}: o" in view(app).border_subtitle
        await pilot.press("enter")
        await pilot.pause()
        assert app.query_one("TabbedContent").active == registry.PROCESSES
        assert app.query_one("#proc-table").selected_key == str(os.getpid())


async def test_o_on_a_line_without_a_pid_goes_to_the_process_found_writing_its_file():
    section = LogsSection(taken_at=FROZEN_NOW, sources=[LogSource("file:/srv/app.log", "file", "/srv/app.log",
                                                                  "open by pid 1200 (python3)", writer_pid=1200)],
                          lines=[LogLine("file:/srv/app.log", FROZEN_NOW - 5, "reindex batch 7 done", "info", seq=1)])
    app = frozen_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await populate(pilot)
        feed(app, registry.LOGS, section, [])
        await open_logs(pilot)
        assert view(app).selected.text == "reindex batch 7 done"
        await pilot.press("o")
        await pilot.pause()
        assert app.query_one("TabbedContent").active == registry.PROCESSES
        assert app.query_one("#proc-table").selected_key == "1200"


def test_a_log_a_process_holds_open_names_its_writer(tmp_path):
    from tui.logs.discover import written_files

    path = tmp_path / "held.log"
    writer = subprocess.Popen(["sh", "-c", f"exec 3>>{path}; echo ready; exec sleep 60"], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert writer.stdout.readline().strip() == "ready"
        [candidate] = [c for c in written_files() if c.path == str(path)]
        assert candidate.writer_pid == writer.pid
    finally:
        writer.kill()
        writer.wait()


async def test_hostile_lines_stay_literal_and_a_huge_line_is_cut(tmp_path):
    path = tmp_path / "app.log"
    attack = "\x1b]0;PWNED\x07\x1b[2J [b]bold[/b] [@click=app.quit]x[/] admin\u202etxt.exe"
    write(path, "before")
    app, _ = live_app(path)
    async with app.run_test(size=(120, 30)) as pilot:
        await open_logs(pilot)
        await until(pilot, lambda: texts(app), "the first line")
        write(path, attack, "y" * 1_000_000, "after the huge line")  # once followed: a big file is read from its tail
        await until(pilot, lambda: any("after the huge line" in t for t in texts(app)), "the written lines")
        shown = screen_text(app)
        assert "\x1b" not in shown and "\u202e" not in shown
        assert visible(attack)[:40] in shown  # escapes visible, markup as written
        hostile = next(row for row in view(app).rows if "PWNED" in row.line.text)
        view(app).move_to(view(app).rows.index(hostile))
        await pilot.press("v")  # the whole event, literal too
        await pilot.pause()
        event = screen_text(app)
        assert "[@click=app.quit]x[/]" in event and "admin\\u202etxt.exe" in event and "\u202e" not in event
        await pilot.press("escape")
        huge = next(row for row in view(app).rows if "y" * 100 in row.line.text)
        assert huge.line.text.endswith(CUT_MARK) and len(huge.line.text) < 20_000  # the reader kept its head
        view(app).move_to(view(app).rows.index(huge))
        assert "yyyy…" in screen_text(app), "its row is cut at the edge"
        await pilot.press("v")  # the whole (kept) line, wrapped in a scrolling dialog
        await pilot.pause()
        assert isinstance(app.screen, TextScreen) and "y" * 100 in screen_text(app)
        await pilot.press("escape")
    assert app.return_code in (None, 0)


async def test_time_jump_goes_to_the_first_line_at_or_after_it(tmp_path):
    app = frozen_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await populate(pilot)
        await open_logs(pilot)
        await pilot.press("at", *"-2m", "enter")
        await pilot.pause()
        stream = view(app)
        assert not stream.following
        assert stream.selected.time >= sample.FROZEN_NOW - 120 > stream.rows[stream.cursor - 1].line.time
        await pilot.press("at", *"10:40", "enter")  # the frozen clock is 11:06:40 UTC, and tests run in UTC
        await pilot.pause()
        assert time.strftime("%H:%M:%S", time.gmtime(stream.selected.time)) == "10:40:04"


def test_times_typed_for_the_jump():
    now = time.mktime((2026, 11, 18, 11, 6, 40, 0, 0, -1))
    assert parse_when("-5m", now) == now - 300 and parse_when("-90s", now) == now - 90
    assert parse_when("-2h", now) == now - 7200 and parse_when("-5", now) == now - 300
    assert parse_when("10:40", now) == now - 26 * 60 - 40
    assert parse_when("23:00", now) == now - (12 * 3600 + 6 * 60 + 40)  # still ahead today: yesterday's
    assert parse_when("25:00", now) is None and parse_when("soon", now) is None


async def test_a_finding_s_subject_selects_its_newest_line_and_g_finds_the_finding():
    app = frozen_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await populate(pilot)
        await open_logs(pilot)
        logs = pane(app)
        assert logs.select_subject({"pattern": "queuepool-exhausted"})
        assert "QueuePool limit" in view(app).selected.text and view(app).selected.time == sample.FROZEN_NOW - 12
        assert logs.selected_subject() == {"pattern": "queuepool-exhausted"}
        assert logs.select_subject({"pid": 4711, "process": "report-builder"})
        assert "Killed process 4711" in view(app).selected.text
        assert logs.select_subject({"container": "worker"}) and "retrying" in view(app).selected.text
        await pilot.press("greater_than_sign", "greater_than_sign")  # only the app's log: a filter hiding the line does not stop a jump
        assert "only file:/srv/shop/log/app.log" in view(app).border_title
        assert logs.select_subject({"log": sample.ACCESS}) and " 500 " in view(app).selected.text  # its evidence
        assert "only" not in view(app).border_title
        assert not logs.select_subject({"pid": 999_999})


async def test_a_snapshot_keeps_the_newest_lines_and_every_template_and_replay_shows_them(tmp_path):
    section = sample.section()
    base = section.lines[0]
    section.lines = [type(base)(base.source, base.time + n * 0.001, f"line number {n}", "info", seq=n)
                     for n in range(LINES_IN_FILE + 300)] + section.lines[-5:]
    doc = build_snapshot(host="web-1", sections={registry.LOGS: section}, errors={}, findings=sample.findings(),
                         actions=[])
    assert len(doc[registry.LOGS]["lines"]) == LINES_IN_FILE and doc[registry.LOGS]["dropped"] == 305
    assert len(doc[registry.LOGS]["clusters"]) == len(section.clusters)
    path = write_snapshot(doc, tmp_path / "snap.json", "json")
    assert json.loads(path.read_text())[registry.LOGS]["lines"][-1]["text"] == section.lines[-1].text
    replay = TshootApp(Config(), replay=load_snapshot(path))
    async with replay.run_test(size=(120, 30)) as pilot:
        await open_logs(pilot)
        assert "from the snapshot" in view(replay).border_title
        assert "retrying in 5s" in screen_text(replay) and len(view(replay).rows) == LINES_IN_FILE
        await pilot.press("C")
        await pilot.pause()
        assert "QueuePool limit" in screen_text(replay)


async def test_sources_screen_says_how_each_was_found_and_why_one_is_not_followed():
    app = frozen_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app, registry.LOGS, sample.section(), sample.findings())
        await open_logs(pilot)
        await pilot.press("L")
        await pilot.pause()
        shown = screen_text(app)
        assert "open by pid 880 (nginx)" in shown and "not there yet: followed once it appears" in shown
        assert "file:/var/log/app/missing.log" in shown and "waiting" in shown


def test_the_report_lists_sources_new_templates_first_access_metrics_and_each_finding_s_lines():
    from dataclasses import asdict

    from tui.logs.report import markdown
    from tui.source import section_to_json

    text = "\n".join(markdown(section_to_json(sample.section()), [asdict(f) for f in sample.findings()]))
    assert "| file:/var/log/app/missing.log | file | waiting | --log | 0 | not there yet" in text
    templates = text[text.index("Templates ("):]
    assert templates.index("| new |") < templates.index("| 300 |"), "new templates first"
    assert "| file:/var/log/nginx/access.log | 50 |" in text and "30.0%" in text
    assert "Last lines of “SQLAlchemy's connection pool is exhausted (4 lines)”:" in text
    assert text.count("QueuePool limit of size 5 overflow 10") == 3  # its evidence: the last 3 (the template masks)


async def test_the_filter_and_the_level_keys_narrow_the_templates_too():
    app = frozen_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await populate(pilot)
        await open_logs(pilot)
        await pilot.press("C")
        await pilot.pause()
        table = app.query_one("#logs-clusters")
        every = table.row_count
        app.pane(registry.LOGS).row_filter = "QueuePool"
        await pilot.pause()
        assert 0 < table.row_count < every and "match the filter" in str(table.border_title)
        assert all("QueuePool" in str(table.get_row_at(i)) for i in range(table.row_count))
        app.pane(registry.LOGS).row_filter = ""
        await pilot.press("E")
        await pilot.pause()
        assert 0 < table.row_count < every
