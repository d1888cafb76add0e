"""A tiny real source, not shipped: this machine's load average from /proc/loadavg.

tests/test_registry.py registers it with one SourceSpec line and checks that it appears everywhere the
registry is iterated: tabs, keys, help, palette, polling, snapshot, replay, doctor, guides and the report.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from textual.app import ComposeResult
from textual.widgets import Static

from tui.findings import Finding
from tui.registry import SourceSpec
from tui.source import Source
from widgets.pane import SourcePane

NAME = "loadavg"


@dataclass
class LoadSection:
    taken_at: float
    load1: float
    runnable: int


class LoadSource(Source):
    name = NAME
    section_type = LoadSection

    def collect(self) -> LoadSection:
        with open("/proc/loadavg") as f:
            fields = f.read().split()
        return LoadSection(time.time(), float(fields[0]), int(fields[3].split("/")[0]))

    def analyze(self, section: LoadSection) -> list[Finding]:
        return [Finding("load-seen", "info", NAME, f"load {section.load1:.2f} with {section.runnable} runnable",
                        "The tiny test source always reports what it read.", {"load": "1m"})]


def markdown(section: dict[str, Any], findings: list[dict[str, Any]]) -> list[str]:
    return [f"Load average over 1 minute: {section['load1']:.2f} ({len(findings)} finding(s))"]


class LoadPane(SourcePane):
    source_name = NAME

    def compose(self) -> ComposeResult:
        yield Static("no load read yet", id="load-text")

    def show_section(self, section: LoadSection) -> None:
        self.query_one("#load-text", Static).update(f"load {section.load1:.2f}, {section.runnable} runnable")


SPEC = SourceSpec(NAME, "Load", "8", "tests.tinysource:LoadPane", "tests.tinysource:LoadSource", "tests.tinysource:markdown")
