"""Helpers for Pilot and snapshot tests: an app fed through the real SourceUpdated message path."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from tests.samples import FROZEN_NOW
from tui import registry
from tui.app import SourceUpdated, TshootApp
from tui.config import Config
from tui.findings import Finding


def frozen_app(config: Config | None = None, **kwargs: Any) -> TshootApp:
    """An app with no live sources, a fixed host and a frozen clock: tests post records into it."""
    kwargs.setdefault("host", "web-1")
    return TshootApp(config or Config(), clock=lambda: FROZEN_NOW, **kwargs)


def feed(app: TshootApp, name: str, section: Any, findings: list[Finding]) -> None:
    """Deliver a section exactly as a finished poll does."""
    app.post_message(SourceUpdated(name, section, findings, None, 0.01))


def sampled_panes() -> list[str]:
    """Every collecting source of the registry that has sample records in tests/samples/<name>.py."""
    return [s.name for s in registry.collecting() if importlib.util.find_spec(f"tests.samples.{s.name}") is not None]


def sample_module(name: str):
    return importlib.import_module(f"tests.samples.{name}")


async def populate(pilot) -> None:
    """Feed every pane its prepared sample records, as finished polls would."""
    for name in sampled_panes():
        module = sample_module(name)
        feed(pilot.app, name, module.section(), module.findings())
    await pilot.pause()


async def show(pilot, pane: str) -> None:
    """Switch to `pane` and do what its sample needs to look populated (e.g. pick a process)."""
    pilot.app.action_show_pane(pane)
    await pilot.pause()
    prepare = getattr(sample_module(pane), "prepare", None) if pane in sampled_panes() else None
    if prepare:
        prepare(pilot.app)
    await pilot.pause()


def screen_text(app) -> str:
    """What the terminal shows, as text lines (what an operator reads, borders and all)."""
    return "\n".join("".join(segment.text for segment in strip) for strip in app.screen._compositor.render_strips())


async def select_process(app, pilot, pid: int) -> None:
    """Wait until the Processes pane lists `pid`, and put the cursor on it."""
    for _ in range(50):
        await pilot.pause(0.1)
        if app.pane("processes").select_subject({"pid": pid}):
            return
    raise AssertionError(f"pid {pid} never appeared")
