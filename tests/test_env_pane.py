"""The Env pane through the real message path: the configured diff, a typed comparison, filters, masking."""

from __future__ import annotations

import json

from textual import events
from textual.widgets import Input

from tests.children import program_child
from tests.uihelpers import feed, frozen_app
from tui.config import Config
from tui.env.pane import EnvPane
from tui.env.source import EnvSource
from tui.redact import MASK
from widgets.keyed_table import KeyedTable


def table_rows(app) -> dict[str, tuple[str, ...]]:
    table = app.query_one("#envdiff-table", KeyedTable)
    rows = {}
    for index in range(table.row_count):
        key = table.row_keys[index]
        rows[key] = tuple(str(cell) for cell in table.get_row_at(index))
    return rows


def env_files(tmp_path):
    (tmp_path / "baseline.env").write_text("APP_MODE=prod\nAPI_TOKEN=pane-secret-1\nSAME_KEY=x\nGONE=1\n")
    (tmp_path / "current.env").write_text("APP_MODE=dev\nAPI_TOKEN=pane-secret-2\nSAME_KEY=x\n")
    return str(tmp_path / "baseline.env"), str(tmp_path / "current.env")


async def test_configured_diff_filter_and_same_toggle(tmp_path):
    baseline, current = env_files(tmp_path)
    config = Config(env_baseline=baseline, env_files=[current])
    source = EnvSource(config)
    section = source.collect()
    app = frozen_app(config)
    async with app.run_test(size=(140, 40)) as pilot:
        feed(app, "env", section, source.analyze(section))
        await pilot.pause()
        await pilot.press("5")
        await pilot.pause()
        rows = table_rows(app)
        assert list(rows) == ["API_TOKEN", "APP_MODE", "GONE"]  # `same` hidden, most important first
        assert rows["API_TOKEN"][2:4] == (MASK, MASK) and rows["APP_MODE"][2:4] == ("prod", "dev")
        await pilot.press("equals_sign")
        assert "SAME_KEY" in table_rows(app)
        app.pane("env").set_filter("mode")
        await pilot.pause()
        assert list(table_rows(app)) == ["APP_MODE"]
        assert not any("pane-secret" in cell for row in table_rows(app).values() for cell in row)


async def test_typed_comparison_and_reveal_refused_for_files(tmp_path):
    baseline, current = env_files(tmp_path)
    app = frozen_app(Config())
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        await pilot.press("5")
        await pilot.press("left_square_bracket", *baseline, "enter", "right_square_bracket", *current, "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        pane = app.query_one(EnvPane)
        assert pane.custom == (baseline, current)
        assert table_rows(app)["APP_MODE"][0] == "changed"
        table = app.query_one("#envdiff-table", KeyedTable)
        table.focus()
        table.move_to_key("API_TOKEN")
        await pilot.press("v")
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any("never a file's" in m for m in messages) and not any("pane-secret" in m for m in messages)


async def test_missing_env_subject_opens_process_against_its_file(tmp_path):
    (tmp_path / ".env").write_text("APP_MODE=prod\nAPI_TOKEN=live-secret-3\nNEW_FLAG=1\n")
    child = program_child(["sleep", "30"], cwd=tmp_path, env={"APP_MODE": "prod", "API_TOKEN": "live-secret-3"})
    try:
        source = EnvSource(Config())
        section = source.collect()
        app = frozen_app(Config())
        async with app.run_test(size=(140, 40)) as pilot:
            feed(app, "env", section, source.analyze(section))
            await pilot.pause()
            await pilot.press("5")
            await pilot.pause()
            assert app.pane("env").select_subject({"pid": child.pid})
            await app.workers.wait_for_complete()
            await pilot.pause()
            rows = table_rows(app)
            assert rows["NEW_FLAG"][0] == "only-right"
            await pilot.press("equals_sign")
            table = app.query_one("#envdiff-table", KeyedTable)
            table.move_to_key("API_TOKEN")
            await pilot.press("v")  # the process is a live side: its secret may be shown on purpose
            await pilot.pause()
            assert any("live-secret-3" in n.message for n in app._notifications)
            assert not any("live-secret-3" in cell for row in table_rows(app).values() for cell in row)
    finally:
        child.kill()
        child.wait()


async def burst(app, *keys: str) -> None:
    """Keys as a fast typist or a paste sends them: all queued before the app handles the first."""
    for key in keys:
        char = key if len(key) == 1 else None
        name = {"/": "slash", ".": "full_stop", "-": "minus", "_": "underscore", "[": "left_square_bracket",
                "]": "right_square_bracket", "=": "equals_sign"}.get(key, key)
        event = events.Key(name, char)
        event.set_sender(app)
        app._driver.send_message(event)


async def test_enter_compares_and_gives_keys_back_so_no_key_is_typed_into_an_input_or_lost(tmp_path):
    baseline, current = env_files(tmp_path)
    app = frozen_app(Config())
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()  # the app's initial focus lands first
        await pilot.press("5")
        await pilot.pause()
        await burst(app, "[", *baseline, "enter", "]", *current, "enter", "=")
        await app.workers.wait_for_complete()
        await pilot.pause()
        pane = app.query_one(EnvPane)
        assert app.query_one("#envdiff-right", Input).value == current  # the ] was a key, not a letter typed
        assert pane.custom == (baseline, current)
        assert isinstance(app.focused, KeyedTable)  # Enter gave the keys back to the diff table...
        assert "SAME_KEY" in table_rows(app)  # ...so `=` right after it showed the same keys


async def test_edit_keys_select_the_side_so_typing_replaces_it(tmp_path):
    baseline, current = env_files(tmp_path)
    app = frozen_app(Config())
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()  # the app's initial focus lands first
        await pilot.press("5")
        await pilot.pause()
        await burst(app, "[", *"old-left", "enter")
        await pilot.pause()
        assert "press ] to type the right side" in str(app.query_one("#envdiff-banner").render())
        assert isinstance(app.focused, KeyedTable)
        await burst(app, "[", *baseline, "enter", "]", *current, "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.query_one(EnvPane).custom == (baseline, current)


async def test_the_operators_comparison_is_in_the_next_snapshot_without_a_drift_finding(tmp_path):
    baseline, current = env_files(tmp_path)
    config = Config()
    source = EnvSource(config)
    app = frozen_app(config, sources=[source], snapshot_dir=tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        await pilot.press("5")
        await pilot.press("left_square_bracket", *baseline, "enter", "right_square_bracket", *current, "enter")
        for _ in range(200):  # the pane asked for a poll; wait for the section that carries the comparison
            await pilot.pause(0.05)
            section = app.sections.get("env")
            if section and section.diffs:
                break
        await pilot.press("S")
        await app.workers.wait_for_complete()
        await pilot.pause()
    doc = json.loads(next(tmp_path.glob("tshoot-web-1-*.json")).read_text())
    (diff,) = doc["env"]["diffs"]
    assert (diff["left"], diff["right"], diff["chosen_by"]) == (baseline, current, "operator")
    assert {row["key"]: row["status"] for row in diff["rows"]}["APP_MODE"] == "changed"
    assert "pane-secret" not in json.dumps(doc)
    assert not any(f["id"] == "env-drift" for f in doc["findings"])  # sides the operator chose may differ on purpose
    source.compare_also(None)
    assert source.collect().diffs == []
