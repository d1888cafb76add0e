"""The contract between a data source and everything that reads it.

A Source collects records (plain dataclasses, blocking, always off the event loop) and analyses them
into Findings (pure). The live app, `tshoot snapshot`, `tshoot doctor` and `tshoot replay` all go
through this one contract: a snapshot is the section records serialised, a replay feeds them back.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import dacite

from tui.config import Config
from tui.findings import Finding


class SourceUnavailable(Exception):
    """The source cannot be read at all; `reason` says why, `remedy` what to do about it.

    `idle` marks the harmless case of nothing to watch (no database configured): the pane says so,
    but it is not shown as a failing collector.
    """

    def __init__(self, reason: str, remedy: str = "", idle: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.remedy = remedy
        self.idle = idle


class Source(ABC):
    name: ClassVar[str]  # section key in snapshots and the pane's id, e.g. "processes"
    title: ClassVar[str]  # tab label
    section_type: ClassVar[type]  # the dataclass that collect() returns

    def __init__(self, config: Config) -> None:
        self.config = config

    @abstractmethod
    def collect(self) -> Any:
        """One poll, returning a `section_type` record. Stateful sources keep history (rates, trends).

        Runs in a worker thread; may block but must bound its own waits. Raises SourceUnavailable
        when nothing can be read.
        """

    def analyze(self, section: Any) -> list[Finding]:
        """Findings from a section. Pure: no I/O, so it works the same on a replayed snapshot."""
        return []

    def close(self) -> None:
        """Release connections, threads and subprocesses."""


def section_to_json(section: Any) -> dict[str, Any]:
    """A section record as the JSON object stored in a snapshot (`error` is null when it collected)."""
    data = dataclasses.asdict(section)
    data.setdefault("error", None)
    return data


def unavailable_json(reason: str, remedy: str = "") -> dict[str, Any]:
    """The section stored for a source that could not collect: the key is always present."""
    return {"error": reason, "remedy": remedy}


def section_from_json(section_type: type, data: dict[str, Any]) -> Any:
    """Rebuild a section record from a snapshot; raises ValueError when the data does not fit."""
    names = {f.name for f in dataclasses.fields(section_type)}
    try:
        return dacite.from_dict(
            section_type,
            {k: v for k, v in data.items() if k in names},
            config=dacite.Config(cast=[tuple], check_types=False),
        )
    except (dacite.DaciteError, TypeError) as exc:
        raise ValueError(f"{section_type.__name__}: {exc}") from exc
