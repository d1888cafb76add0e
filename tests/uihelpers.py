"""Helpers for Pilot and snapshot tests: an app fed through the real SourceUpdated message path."""

from __future__ import annotations

from typing import Any

from tests.samples import FROZEN_NOW
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
