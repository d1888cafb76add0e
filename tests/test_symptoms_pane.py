"""Pilot tests of the Symptoms pane inside the real app: the Overview, `g` to a finding's guide, running a guide
against a real process near its open-file limit and jumping from the failing check to its row, notes, badges."""

from __future__ import annotations


from textual.widgets import Input, TabbedContent

from tui.app import SourceUpdated, TshootApp
from tui.config import Config
from tui.findings import Finding
from tui.processes.source import ProcessesSource
from tui.symptoms.notes import WORKFLOW
from tui.symptoms.pane import NotesScreen, SymptomsPane
from widgets.keyed_table import KeyedTable
from symptoms_support import near_file_limit  # noqa: F401  (a fixture)

def feed_processes(app: TshootApp, config: Config, findings: list[Finding]) -> None:
    """A real processes section, delivered the way a finished poll delivers it."""
    source = ProcessesSource(config)
    try:
        section = source.collect()
    finally:
        source.close()
    app.post_message(SourceUpdated("processes", section, findings, None, 0.01))


def selected(app: TshootApp, table_id: str) -> str | None:
    return app.query_one(table_id, KeyedTable).selected_key


async def test_failing_check_jumps_to_the_process_row(near_file_limit):
    config = Config(pids=[near_file_limit])
    app = TshootApp(config)
    async with app.run_test(size=(140, 40)) as pilot:
        feed_processes(app, config, [])
        await pilot.press("7")
        pane = app.query_one(SymptomsPane)
        assert pane.open_guide("intermittent")
        await app.workers.wait_for_complete()
        await pilot.pause()
        results = {r.id: r for r in pane.results["intermittent"]}
        assert results["open-files"].status == "fail"
        rows = app.query_one("#rows", KeyedTable)
        rows.focus()
        rows.move_to_key("open-files")
        await pilot.press("enter")
        await pilot.pause()
        assert app.query_one(TabbedContent).active == "processes"
        assert selected(app, "#proc-table") == str(near_file_limit)


async def test_overview_lists_every_finding_most_severe_first_and_opens_evidence_and_guide():
    config = Config()
    app = TshootApp(config)
    async with app.run_test(size=(140, 40)) as pilot:
        import os

        me = {"pid": os.getpid(), "name": "python"}
        hog = Finding("cpu-hog", "warning", "processes", "python at 100% CPU", "busy", me, {"cpu": 100}, "slow")
        pressure = Finding("memory-pressure", "critical", "processes", "Memory pressure", "swapping", {"host": "h"})
        feed_processes(app, config, [hog, pressure])
        await pilot.press("7")
        await pilot.pause()
        pane = app.query_one(SymptomsPane)
        rows = app.query_one("#rows", KeyedTable)
        assert [rows.row_keys[i] for i in range(rows.row_count)] == [
            pressure.key, hog.key]
        assert str(app.query_one("#guides", KeyedTable).get_cell("slow", "now")) == "1 CRIT 1 WARN"  # not "2 CRIT"
        assert str(app.query_one("#guides", KeyedTable).get_cell("overview", "now")) == "1 CRIT 1 WARN"
        rows.focus()
        rows.move_to_key(hog.key)
        await pilot.press("g")
        assert pane.view == "slow"
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert {r.id for r in pane.results["slow"]} == {c.id for c in pane.book.get("slow").checks}
        await pilot.press("A")
        rows.focus()
        rows.move_to_key(hog.key)
        await pilot.press("enter")
        await pilot.pause()
        assert app.query_one(TabbedContent).active == "processes"
        assert selected(app, "#proc-table") == str(os.getpid())


async def test_incident_notes_are_kept_for_snapshots():
    app = TshootApp(Config())
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("7")
        pane = app.query_one(SymptomsPane)
        pane.focus()
        await pilot.press("n")
        assert isinstance(app.screen, NotesScreen)
        app.screen.query_one(f"#note-{WORKFLOW[0]}", Input).value = "every request to /report after 10:02"
        app.screen.query_one("#note-fix", Input).value = "raised LimitNOFILE to 65536"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert pane.notes_json() == {"reproduce": "every request to /report after 10:02",
                                     "fix": "raised LimitNOFILE to 65536"}
        pane.load_notes({"verify": "guide intermittent passes", "bogus": "dropped"})
        assert pane.notes_json() == {"verify": "guide intermittent passes"}
