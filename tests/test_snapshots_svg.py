"""SVG snapshots of every pane at a fixed size, fed with prepared records through the real message path.

Review the report before `pytest --snapshot-update`; regenerate on a Textual upgrade (it is pinned exactly).
"""

from __future__ import annotations

import pytest

from tests.uihelpers import frozen_app, populate, show
from tui import registry

SIZE = (140, 40)


@pytest.mark.parametrize("pane", registry.names())
def test_pane_snapshot(pane, snap_compare):
    async def run_before(pilot):
        await populate(pilot)
        await show(pilot, pane)

    assert snap_compare(frozen_app(), terminal_size=SIZE, run_before=run_before)


def test_help_snapshot(snap_compare):
    async def run_before(pilot):
        await populate(pilot)
        await pilot.press("question_mark")

    assert snap_compare(frozen_app(), terminal_size=SIZE, run_before=run_before)


def test_confirmation_snapshot(snap_compare):
    async def run_before(pilot):
        await populate(pilot)
        pilot.app.pane("processes").select_subject({"pid": 1200})
        await pilot.press("k")

    assert snap_compare(frozen_app(), terminal_size=SIZE, run_before=run_before)
