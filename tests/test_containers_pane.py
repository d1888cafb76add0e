"""Pilot tests of the Containers pane, fed prepared records through the app's real message path."""

from __future__ import annotations

import time
import uuid

import pytest
from textual.widgets import TabbedContent

from tests.samples import containers as sample
from tests.uihelpers import feed, frozen_app
from tui.actions import Action
from tui.app import TshootApp
from tui.config import Config
from tui.containers.pane import LogsScreen, ProcessesScreen
from tui.containers.source import ContainersSource
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
        assert "Command sh -c 'migrat up'   entrypoint /entry.sh" in card  # quoted as a shell needs it
        assert "Environment (secrets masked): none" in str(app.query_one("#ct-more").render())
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
        await pilot.press("k")
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


async def wait_for(pilot, condition, what: str, timeout: float = 20.0):
    """Let the app run until `condition()` holds (real engine, real polls); fail naming what never happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        await pilot.pause(0.1)
    status = pilot.app.status.get("containers")
    pytest.fail(f"timed out after {timeout}s waiting for {what} (source error: {status and status.error})")


@pytest.mark.services
async def test_live_pane_follows_the_engine_and_jumps_to_host_processes(docker_client, docker_image):
    name = f"tshoot-test-{uuid.uuid4().hex[:6]}-pane"
    container = docker_client.containers.run(
        docker_image, ["sh", "-c", 'trap "exit 0" TERM; while true; do sleep 1; done'], name=name, detach=True)
    app = TshootApp(Config(interval=30.0), sources=[ContainersSource(Config())])  # slow ticks: events drive updates
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.press("4")
            pane = app.pane("containers")
            await wait_for(pilot, lambda: pane.select_subject({"name": name}), "the container's row")
            assert state_cell(app, container.id) == "running"

            await pilot.press("o")
            await wait_for(pilot, lambda: isinstance(app.screen, ProcessesScreen), "the processes screen")
            container.reload()
            assert container.attrs["State"]["Pid"] in [p.host_pid for p in app.screen.processes]
            await pilot.press("enter")
            await pilot.pause()
            assert app.query_one(TabbedContent).active == "processes"

            await pilot.press("4")
            docker_client.api.kill(container.id)
            await wait_for(pilot, lambda: state_cell(app, container.id) == "exited", "the die event to show")
    finally:
        docker_client.api.remove_container(name, force=True)


def state_cell(app, container_id: str) -> str:
    table = app.query_one("#ct-table", KeyedTable)
    try:
        return str(table.get_cell(container_id, "state"))
    except Exception:  # the row is not there yet
        return ""
