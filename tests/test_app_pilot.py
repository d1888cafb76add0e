"""Pilot tests of the app: navigation, bindings, filter, sort, confirmation, failure isolation, snapshot, replay."""

from __future__ import annotations

import json
import time

import pytest
from textual.widgets import TabbedContent

from tests.children import program_child
from tests.samples import processes as sample
from tests.uihelpers import feed, frozen_app, select_process
from tui.app import TshootApp
from tui.config import Config
from tui.processes.source import ProcessesSource
from tui.snapshot import load_snapshot
from tui.source import Source, SourceUnavailable
from widgets.dialogs import ConfirmScreen, TextScreen
from widgets.keyed_table import KeyedTable


def table_pids(app) -> list[str]:
    table = app.query_one("#proc-table", KeyedTable)
    return [table.row_keys[i] for i in range(table.row_count)]


async def fed(pilot):
    feed(pilot.app, "processes", sample.section(), sample.findings())
    await pilot.pause()


async def test_number_keys_switch_panes():
    app = frozen_app()
    async with app.run_test(size=(140, 40)) as pilot:
        for key, name in zip("1234567", ["processes", "threads", "databases", "containers", "env", "logs", "symptoms"]):
            await pilot.press(key)
            assert app.query_one(TabbedContent).active == name
        await pilot.press("1")
        assert app.query_one(TabbedContent).active == "processes"


async def test_rows_sort_filter_and_tree():
    app = frozen_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await fed(pilot)
        assert table_pids(app)[0] == "1200"  # sorted by CPU, highest first
        await pilot.press("M")
        assert table_pids(app)[0] == "901"  # by memory
        await pilot.press("I")
        assert table_pids(app)[-1] == "901"
        await pilot.press("slash", *"gunicorn", "enter")
        assert sorted(table_pids(app)) == ["900", "901", "902"]
        await pilot.press("slash", "escape")
        assert len(table_pids(app)) == 10
        await pilot.press("T")
        # parents before their children, siblings in the current sort (memory, ascending)
        assert table_pids(app) == ["1", "2222", "1301", "1200", "900", "1400", "902", "901", "612", "640"]
        table = app.query_one("#proc-table", KeyedTable)
        assert str(table.get_cell("1400", "name")) == "│  ├─ sh" and str(table.get_cell("901", "name")) == "│  └─ gunicorn"


async def test_cursor_stays_on_the_same_process_across_refreshes():
    app = frozen_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await fed(pilot)
        table = app.query_one("#proc-table", KeyedTable)
        table.move_to_key("612")
        section = sample.section()
        next(r for r in section.rows if r.pid == 612).cpu_percent = 150.0  # now first by CPU
        feed(app, "processes", section, [])
        await pilot.pause()
        assert table.selected_key == "612" and table_pids(app)[0] == "612"


async def test_findings_flag_their_rows():
    app = frozen_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await fed(pilot)
        table = app.query_one("#proc-table", KeyedTable)
        assert str(table.get_cell("901", "flag")) == "L" and str(table.get_cell("1200", "flag")) == "C"
        assert str(table.get_cell("1", "flag")) == ""


async def test_a_process_the_threads_source_found_hung_is_flagged_in_the_processes_table():
    """The operator in Processes at 3 a.m. sees which process is deadlocked without opening Threads."""
    from tests.samples import threads

    app = frozen_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await fed(pilot)
        feed(app, "threads", threads.section(), threads.findings())  # a deadlock in pid 901
        feed(app, "processes", sample.section(), sample.findings())  # the flags are drawn with the next poll
        await pilot.pause()
        table = app.query_one("#proc-table", KeyedTable)
        assert str(table.get_cell("901", "flag")) == "LH" and str(table.get_cell("902", "flag")) == ""


async def test_help_lists_bindings():
    app = frozen_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await fed(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, TextScreen)
        for text in ["SIGTERM", "Filter", "Snapshot", "Pause", "Tree view", "Listening ports", "1=Processes"]:
            assert text in app.screen.body, text
        await pilot.press("escape")
        assert not isinstance(app.screen, TextScreen)


async def test_pause_stops_live_polls():
    app = TshootApp(Config(interval=0.2), [ProcessesSource(Config())])
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause(0.6)
        await pilot.press("p")
        assert app.paused
        await pilot.pause(0.3)
        before = app.status["processes"].last_ok
        await pilot.pause(0.8)
        assert app.status["processes"].last_ok == before
        await pilot.press("p")
        await pilot.pause(0.8)
        assert app.status["processes"].last_ok != before


@pytest.fixture
def sleeper():
    proc = program_child(["sleep", "300"])
    yield proc
    proc.kill()
    proc.wait()


async def wait_until(pilot, condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        await pilot.pause(0.1)



async def test_sigterm_asks_naming_the_target_then_kills_and_logs(sleeper):
    app = TshootApp(Config(interval=0.3), [ProcessesSource(Config())])
    async with app.run_test(size=(160, 40)) as pilot:
        await select_process(app, pilot, sleeper.pid)
        await pilot.press("k")
        assert isinstance(app.screen, ConfirmScreen)
        assert f"pid {sleeper.pid} (sleep)" in app.screen.target and "sleep 300" in app.screen.target
        await pilot.press("n")
        assert sleeper.poll() is None and app.actions.entries[-1].outcome == "cancelled"
        await pilot.press("k")
        await pilot.press("y")
        assert sleeper.wait(timeout=5) == -15
        await app.workers.wait_for_complete()
        entry = app.actions.entries[-1]
        assert (entry.verb, entry.outcome, entry.subject["pid"]) == ("SIGTERM", "done", sleeper.pid)


async def test_read_only_refuses_and_logs(sleeper):
    app = TshootApp(Config(interval=0.3, read_only=True), [ProcessesSource(Config())])
    async with app.run_test(size=(160, 40)) as pilot:
        await select_process(app, pilot, sleeper.pid)
        await pilot.press("K")
        assert not isinstance(app.screen, ConfirmScreen)
        assert sleeper.poll() is None
        assert app.actions.entries[-1].outcome == "refused"


class BrokenSource(Source):
    name = "databases"
    title = "Databases"
    section_type = dict

    def collect(self):
        raise SourceUnavailable("connection refused on 127.0.0.1:1", "start the database")


class HangingProcesses(ProcessesSource):
    """The real processes collector, except that its second poll hangs."""

    polls = 0

    def collect(self):
        self.polls += 1
        if self.polls == 2:
            time.sleep(4)
        return super().collect()


async def test_a_failing_and_a_hung_collector_mark_only_their_own_panes():
    config = Config(interval=0.3, collector_timeout=1.0)
    app = TshootApp(config, [HangingProcesses(config), BrokenSource(config)])
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: (app.status["processes"].error or "").startswith("stale")
                         and app.status["databases"].error is not None, 6)  # databases starts a moment later
        assert app.status["databases"].error == "connection refused on 127.0.0.1:1"
        assert app.sections["processes"].rows  # the last data stays
        await wait_until(pilot, lambda: app.status["processes"].error is None, 8)
        await pilot.press("exclamation_mark")
        assert "start the database" in app.screen.body
        await pilot.press("escape")
        await app.workers.wait_for_complete()


async def test_snapshot_key_writes_the_state(tmp_path):
    app = frozen_app(snapshot_dir=tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await fed(pilot)
        await pilot.press("S")
        await app.workers.wait_for_complete()
        await pilot.pause()
    files = list(tmp_path.glob("tshoot-web-1-*.json"))
    assert len(files) == 1
    doc = json.loads(files[0].read_text())
    assert {r["pid"] for r in doc["processes"]["rows"]} >= {901, 1200}
    assert {f["id"] for f in doc["findings"]} >= {"memory-growth", "cpu-hog"}
    assert doc["threads"]["error"]  # never polled in this app: the key is there and says why


async def test_replay_shows_the_saved_state_read_only(tmp_path):
    app = frozen_app(snapshot_dir=tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await fed(pilot)
        await pilot.press("S")
        await app.workers.wait_for_complete()
        await pilot.pause()
    loaded = load_snapshot(next(tmp_path.glob("*.json")))
    replay = TshootApp(Config(), replay=loaded)
    async with replay.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        assert replay.is_replay and replay.host == "web-1"
        assert "1200" in table_pids(replay)
        replay.pane("processes").select_subject({"pid": 1200})
        await pilot.press("k")
        assert not isinstance(replay.screen, ConfirmScreen)
        assert replay.actions.entries[-1].outcome == "refused"


async def test_g_opens_the_guide_of_the_selected_rows_finding():
    app = frozen_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await fed(pilot)
        app.pane("processes").select_subject({"pid": 1301})  # the process stuck in D state
        await pilot.press("g")
        await pilot.pause()
        assert app.query_one(TabbedContent).active == "symptoms"
        assert app.pane("symptoms").view == "hang"
        await app.workers.wait_for_complete()


async def test_rows_that_go_away_leave_no_ghost_lines():
    app = frozen_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await fed(pilot)
        section = sample.section()
        section.rows = [r for r in section.rows if r.pid not in (2222, 1400)]  # narrow rows: no width change
        feed(app, "processes", section, [])
        await pilot.pause()
        table = app.query_one("#proc-table", KeyedTable)
        drawn = "\n".join(strip.text for strip in table._styles_cache._cache.values())  # what the screen shows
        assert "sshd: ops@pts/0" not in drawn and table.row_count == 8


async def test_a_cell_that_grows_widens_its_column():
    app = frozen_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await fed(pilot)
        table = app.query_one("#proc-table", KeyedTable)
        before = table.columns["user"].content_width
        section = sample.section()
        next(r for r in section.rows if r.pid == 1).user = "a-much-longer-user"[:10] + "x"
        feed(app, "processes", section, [])
        await pilot.pause()
        after = table.columns["user"].content_width
        assert after > before


async def test_a_worse_finding_arriving_moves_the_overview_to_the_top():
    from tests.samples import containers as container_sample

    app = frozen_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await fed(pilot)  # warnings and info only
        feed(app, "containers", container_sample.section(), container_sample.findings())  # criticals arrive
        await pilot.pause()
        app.action_show_pane("symptoms")
        await pilot.pause()
        rows = app.pane("symptoms").query_one("#rows", KeyedTable)
        assert rows.cursor_row == 0 and str(rows.get_row_at(0)[0]).startswith("CRIT")


class CountingProcesses(ProcessesSource):
    polls = 0

    def collect(self):
        self.polls += 1
        return super().collect()


async def test_switching_panes_never_multiplies_polls():
    config = Config(interval=0.5, hidden_interval_factor=1)
    source = CountingProcesses(config)
    app = TshootApp(config, [source])
    async with app.run_test(size=(140, 40)) as pilot:
        for _ in range(6):  # each switch to Processes polls it at once
            await pilot.press("2")
            await pilot.press("1")
        await pilot.pause(0.3)
        start = source.polls
        await pilot.pause(3.0)
        # one chain at 0.5 s gives about 6 polls in 3 s; multiplied chains would give far more
        assert source.polls - start <= 8
