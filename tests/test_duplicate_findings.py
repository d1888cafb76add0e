"""Two findings with one key: the real env analysis no longer makes them, and the Symptoms pane shows
repeats (an older or crafted snapshot) instead of crashing on them."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.samples import env as sample_env
from tests.uihelpers import feed, frozen_app
from tui.app import TshootApp
from tui.config import Config
from tui.env.source import EnvSource
from tui.findings import Finding, with_row_keys
from tui.snapshot import build_snapshot, load_snapshot, write_snapshot
from widgets.keyed_table import KeyedTable


@pytest.fixture
def process_lacking_two_files(tmp_path):
    """A real process in a folder with `.env` and a configured `app.env`, lacking keys of both."""
    (tmp_path / ".env").write_text("APP_MODE=prod\nNEW_FLAG=on\n")
    (tmp_path / "app.env").write_text("APP_MODE=prod\nOTHER_FLAG=on\n")
    process = subprocess.Popen(["sleep", "60"], cwd=tmp_path, env={"APP_MODE": "prod"})
    yield process, [str(tmp_path / "app.env")]
    process.kill()
    process.wait()


def overview_keys(app) -> list[str]:
    table = app.pane("symptoms").query_one("#rows", KeyedTable)
    return [table.row_keys[i] for i in range(table.row_count)]


async def test_one_process_lacking_keys_of_two_env_files_makes_two_rows(process_lacking_two_files):
    process, env_files = process_lacking_two_files
    source = EnvSource(Config(env_files=env_files))
    section = source.collect()
    mine = [f for f in source.analyze(section) if f.id == "missing-env" and f.subject["pid"] == process.pid]
    assert len(mine) == 2 and len({f.key for f in mine}) == 2
    assert {f.subject["env_file"] for f in mine} == {env_files[0], env_files[0].replace("app.env", ".env")}

    app = frozen_app()
    async with app.run_test(size=(140, 40)) as pilot:
        feed(app, "env", section, source.analyze(section))
        await pilot.pause()
        app.action_show_pane("symptoms")
        await pilot.pause()
        assert {f.key for f in mine} <= set(overview_keys(app))
        assert app.pane("env").select_subject(mine[1].subject)


def duplicate_findings() -> list[Finding]:
    """What a snapshot taken before keys were unique holds: two missing-env findings with one key."""
    return [
        Finding(id="missing-env", severity="warning", source="env", title=f"pid 901 (gunicorn) lacks keys from {path}",
                detail="...", subject={"pid": 901, "name": "gunicorn"}, evidence={"env_file": path})
        for path in ("/srv/shop/.env", "/srv/shop/app.env")
    ]


def test_row_keys_are_unique_and_stable():
    first, second = duplicate_findings()
    assert [key for key, _ in with_row_keys([first, second])] == [first.key, first.key + "#2"]


async def test_live_app_shows_duplicate_findings_instead_of_crashing():
    app = frozen_app()
    async with app.run_test(size=(140, 40)) as pilot:
        app.findings["symptoms"] = duplicate_findings()  # as a replay delivers findings of no pane
        app._findings_changed()
        await pilot.pause()
        app.action_show_pane("symptoms")
        await pilot.pause()
        key = duplicate_findings()[0].key
        assert overview_keys(app) == [key, key + "#2"]
        app.pane("symptoms").query_one("#rows", KeyedTable).move_cursor(row=1)
        await pilot.pause()
        assert "app.env" in str(app.pane("symptoms").query_one("#detail").render())


async def test_replay_of_a_snapshot_holding_duplicate_findings(tmp_path):
    path = tmp_path / "dup.json"
    doc = build_snapshot(host="web-1", sections={"env": sample_env.section()}, errors={},
                         findings=duplicate_findings(), actions=[])
    write_snapshot(doc, path, "json")
    assert len({json.dumps(f["subject"]) for f in json.loads(path.read_text())["findings"]}) == 1

    replay = TshootApp(Config(), replay=load_snapshot(path))
    async with replay.run_test(size=(140, 40)) as pilot:
        replay.action_show_pane("symptoms")
        await pilot.pause()
        key = duplicate_findings()[0].key
        assert overview_keys(replay) == [key, key + "#2"]
        assert replay._exception is None


async def test_keyed_table_shows_a_repeated_key_once():
    from textual.app import App

    class One(App):
        def compose(self):
            yield KeyedTable([("a", "A")], id="t")

    app = One()
    async with app.run_test() as pilot:
        table = app.query_one(KeyedTable)
        table.sync([("x", ("1",)), ("y", ("2",)), ("x", ("3",))])
        await pilot.pause()
        table.sync([("y", ("2",)), ("x", ("4",)), ("y", ("5",)), ("x", ("6",))])
        await pilot.pause()
        assert [table.row_keys[i] for i in range(table.row_count)] == ["y", "x"]
        assert str(table.get_cell("x", "a")) == "4"


@pytest.mark.parametrize("pane, field", [("processes", "rows"), ("containers", "containers")])
async def test_every_pane_shows_a_section_with_repeated_rows(pane, field):
    """A crafted snapshot can repeat a process or a container: the pane shows it, once."""
    from tests.uihelpers import sample_module, show

    module = sample_module(pane)
    section = module.section()
    items = getattr(section, field)
    items.append(items[0])
    app = frozen_app()
    async with app.run_test(size=(140, 40)) as pilot:
        feed(app, pane, section, module.findings())
        await pilot.pause()
        await show(pilot, pane)
        assert app._exception is None
