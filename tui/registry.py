"""Every source and pane tshoot has, in tab order: the one list the app, snapshots, replay, `doctor`, the guides,
the Markdown report and the tests iterate.

A spec names its parts by dotted path ("package.module:Name") and loads them on first use, so this module
imports nothing: the CLI commands never import Textual, and a source package may import the registry (for its
own name) without an import circle.

Adding a source: write its package (records, collector, analysis, report, pane), then add one line below.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable


def _load(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class SourceSpec:
    name: str  # section key in snapshots, pane id, Finding.source
    title: str  # tab label
    key: str  # the key that shows the pane
    pane_path: str  # "module:Class" of the pane (a widgets.pane.SourcePane)
    source_path: str | None = None  # "module:Class" of the Source; None for a pane with no collector of its own
    report_path: str | None = None  # "module:function(section_json, findings_json) -> list[str]" for the report
    receives_findings: bool = False  # the pane is shown every source's findings, not only its own

    @cached_property
    def source_class(self) -> type | None:
        return _load(self.source_path) if self.source_path else None

    @cached_property
    def section_type(self) -> type | None:
        return self.source_class.section_type if self.source_class else None

    @cached_property
    def pane_class(self) -> type:
        return _load(self.pane_path)

    @cached_property
    def report(self) -> Callable[[dict[str, Any], list[dict[str, Any]]], list[str]] | None:
        return _load(self.report_path) if self.report_path else None

    @property
    def collects(self) -> bool:
        return self.source_path is not None


SPECS: list[SourceSpec] = []


def register(spec: SourceSpec) -> str:
    """Add a spec in tab order; returns its name, so a package can import the name it is registered under."""
    if any(s.name == spec.name or s.key == spec.key for s in SPECS):
        raise ValueError(f"source {spec.name!r} or key {spec.key!r} is registered twice")
    SPECS.append(spec)
    return spec.name


PROCESSES = register(SourceSpec("processes", "Processes", "1", "tui.processes.pane:ProcessesPane",
                                "tui.processes.source:ProcessesSource", "tui.processes.report:markdown"))
THREADS = register(SourceSpec("threads", "Threads", "2", "tui.threads.pane:ThreadsPane",
                              "tui.threads.source:ThreadsSource", "tui.threads.report:markdown"))
DATABASES = register(SourceSpec("databases", "Databases", "3", "tui.databases.pane:DatabasesPane",
                                "tui.databases.source:DatabasesSource", "tui.databases.report:markdown"))
CONTAINERS = register(SourceSpec("containers", "Containers", "4", "tui.containers.pane:ContainersPane",
                                 "tui.containers.source:ContainersSource", "tui.containers.report:markdown"))
ENV = register(SourceSpec("env", "Env", "5", "tui.env.pane:EnvPane", "tui.env.source:EnvSource",
                          "tui.env.report:markdown"))
LOGS = register(SourceSpec("logs", "Logs", "6", "tui.logs.pane:LogsPane", "tui.logs.source:LogsSource",
                           "tui.logs.report:markdown"))
SYMPTOMS = register(SourceSpec("symptoms", "Symptoms", "7", "tui.symptoms.pane:SymptomsPane",
                               receives_findings=True))


def specs() -> list[SourceSpec]:
    """Every spec in tab order (a copy: callers iterate it while tests may register a source)."""
    return list(SPECS)


def spec(name: str) -> SourceSpec:
    for candidate in SPECS:
        if candidate.name == name:
            return candidate
    raise KeyError(name)


def names() -> list[str]:
    return [s.name for s in SPECS]


def collecting() -> list[SourceSpec]:
    """The specs with a collector of their own: what a snapshot's sections and `doctor` cover."""
    return [s for s in SPECS if s.collects]


def title(name: str) -> str:
    return next((s.title for s in SPECS if s.name == name), name)


def build_sources(config: Any, only: list[SourceSpec] | None = None) -> list[Any]:
    """One Source per spec that collects (each built with `config`), in tab order."""
    return [spec.source_class(config) for spec in (only if only is not None else collecting())]
