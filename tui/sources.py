"""Every data source, in tab order. A source that is not built yet has no entry (its pane says so)."""

from __future__ import annotations

from tui.config import Config
from tui.containers.source import ContainersSource
from tui.databases.source import DatabasesSource
from tui.env.source import EnvSource
from tui.processes.source import ProcessesSource
from tui.source import Source
from tui.threads.source import ThreadsSource

SOURCE_CLASSES: list[type[Source]] = [
    ProcessesSource,
    ThreadsSource,
    DatabasesSource,
    ContainersSource,
    EnvSource,
]


def build_sources(config: Config) -> list[Source]:
    return [cls(config) for cls in SOURCE_CLASSES]
