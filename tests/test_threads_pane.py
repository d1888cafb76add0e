"""The Threads pane in the real app, on a real deadlocked process dumped by the real source."""

from __future__ import annotations

import subprocess

from textual.widgets import Static, TabbedContent

from programs.threads.support import program, pyspy_works  # noqa: F401  (fixtures)
from tests.children import program_child
from tui.app import TshootApp
from tui.config import Config
from tui.threads.source import ThreadsSource
from widgets.dialogs import TextScreen
from widgets.keyed_table import KeyedTable


async def wait_for(pilot, condition, polls: int = 300) -> None:
    """Let the app run until `condition()` holds (the source polls in a worker thread)."""
    for _ in range(polls):
        if condition():
            return
        await pilot.pause(0.1)
    raise AssertionError("the pane never showed the expected state")


def rows(table: KeyedTable) -> dict[str, list[str]]:
    return {table.coordinate_to_cell_key((i, 0)).row_key.value: [str(c) for c in table.get_row_at(i)]
            for i in range(table.row_count)}


async def test_jump_to_a_pid_dumps_it_and_shows_the_deadlock_report(program):
    process = program("deadlock_module_locks.py")
    config = Config(thread_samples=2, thread_sample_interval=0.1, interval=60)
    app = TshootApp(config, sources=[ThreadsSource(config)], host="test")
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        app.jump_to("threads", {"pid": process.pid})  # what Enter in the Processes pane does
        assert app.query_one(TabbedContent).active == "threads"
        report = app.query_one("#thr-deadlock", Static)
        await wait_for(pilot, lambda: report.display)
        text = str(report.render())
        assert f"DEADLOCK in pid {process.pid} (confirmed)" in text
        assert '"order-worker" holds deadlock_module_locks.ORDERS_LOCK, waits for deadlock_module_locks.STOCK_LOCK ' \
               'at deadlock_module_locks.py:13' in text
        assert '"restock-worker" holds deadlock_module_locks.STOCK_LOCK' in text

        threads = rows(app.query_one("#thr-threads", KeyedTable))
        by_name = {cells[1]: cells for cells in threads.values()}
        assert by_name["order-worker"][2].startswith("waiting for deadlock_module_locks.STOCK_LOCK, stuck ≥ ")
        assert by_name["order-worker"][2].endswith("s (since first seen)")  # tshoot cannot know since when
        assert by_name["order-worker"][3] == "place_order deadlock_module_locks.py:13"
        assert "DEADLOCK" in rows(app.query_one("#thr-processes", KeyedTable))[str(process.pid)][3]

        table = app.query_one("#thr-threads", KeyedTable)
        table.move_to_key(str(next(t for t, c in threads.items() if c[1] == "order-worker")))
        await pilot.pause()
        stack = str(app.query_one("#thr-stack", Static).render())
        assert "with STOCK_LOCK:" in stack and "holds ORDERS_LOCK (taken at line 11)" in stack
        assert "self = " not in stack
        await pilot.press("v")
        assert "self = <Thread" in str(app.query_one("#thr-stack", Static).render())  # Thread.run's locals

        await pilot.press("D")
        assert isinstance(app.screen, TextScreen) and "Found one Python-level deadlock" in app.screen.body
        await pilot.press("escape")


async def test_a_non_python_pid_says_so(pyspy_works):
    sleeper = program_child(["sleep", "60"])
    try:
        config = Config(thread_samples=1, interval=60)
        app = TshootApp(config, sources=[ThreadsSource(config)], host="test")
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            app.jump_to("threads", {"pid": sleeper.pid})
            banner = app.query_one("#thr-banner", Static)
            await wait_for(pilot, lambda: banner.display and "not a Python process" in str(banner.render()))
            assert not app.query_one("#thr-deadlock", Static).display
    finally:
        sleeper.kill()
        sleeper.wait()
