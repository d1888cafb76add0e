"""Pilot tests of the Containers pane, fed prepared records through the app's real message path."""

from __future__ import annotations

from tests.samples import containers as sample
from tests.uihelpers import feed, frozen_app
from tui.actions import Action
from tui.config import Config
from tui.containers.pane import LogsScreen
from widgets.dialogs import ConfirmScreen
from widgets.keyed_table import KeyedTable


def table_names(app) -> list[str]:
    table = app.query_one("#ct-table", KeyedTable)
    return [str(table.get_row_at(i)[1]) for i in range(table.row_count)]


async def shown(pilot):
    feed(pilot.app, "containers", sample.section(), sample.findings())
    await pilot.press("4")
    await pilot.pause()


async def test_troubled_containers_come_first_with_their_flags():
    app = frozen_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await shown(pilot)
        names = table_names(app)
        assert names[-1] == "api"  # the healthy one last
        assert set(names[:2]) == {"worker", "cache"}  # critical ones first
        table = app.query_one("#ct-table", KeyedTable)
        flags = {str(table.get_row_at(i)[1]): str(table.get_row_at(i)[0]) for i in range(table.row_count)}
        assert flags == {"worker": "L", "cache": "O", "web": "H", "migrate": "E", "api": ""}


async def test_card_explains_why_the_selected_container_died():
    app = frozen_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await shown(pilot)
        assert app.pane("containers").select_subject({"name": "migrate"})
        await pilot.pause()
        card = str(app.query_one("#ct-why").render())
        assert "127: command not found" in card
        assert "E sh: migrat: not found" in card
        assert "Suggested fix: Fix the command/entrypoint" in card
        assert app.pane("containers").select_subject({"id": "c3d4c3d4c3d4"})
        await pilot.pause()
        card = str(app.query_one("#ct-why").render())
        assert "crash loop: it died 3 times" in card and "on-failure:5" in card


async def test_filter_and_jump_to_a_filtered_out_container():
    app = frozen_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await shown(pilot)
        app.pane("containers").set_filter("redis")
        await pilot.pause()
        assert table_names(app) == ["cache"]
        assert app.pane("containers").select_subject({"name": "api"})
        assert "api" in table_names(app)
        assert not app.pane("containers").select_subject({"name": "no-such-container"})


async def test_restart_asks_for_confirmation_naming_the_container():
    app = frozen_app()
    requested: list[Action] = []
    app.request_action = lambda action, run: requested.append(action)
    async with app.run_test(size=(160, 45)) as pilot:
        await shown(pilot)
        app.pane("containers").select_subject({"name": "web"})
        await pilot.press("R")
        assert [(a.verb, a.subject["name"]) for a in requested] == [("restart", "web")]
        assert "container web (0a0b0a0b0a0b" in requested[0].target


async def test_read_only_refuses_the_stop_and_logs_it():
    app = frozen_app(Config(read_only=True))
    async with app.run_test(size=(160, 45)) as pilot:
        await shown(pilot)
        app.pane("containers").select_subject({"name": "api"})
        await pilot.press("x")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        [entry] = app.actions.entries
        assert (entry.verb, entry.outcome, entry.subject["name"]) == ("stop", "refused", "api")


async def test_logs_screen_searches_the_recorded_lines():
    app = frozen_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await shown(pilot)
        app.pane("containers").select_subject({"name": "worker"})
        await pilot.press("l")
        await pilot.pause()
        assert isinstance(app.screen, LogsScreen)
        await pilot.press("slash", *"boom", "enter")
        await pilot.pause()
        view = app.screen.query_one("#logs-view")
        assert len(view.lines) == 1 and "boom: cannot reach db" in view.lines[0].text
        await pilot.press("escape")
        assert not isinstance(app.screen, LogsScreen)
