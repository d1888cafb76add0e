"""Keys mean one thing everywhere, and every pane is usable in an 80x24 terminal (and readable below)."""

from __future__ import annotations

import pytest
from textual.widgets import Input
from textual.widgets._footer import FooterKey

from tests.uihelpers import frozen_app, populate, show
from tui.app import PANE_ORDER, PANES, TshootApp

# A pane may bind a global key only to do what the global key does there.
SAME_MEANING = {("symptoms", "g"): "open_guide", ("symptoms", "r"): "run_guide"}


def test_no_pane_gives_a_global_key_another_meaning():
    global_keys = {key for binding in TshootApp.BINDINGS for key in binding.key.split(",")}
    for name, pane in PANES.items():
        for binding in pane.BINDINGS:
            for key in binding.key.split(","):
                if key in global_keys:
                    assert SAME_MEANING.get((name, key)) == binding.action, f"{name} pane rebinds {key!r}"


@pytest.mark.parametrize("pane", PANE_ORDER)
async def test_the_footer_shows_every_pane_key_in_80_columns(pane):
    app = frozen_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await populate(pilot)
        await show(pilot, pane)
        app.pane(pane).focus()
        await pilot.pause()
        wanted = {b.key for b in type(app.pane(pane)).BINDINGS if b.show and b.key != "enter"}
        shown = {key.key for key in app.screen.query(FooterKey) if key.region.right <= 80 and key.region.width}
        assert wanted <= shown, f"{pane}: footer hides {wanted - shown}"


async def test_typed_letters_go_to_a_focused_input_not_to_the_keys():
    app = frozen_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await populate(pilot)
        await pilot.press("5")
        await pilot.press("L", *"pvs1")
        await pilot.pause()
        assert app.query_one("#envdiff-left", Input).value == "pvs1"
        assert not app.paused and app.query_one("TabbedContent").active == "env"
        assert not app._notifications  # `v` did not try to reveal anything
