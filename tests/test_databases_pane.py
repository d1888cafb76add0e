"""Pilot tests of the Databases pane, fed prepared records through the app's real message path, plus one live run."""

from __future__ import annotations

import os

import pytest

from tests.samples import databases as sample
from tests.test_databases_helpers import Sessions, unique_name
from tests.uihelpers import feed, frozen_app
from tui.config import Config
from tui.databases.pane import detail_text
from tui.databases.source import DatabasesSource
from widgets.dialogs import ConfirmScreen, TextScreen
from widgets.keyed_table import KeyedTable


def column(app, table_id: str, index: int) -> list[str]:
    table = app.query_one(table_id, KeyedTable)
    return [str(table.get_row_at(i)[index]).strip() for i in range(table.row_count)]  # numbers are padded


def detail(app) -> str:
    return str(app.query_one("#db-detail-text").render())


async def shown(pilot):
    feed(pilot.app, "databases", sample.section(), sample.findings())
    await pilot.pause()  # the app's initial focus lands first
    await pilot.press("3")
    await pilot.pause()


async def test_targets_and_sessions_with_blocking_first_and_flags():
    app = frozen_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await shown(pilot)
        assert column(app, "#db-targets", 3) == ["ok", "ok", "FAILED at tcp"]
        assert column(app, "#db-targets", 1)[2] == sample.DEAD.url  # masked, as collected
        # The chain in tree order: its head blocker (the row to act on) above the sessions waiting on it.
        assert column(app, "#db-sessions", 1)[:3] == ["4101", "4102", "4103"]
        flags = dict(zip(column(app, "#db-sessions", 1), column(app, "#db-sessions", 0)))
        assert flags == {"4101": "I", "4102": "B", "4103": "B", "4104": "S", "4105": ""}
        text = detail(app)
        assert "Blocking chains" in text and "4101" in text and "waits 41s for ShareLock" in text
        assert "86 of 100 (86%)" in text and "gunicorn 78" in text


async def test_a_failing_target_shows_its_connection_check_and_the_others_stay():
    app = frozen_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await shown(pilot)
        await pilot.press("greater_than_sign", "greater_than_sign")
        await pilot.pause()
        text = detail(app)
        assert "✗ tcp" in text and "refused" in text and "listens on 5432" in text
        assert app.query_one("#db-sessions", KeyedTable).row_count == 0
        await pilot.press("less_than_sign")
        await pilot.pause()
        assert column(app, "#db-sessions", 1) == ["77"]


async def test_jump_from_a_finding_subject_and_filter():
    app = frozen_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await shown(pilot)
        pane = app.pane("databases")
        pane.set_filter("reports")
        await pilot.pause()
        assert column(app, "#db-sessions", 1) == ["4104"]
        assert pane.select_subject({"target": sample.PG.id, "pid": 4101})  # hidden by the filter: the jump clears it
        await pilot.pause()
        assert app.query_one("#db-sessions", KeyedTable).selected_key == "4101"
        assert "Session 4101" in detail(app) and "local pid 2231" in detail(app)
        assert not pane.select_subject({"target": sample.PG.id, "pid": 999})


async def test_keys_jump_to_the_client_process_and_its_python_stack():
    app = frozen_app()
    jumps = []
    async with app.run_test(size=(160, 45)) as pilot:
        await shown(pilot)
        app.jump_to = lambda pane, subject: jumps.append((pane, subject))
        app.pane("databases").select_subject({"target": sample.PG.id, "pid": 4102})
        await pilot.press("o", "t")
        assert jumps == [("processes", {"pid": 2232}), ("threads", {"pid": 2232})]


async def test_terminate_asks_for_confirmation_naming_the_session_and_query():
    source = DatabasesSource(Config(), scan_processes=False)  # no targets: it only has to be there to act through
    app = frozen_app()
    requested = []
    async with app.run_test(size=(160, 45)) as pilot:
        await shown(pilot)
        app.pane("databases").source = source
        app.request_action = lambda action, run: requested.append(action)
        app.pane("databases").select_subject({"target": sample.PG.id, "pid": 4101})
        await pilot.press("K")
        (action,) = requested
        assert action.verb == "terminate" and action.subject == {"target": sample.PG.id, "pid": 4101}
        assert "session 4101" in action.target and "UPDATE orders SET status = 'paid'" in action.target


async def test_cancel_on_an_idle_in_transaction_session_offers_terminate_instead():
    """4101 is idle in transaction: `c` would change nothing, so the pane says so and asks about terminating."""
    source = DatabasesSource(Config(), scan_processes=False)
    app = frozen_app()
    requested, notes = [], []
    async with app.run_test(size=(160, 45)) as pilot:
        await shown(pilot)
        app.pane("databases").source = source
        app.request_action = lambda action, run: requested.append(action)
        app.notify = lambda message, **kwargs: notes.append(message)
        app.pane("databases").select_subject({"target": sample.PG.id, "pid": 4101})
        await pilot.press("k")
        (action,) = requested
        assert action.verb == "terminate" and action.subject["pid"] == 4101
        assert any("no query to cancel" in note and "terminat" in note for note in notes), notes
        requested.clear()
        app.pane("databases").select_subject({"target": sample.PG.id, "pid": 4104})  # active: a real cancel
        await pilot.press("k")
        (action,) = requested
        assert action.verb == "cancel query"


async def test_read_only_refuses_a_cancel():
    app = frozen_app(Config(read_only=True), sources=[DatabasesSource(Config(), scan_processes=False)])
    async with app.run_test(size=(160, 45)) as pilot:
        await shown(pilot)
        app.pane("databases").select_subject({"target": sample.PG.id, "pid": 4104})
        await pilot.press("k")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        (entry,) = app.actions.entries
        assert (entry.verb, entry.outcome) == ("cancel query", "refused")


@pytest.mark.services
async def test_live_pane_finds_this_tests_connection_and_explains_it(pg_url):
    """Real source, real session: the test's own connection is linked to the test process, EXPLAIN opens a plan."""
    sessions = Sessions(pg_url=pg_url)
    application = unique_name("tshoot-test-live")
    client = sessions.pg(application)
    client.execute("SELECT 1")
    config = Config(db_urls=[pg_url])
    source = DatabasesSource(config, scan_processes=False)
    app = frozen_app(config, sources=[source])
    jumps = []
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.press("3")
            for _ in range(100):
                await pilot.pause(0.05)
                if app.sections.get("databases"):
                    break
            (result,) = app.sections["databases"].targets
            (mine,) = [s for s in result.state.sessions if s.application == application]
            assert mine.local_pid == os.getpid()
            app.jump_to = lambda pane, subject: jumps.append((pane, subject))
            assert app.pane("databases").select_subject({"target": result.target.id, "pid": mine.id})
            await pilot.press("o")
            assert jumps == [("processes", {"pid": os.getpid()})]
            await pilot.press("e")
            for _ in range(100):
                await pilot.pause(0.05)
                if isinstance(app.screen, TextScreen):
                    break
            assert isinstance(app.screen, TextScreen) and "Result" in str(app.screen.body)
    finally:
        sessions.close()
        source.close()


def table_lines(app, table_id: str) -> list[str]:
    """The table's lines as drawn: header first, then the rows on screen."""
    table = app.query_one(table_id, KeyedTable)
    return [table.render_line(y).text for y in range(table.row_count + 1)]


async def test_columns_fit_the_width_numbers_right_aligned_and_the_query_takes_the_rest():
    app = frozen_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await shown(pilot)
        header, *rows = table_lines(app, "#db-sessions")
        idle = next(line for line in rows if " 4101 " in line)
        assert " 1m35s      1m34s " in idle  # whole ages, not "1m3…"
        for label in ("PID/ID", "XACT", "QUERY AGE"):  # right-aligned: the value ends where its header ends
            end = header.index(label) + len(label)
            assert all(line[end - 1] != " " for line in rows if line.strip()), label
        wide_query = app.query_one("#db-sessions", KeyedTable).columns["query"].width
        assert wide_query >= 32 and "UPDATE orders SET status = 'pa" in idle
        assert len(header.rstrip()) <= app.query_one("#db-sessions", KeyedTable).scrollable_content_region.width

        targets_header, first, *_ = table_lines(app, "#db-targets")
        for label in ("CONNS", "SESS", "WAITS", "POLL ms"):
            end = targets_header.index(label) + len(label)
            assert first[end - 1] != " ", label
        assert "86/100 86%" in first

        await pilot.resize_terminal(120, 45)
        await pilot.pause()
        await pilot.resize_terminal(200, 45)
        await pilot.pause()
        assert app.query_one("#db-sessions", KeyedTable).columns["query"].width > wide_query  # refitted on resize
        assert "UPDATE orders SET status = 'paid' WHERE id = 7" in table_lines(app, "#db-sessions")[1]


async def test_counts_in_titles_are_singular_or_plural():
    app = frozen_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await shown(pilot)
        assert app.query_one("#db-targets", KeyedTable).border_title.startswith("3 database targets, 1 failing")
        await pilot.press("greater_than_sign")
        await pilot.pause()
        assert app.query_one("#db-sessions", KeyedTable).border_title.startswith("1 session on mysql://")


def test_the_head_blocker_is_the_first_finding_and_as_severe_as_the_waits_it_causes():
    """4101 (idle in transaction) blocks 4102, which blocks 4103: 4101 is the row to act on, so it comes first."""
    from tui.findings import by_severity

    ordered = by_severity(sample.findings())
    head = ordered[0]
    assert (head.id, head.subject["pid"], head.severity) == ("idle-in-transaction", 4101, "critical")
    assert head.evidence["blocks"] == [4102]
    assert [f.subject["pid"] for f in ordered if f.id == "blocked-query"] == [4102, 4103]


def test_a_merged_or_unlogged_target_says_so_instead_of_error():
    from tui.databases.pane import target_cells
    from tui.databases.records import TargetInfo, TargetResult

    info = TargetInfo(id="postgresql://app@localhost/shop", url="postgresql://app@localhost/shop",
                      dialect="postgresql", origin="pid 9 (app) DATABASE_URL", origin_pid=9)
    merged = target_cells(TargetResult(info, same_server_as=sample.PG.id), [])
    assert f"same server as {sample.PG.id}"[:24] in merged[3]
    unlogged = target_cells(TargetResult(info, not_connected="discover_db_logins = false"), [])
    assert unlogged[3].strip() == "not logged in"
    text = str(detail_text(TargetResult(info, same_server_as=sample.PG.id), None))
    assert "Cannot read" not in text and "same server as" in text.lower()


def test_advice_for_an_idle_head_blocker_is_terminate_not_cancel():
    blocked = next(f for f in sample.findings() if f.id == "blocked-query" and f.subject["pid"] == 4102)
    assert "terminate it here, which rolls it back" in blocked.detail and "cancelling changes nothing" in blocked.detail
    assert "cancel/terminate" not in blocked.detail


def test_the_report_lists_the_head_blocker_first_too():
    from tui.databases import report as databases_report
    from tui.source import section_to_json

    lines = databases_report.markdown(section_to_json(sample.section()), [])
    rows = [line.split("|")[1].strip() for line in lines if line.startswith("| 41")]
    assert rows[:3] == ["4101", "4102", "4103"]


def test_raising_max_connections_says_what_it_costs_on_postgresql():
    saturation = next(f for f in sample.findings() if f.id == "connection-saturation")
    assert "restart, which ends every session" in saturation.detail


def test_a_cut_top_list_says_how_many_more():
    from tui.databases.analysis import top_counts

    assert top_counts({"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}) == "a 1, b 2, c 3, … 2 more"
    assert top_counts({"a": 1}) == "a 1" and top_counts({}) == "-"
