"""Keys mean one thing everywhere, and every pane is usable in an 80x24 terminal (and readable below)."""

from __future__ import annotations

import gc

import pytest
from textual.widget import Widget
from textual.widgets import Input

from tests.uihelpers import frozen_app, populate, sample_module, screen_text, show
from tui import registry
from tui.app import TshootApp

# A pane may bind a global key only to do what the global key does there.
SAME_MEANING = {("symptoms", "g"): "open_guide", ("symptoms", "r"): "run_guide", ("threads", "r"): "dump_now"}


def test_no_pane_gives_a_global_key_another_meaning():
    global_keys = {key for binding in TshootApp.BINDINGS for key in binding.key.split(",")}
    for name, pane in ((s.name, s.pane_class) for s in registry.specs()):
        for binding in pane.BINDINGS:
            for key in binding.key.split(","):
                if key in global_keys:
                    assert SAME_MEANING.get((name, key)) == binding.action, f"{name} pane rebinds {key!r}"


# One meaning per pane key, across panes (README "Keys"): each key, the actions it may run in any pane.
KEY_CONVENTION = {
    "enter": {"threads", "choose", "open_row"},  # open / drill into the selected row
    "d": {"detail"},  # details of the selected row
    "k": {"signal('SIGTERM')", "interrupt(False)", "container('stop')"},  # stop the selected thing, gently
    "K": {"signal('SIGKILL')", "interrupt(True)"},  # end it by force
    "u": {"container('start')"}, "R": {"container('restart')"},
    "l": {"logs"},
    "o": {"jump('processes')", "processes", "jump"},  # its OS process(es), in Processes (a log line's: or container)
    "t": {"threads", "jump('threads')"},  # its Python threads and stacks, in Threads
    "s": {"cycle_sort(1)", "sort"},  # next sort order
    "less_than_sign": {"cycle_sort(-1)", "target(-1)"},  # previous / next: sort column, target, comparison
    "greater_than_sign": {"cycle_sort(1)", "target(1)", "next_comparison", "next_source"},
    "P": {"sort('cpu')"}, "M": {"sort('rss')"}, "I": {"invert"}, "T": {"tree"}, "N": {"ports"},
    "D": {"deadlock_report", "check_connection"},  # diagnose: the report of what is wrong
    "x": {"unwatch"},  # take the selected thing out of this view
    "v": {"toggle_locals", "reveal", "event"},  # show what is hidden (locals, a masked value, a whole event)
    "i": {"paste_token"},  # type input
    "left_square_bracket": {"edit_side('left')"}, "right_square_bracket": {"edit_side('right')"},  # the two sides
    "e": {"explain"}, "h": {"hot_code"}, "a": {"trace_memory"}, "n": {"edit_notes"}, "A": {"overview"},
    "f": {"follow"}, "E": {"min_level('error')"}, "W": {"min_level('warning')"}, "plus": {"context"},
    "at": {"jump_time"}, "C": {"clusters"}, "L": {"sources"},
    "c": {"configured"}, "w": {"swap"}, "equals_sign": {"toggle_same"}, "space": {"toggle_live"},
    "tab": {"switch_table"},
    "g": {"open_guide"}, "r": {"run_guide", "dump_now"},  # the global keys' meaning, in that pane
}


def test_every_pane_key_keeps_its_one_meaning():
    for name, pane in ((s.name, s.pane_class) for s in registry.specs()):
        for binding in pane.BINDINGS:
            for key in binding.key.split(","):
                assert binding.action in KEY_CONVENTION.get(key, set()), f"{name}: {key!r} -> {binding.action}"


@pytest.mark.parametrize("pane", registry.names())
async def test_the_footer_always_shows_help_and_quit_and_the_pane_s_keys_in_order(pane):
    """At 80 columns `? Help` and `q Quit` always show, then as many of the pane's keys as fit, first ones first;
    at 160 every pane key shows. (`?` lists them all.)"""
    for width in (80, 160):
        app = frozen_app()
        async with app.run_test(size=(width, 30)) as pilot:
            await populate(pilot)
            await show(pilot, pane)
            app.pane(pane).focus()
            await pilot.pause()
            footer = screen_text(app).splitlines()[-1]
            assert "? Help" in footer and "q Quit" in footer, f"{pane} at {width}: {footer!r}"
            wanted = [f"{app.get_key_display(b)} {b.description}" for b in type(app.pane(pane)).BINDINGS
                      if b.show and b.key != "enter" and app.pane(pane).check_action(b.action, ()) is not False]
            shown = [entry for entry in wanted if entry in footer]
            assert shown == wanted[:len(shown)] and shown, f"{pane} at {width}: {footer!r}"
            if width == 160:
                assert shown == wanted, f"{pane}: the footer hides {set(wanted) - set(shown)}"


async def test_visiting_panes_again_and_again_does_not_grow_the_footer():
    """Textual's Footer kept every key widget it ever built alive (its data binding): ~1 MB per pane switch."""
    app = frozen_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await populate(pilot)
        names = registry.names()
        for name in names * 2:
            await show(pilot, name)
        before = live_widgets()
        for name in names * 3:
            await show(pilot, name)
        assert live_widgets() <= before + 5, "widgets built on each visit are kept alive"


def live_widgets() -> int:
    gc.collect()
    return sum(1 for thing in gc.get_objects() if isinstance(thing, Widget))


async def test_typed_letters_go_to_a_focused_input_not_to_the_keys():
    app = frozen_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await populate(pilot)
        await pilot.press("5")
        await pilot.press("left_square_bracket", *"pvs1")
        await pilot.pause()
        assert app.query_one("#envdiff-left", Input).value == "pvs1"
        assert not app.paused and app.query_one("TabbedContent").active == "env"
        assert not app._notifications  # `v` did not try to reveal anything


MAIN_ROWS = {  # text of a row each pane's main table must show, whatever the terminal size
    "processes": "1200", "threads": "MainThread", "databases": "4102", "containers": "cache", "env": "APP_ENV",
    "logs": "retrying in", "symptoms": "Deadlock in pid",
}


@pytest.mark.parametrize("size", [(80, 24), (40, 10)])
async def test_every_pane_shows_its_rows_in_small_terminals(size):
    app = frozen_app()
    async with app.run_test(size=size) as pilot:
        await populate(pilot)
        for pane, row in MAIN_ROWS.items():
            await show(pilot, pane)
            await pilot.pause()
            assert row in screen_text(app), f"{pane} at {size[0]}x{size[1]}:\n{screen_text(app)}"


async def test_databases_at_80x24_keeps_the_wait_column_and_the_chain_whole():
    app = frozen_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await populate(pilot)
        await show(pilot, "databases")
        app.pane("databases").select_subject({"pid": 4103})
        await pilot.pause()
        text = screen_text(app)
        assert "WAIT" in text and "Lock:tuple <- 4102" in text and "QUERY" in text
        assert "Blocking chains" in text and "4101 app idle in transaction" in text
        assert "└ 4102" in text  # the waiting session under its head blocker


async def test_threads_status_and_symptoms_what_keep_their_words_at_80x24():
    """The columns that say what is wrong take the room; the command line, the version and the pane go first."""
    app = frozen_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await populate(pilot)
        await show(pilot, "threads")
        await pilot.pause()
        text = screen_text(app)
        assert "│ PID   STATUS" in text and "DEADLOCK, 6/9 stuck" in text, text
        assert "waiting for payments." in text and "waiting on I/O" in text, text  # the threads' STATE column
        await show(pilot, "symptoms")
        await pilot.pause()
        text = screen_text(app)
        for words in ("Deadlock in pid 901 (gunicorn)", "Session 4101 idle in transaction", "cache was killed by the OOM"):
            assert words in text, f"{words!r} cut at 80x24:\n{text}"
        assert "Pane" not in text.split("Status", 1)[1].split("\n", 1)[0]  # dropped: the detail names the pane
    app = frozen_app()
    async with app.run_test(size=(200, 50)) as pilot:
        await populate(pilot)
        await show(pilot, "threads")
        await pilot.pause()
        text = screen_text(app)
        assert "│ PID   NAME      PY      STATUS" in text and "COMMAND" in text and "gunicorn shop.wsg" in text, text


async def test_processes_drop_columns_in_order_for_the_command_line():
    app = frozen_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await populate(pilot)
        await show(pilot, "processes")
        header = next(line for line in screen_text(app).splitlines() if " PID " in line)
        assert "COMMAND" in header and "STARTED" not in header and "THR" not in header and "MEM%" not in header
        assert "python3 /opt/jobs/reindex" in screen_text(app)
        await pilot.resize_terminal(140, 40)
        await pilot.pause()
        header = next(line for line in screen_text(app).splitlines() if " PID " in line)
        for label in ("USER", "MEM%", "THR", "STARTED", "COMMAND"):
            assert label in header, label


async def test_the_overview_starts_at_the_top_on_the_most_severe_row_as_findings_arrive():
    """Findings arrive pane by pane; the first to arrive was kept selected and the top scrolled away."""
    from tests.uihelpers import feed

    app = frozen_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("7")
        for name in ["env", "processes", "containers", "databases", "threads"]:  # least severe panes first
            module = sample_module(name)
            feed(app, name, module.section(), module.findings())
            await pilot.pause()
        table = app.query_one("#rows")
        assert table.cursor_row == 0 and table.scroll_y == 0
        assert table.selected_key == app.pane("symptoms").findings[0].key
        table.focus()
        await pilot.press("down", "down")
        feed(app, "databases", sample_module("databases").section(), sample_module("databases").findings()[:-1])
        await pilot.pause()
        assert table.cursor_row != 0, "the operator moved down: their row is kept"


async def test_a_long_process_name_does_not_push_the_command_line_away():
    from tests.samples import processes
    from tests.uihelpers import feed

    section = processes.section()
    section.rows[0].name = "kworker/R-kvfree_rcu_reclaim-and-more"
    app = frozen_app()
    async with app.run_test(size=(80, 24)) as pilot:
        feed(app, "processes", section, [])
        await pilot.pause()
        await pilot.pause()
        text = screen_text(app)
        assert "kworker/R-kvfree_rc…" in text and "python3 /opt/jobs/reindex" in text


async def test_containers_drop_ports_image_since_cpu_first():
    app = frozen_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await populate(pilot)
        await show(pilot, "containers")
        header = next(line for line in screen_text(app).splitlines() if " NAME " in line)
        assert "MEM USED/LIMIT" in header and "EXIT" in header and "OOM" in header and "HEALTH" in header
        assert "IMAGE" not in header and "PORTS" not in header
        assert "50.0M/256.0M" in screen_text(app)
        await pilot.resize_terminal(140, 40)
        await pilot.pause()
        header = next(line for line in screen_text(app).splitlines() if " NAME " in line)
        assert "IMAGE" in header and "SINCE" in header and "CPU%" in header


async def test_shrinking_the_terminal_keeps_the_rows():
    """The short layout followed only the size at start: App.on_resize saw the size before the resize."""
    app = frozen_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await populate(pilot)
        await show(pilot, "processes")
        await pilot.resize_terminal(40, 10)
        await pilot.pause()
        await pilot.pause()
        assert "1200" in screen_text(app), screen_text(app)
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        await pilot.pause()
        assert "cpu0 [" in screen_text(app)  # the summary is back


async def test_help_gives_each_short_footer_word_its_whole_sentence():
    from widgets.dialogs import TextScreen

    app = frozen_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await populate(pilot)
        await show(pilot, "databases")
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, TextScreen), app.screen
        body = app.screen.body
        assert "Go to the client's local process (Processes)" in body and "Guide for this finding" in body
        assert "ctrl+p" in body  # the footer no longer shows the palette key


async def test_rows_and_header_stay_aligned_after_a_resize_drops_columns():
    """120x40 -> 80x24 with a filter: the rebuilt table drew its rows at the widths of the labels (pyt…, 12…)
    and kept them, while the header had the measured widths."""
    from tests.samples import processes as sample
    from tests.uihelpers import feed, frozen_app, screen_text

    app = frozen_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app, "processes", sample.section(), sample.findings())
        await pilot.pause()
        app.pane("processes").set_filter("gunicorn")
        await pilot.pause()
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.5)
        lines = screen_text(app).splitlines()
        header = next(line for line in lines if "PID" in line and "COMMAND" in line)
        row = next(line for line in lines if " 901 " in line)
        assert "gunicorn" in row and "…" not in row.split("gunicorn")[0]
        assert row.index("gunicorn") == header.index("NAME") and row.index("12.5") + 4 == header.index("CPU%") + 4


async def test_the_guide_counts_fit_the_narrow_guide_list_at_80_columns():
    from tests.uihelpers import frozen_app, populate, screen_text, show

    app = frozen_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await populate(pilot)
        await show(pilot, "symptoms")
        await pilot.pause(0.3)
        overview = next(line for line in screen_text(app).splitlines() if "Overview (all)" in line)
        assert "10C 13W 2i" in overview  # "10 CRIT 13 WARN 2 info" was cut to "10 CRIT 13"
