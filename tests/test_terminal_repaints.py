"""What a poll repaints, so what crosses the SSH link (issue 14, docs/performance.md): Textual sends every
cell of a repainted region to the terminal, changed or not, so the panes ask for the cells that changed."""

from __future__ import annotations

import dataclasses

from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import Static

from tests.uihelpers import feed, frozen_app, populate, sample_module, show
from tui import registry
from widgets.status import LiveText


class Recorder(Static):
    repainted: list[Region | None] = []

    def refresh(self, *regions, **kwargs):
        if kwargs.get("repaint", True):
            self.repainted.extend(regions or [None])
        return super().refresh(*regions, **kwargs)


class RecordingLiveText(LiveText, Recorder):
    """LiveText first: what is recorded is what it passes on."""


class LiveTextApp(App):
    def compose(self) -> ComposeResult:
        yield RecordingLiveText()


async def test_live_text_repaints_only_the_cells_that_changed():
    app = LiveTextApp()
    async with app.run_test(size=(60, 5)) as pilot:
        live = app.query_one(RecordingLiveText)
        live.show_text(Text.assemble("load ", ("1.50", "bold"), "  @10:00:00\ncpu 5%"))
        await pilot.pause()
        live.repainted = []
        live.show_text(Text.assemble("load ", ("1.50", "bold"), "  @10:00:01\ncpu 5%"))  # the clock's last digit
        assert live.repainted == [Region(len("load 1.50  @10:00:0"), 0, 1, 1)]
        live.repainted = []
        live.show_text(Text.assemble("load ", ("1.50", "red"), "  @10:00:01\ncpu 5%"))  # the same text, red
        assert live.repainted == [Region(5, 0, 4, 1)]
        live.repainted = []
        live.show_text(Text.assemble("load ", ("1.50", "red"), "  @10:00:01\ncpu 5%"))
        assert live.repainted == []  # nothing changed: nothing sent
        live.show_text(Text("cpu 5%"), layout=True)  # a line less: all of it
        assert live.repainted == [None]
        await pilot.pause()
        assert "cpu 5%" in live.render_line(0).text


async def test_a_poll_of_the_processes_pane_repaints_no_widget_whole(monkeypatch):
    """The pane's section arrives as a reactive: before, Textual repainted the whole pane (the full screen
    below the tabs) for it at every poll."""
    app = frozen_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await populate(pilot)
        await show(pilot, registry.PROCESSES)
        module = sample_module(registry.PROCESSES)
        feed(app, registry.PROCESSES, module.section(), module.findings())  # draws the other panes' flags (H)
        await pilot.pause()
        whole: list[Widget] = []
        original = Widget.refresh

        def refresh(widget, *regions, **kwargs):
            if not regions and kwargs.get("repaint", True) and not kwargs.get("layout") and widget.is_mounted:
                whole.append(widget)
            return original(widget, *regions, **kwargs)

        monkeypatch.setattr(Widget, "refresh", refresh)
        section = module.section()
        busier = [dataclasses.replace(row, cpu_percent=row.cpu_percent + 0.5) for row in section.rows]
        feed(app, registry.PROCESSES, dataclasses.replace(section, rows=busier), module.findings())
        await pilot.pause()
        pane = app.pane(registry.PROCESSES)
        assert app.query_one("#proc-table").row_count == len(busier)
        assert [w for w in whole if w is pane or pane in w.ancestors or w.id == "status"] == []
