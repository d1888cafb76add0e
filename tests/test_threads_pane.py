"""The Threads pane in the real app, on a real deadlocked process dumped by the real source."""

from __future__ import annotations


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
    return {table.row_keys[i]: [str(c) for c in table.get_row_at(i)]
            for i in range(table.row_count)}


async def test_jump_to_a_pid_dumps_it_and_shows_the_deadlock_report(program):
    process = program("deadlock_module_locks.py")
    config = Config(find_stuck=False, thread_samples=2, thread_sample_interval=0.1, interval=60)
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
        # tshoot cannot know since when; its CPU time did not move between the dumps: blocked, not spinning
        assert by_name["order-worker"][2].endswith("s (since first seen), blocked")
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
        config = Config(find_stuck=False, thread_samples=1, interval=60)
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


async def test_the_process_list_keeps_its_order_and_its_filter_reads_command_lines():
    """Busiest-first candidates moved under the cursor between refreshes; the list is by pid (the hung one
    first), the cursor stays."""
    import dataclasses

    from tests.samples import threads as sample
    from tests.uihelpers import feed, frozen_app

    app = frozen_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app, "threads", sample.section(), sample.findings())
        await pilot.pause()  # the app's initial focus lands first
        await pilot.press("2")
        table = app.query_one("#thr-processes", KeyedTable)
        assert list(rows(table)) == ["901", "900", "902", "1200"]  # 901 is deadlocked: it comes first
        table.move_to_key("902")
        busier = dataclasses.replace(sample.section())
        busier.candidates = list(reversed(busier.candidates))  # the source re-sorted them by CPU
        feed(app, "threads", busier, sample.findings())
        await pilot.pause()
        assert list(rows(table)) == ["901", "900", "902", "1200"] and table.selected_key == "902"
        assert rows(table)["1200"][-1] == "reindex.py --all"  # the script, not the interpreter's path

        threads = app.query_one("#thr-threads", KeyedTable)
        all_threads = threads.row_count
        await pilot.press("slash", *"jobs/reindex", "enter")
        assert list(rows(table)) == ["1200"]  # matched on the whole command line, not the short one shown
        assert threads.row_count == 0, "the details of pid 901, which the filter hid, are cleared"
        banner = str(app.query_one("#thr-banner", Static).render())
        assert "pid 901 is hidden by the filter 'jobs/reindex'" in banner
        assert not app.query_one("#thr-deadlock", Static).display
        await pilot.press("slash", "escape", "slash", *"gunicorn", "enter")
        assert threads.row_count == all_threads, "the filter lists processes; it does not filter the threads"


async def test_the_process_list_puts_the_most_severe_hang_first_then_by_pid():
    """A lock-contention warning on a low pid sat between two deadlocks; severity comes before the pid."""
    import dataclasses

    from tests.samples import threads as sample
    from tests.uihelpers import feed, frozen_app

    findings = sample.findings()
    warning = next(f for f in findings if f.severity == "warning")
    on_900 = dataclasses.replace(warning, subject={**warning.subject, "pid": 900})
    on_902 = [dataclasses.replace(f, subject={**f.subject, "pid": 902}) for f in findings if f.severity == "critical"]
    app = frozen_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app, "threads", sample.section(), [on_900, *on_902])
        await pilot.pause()
        await pilot.press("2")
        assert list(rows(app.query_one("#thr-processes", KeyedTable)))[:2] == ["902", "900"]


def test_a_short_command_names_the_script_not_the_interpreter():
    from tui.threads.pane import short_command

    assert short_command("/opt/app/.venv/bin/python3.11 -u -X dev /srv/app/worker.py --queue x") == "worker.py --queue x"
    assert short_command("python3 -m celery -A app worker") == "-m celery -A app worker"
    assert short_command("/usr/bin/gunicorn app:app -w 4") == "gunicorn app:app -w 4"
    assert short_command("/usr/bin/python3") == "python3"


async def test_a_watched_process_that_exits_is_said_once_then_dropped():
    from tests.uihelpers import feed, frozen_app
    from tui.threads.records import ProcessThreads, ThreadsSection

    app = frozen_app()
    async with app.run_test(size=(120, 40)) as pilot:
        exited = ProcessThreads(pid=4242, name="worker", error="process 4242 exited", remedy="pick another process")
        feed(app, "threads", ThreadsSection(processes={"4242": exited, "4243": ProcessThreads(pid=4243)}), [])
        await pilot.pause()
        await pilot.press("2")
        app.pane("threads")._select(4242)
        feed(app, "threads", ThreadsSection(processes={"4243": ProcessThreads(pid=4243)}), [])
        await pilot.pause()
        assert list(rows(app.query_one("#thr-processes", KeyedTable))) == ["4243"]
        assert app.pane("threads").selected_pid is None  # not silently moved to another process
        assert "pid 4242 exited" in str(app.query_one("#thr-banner", Static).render())


async def test_a_scan_suspect_that_calms_down_is_not_said_to_have_exited():
    """The sweep drops a suspect from `processes` once nothing looks stuck; it still runs (a candidate)."""
    from tests.uihelpers import feed, frozen_app
    from tui.threads.records import ProcessThreads, PythonCandidate, ThreadsSection

    app = frozen_app()
    async with app.run_test(size=(120, 40)) as pilot:
        candidate = PythonCandidate(pid=4242, name="worker", cmdline="python3 worker.py")
        suspect = ProcessThreads(pid=4242, name="worker", found_by="scan")
        feed(app, "threads", ThreadsSection(processes={"4242": suspect}, candidates=[candidate]), [])
        await pilot.pause()
        await pilot.press("2")
        app.pane("threads")._select(4242)
        feed(app, "threads", ThreadsSection(candidates=[candidate]), [])
        await pilot.pause()
        assert "4242" in rows(app.query_one("#thr-processes", KeyedTable))
        assert "exited" not in str(app.query_one("#thr-banner", Static).render())
        assert app.pane("threads").selected_pid == 4242
