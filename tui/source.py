"""The contract between a data source and everything that reads it.

A Source collects records (plain dataclasses, blocking, always off the event loop) and analyses them
into Findings (pure). The live app, `tshoot snapshot`, `tshoot doctor` and `tshoot replay` all go
through this one contract: a snapshot is the section records serialised, a replay feeds them back.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import dacite

from tui.config import Config
from tui.findings import Finding
from tui.textsafe import visible


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

    def prefetch(self) -> None:
        """Start the first poll before the UI loads (the first tab's source only); the next collect() uses it."""

    def close(self) -> None:
        """Release connections, threads and subprocesses."""

    @classmethod
    def strip_for_file(cls, section_json: dict[str, Any], keep_locals: bool) -> None:
        """Drop from a section's JSON what a file must not hold unless the operator asked (Python locals)."""


def section_to_json(section: Any) -> dict[str, Any]:
    """A section record as the JSON object stored in a snapshot (`error` is null when it collected)."""
    data = dataclasses.asdict(section)
    data.setdefault("error", None)
    return data


def unavailable_json(reason: str, remedy: str = "") -> dict[str, Any]:
    """The section stored for a source that could not collect: the key is always present."""
    return {"error": reason, "remedy": remedy}


# Bytes, ids, addresses and counters a host reports all fit in 2**53, the integers a float holds exactly: a
# bigger number in a snapshot is crafted, and would overflow the panes' arithmetic and formatting.
LARGEST_NUMBER = 2**53


class _BadNumber(dacite.DaciteFieldError):
    """Raised inside dacite so that it prefixes the field's path, like its own type errors."""

    def __init__(self, problem: str) -> None:
        super().__init__()
        self.problem = problem

    def __str__(self) -> str:
        return f'field "{self.field_path}": {self.problem}'


def _int_field(value: Any) -> Any:
    if isinstance(value, bool):  # JSON true/false is no process id or byte count, whatever Python's bool says
        raise _BadNumber("true/false where a number belongs")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > LARGEST_NUMBER:
        raise _BadNumber("a number beyond ±2**53")
    return value  # anything else is left to the type check, which names the field


def _float_field(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):  # JSON writes 3.0 as 3 when a collector stored an int in a float field
        value = float(value)
    if isinstance(value, float) and not (math.isfinite(value) and abs(value) <= LARGEST_NUMBER):
        raise _BadNumber("not a finite number within ±2**53")
    return value


def _problem(exc: dacite.DaciteError) -> str:
    """dacite's error without the offending value (it may be huge, or hold control characters)."""
    if isinstance(exc, dacite.WrongTypeError):
        wanted = exc.field_type
        if typing.get_origin(wanted) is typing.Literal:
            return f'field "{exc.field_path}" should be one of {", ".join(map(repr, typing.get_args(wanted)))}'
        if typing.get_origin(wanted) is not None:  # list[int], dict[str, str], int | None: some item is wrong
            return f'field "{exc.field_path}" should be {str(wanted).replace("typing.", "")}'
        return f'field "{exc.field_path}" should be {wanted.__name__}, not {type(exc.value).__name__}'
    return str(exc)


# Types checked everywhere, down to list items: a replayed snapshot is hostile input, and a wrong type
# would otherwise load and then crash the pane that renders it. Unknown keys are ignored (a newer tshoot
# may add fields); numbers must be finite and within ±2**53.
RECORD_CONFIG = dacite.Config(cast=[tuple], check_types=True, type_hooks={int: _int_field, float: _float_field})


def record_from_json(record_type: type, data: Any) -> Any:
    """A dataclass record from JSON data, every field type-checked; ValueError names the field and the problem."""
    if not isinstance(data, dict):
        raise ValueError(f"{record_type.__name__}: expected an object, not {type(data).__name__}")
    try:
        return dacite.from_dict(record_type, data, config=RECORD_CONFIG)
    except dacite.DaciteError as exc:
        raise ValueError(f"{record_type.__name__}: {visible(_problem(exc))}") from None
    except (TypeError, ValueError) as exc:  # a record's own __post_init__ refusing a value
        raise ValueError(f"{record_type.__name__}: {visible(exc)}") from None


def section_from_json(section_type: type, data: dict[str, Any]) -> Any:
    """Rebuild a section record from a snapshot; raises ValueError (naming the field) when the data does not fit."""
    names = {f.name for f in dataclasses.fields(section_type)}
    if "collected_at" in data and "taken_at" not in data:  # older snapshots: Threads and Containers said collected_at
        data = {**data, "taken_at": data["collected_at"]}
    if hasattr(section_type, "from_older_json"):  # other renamed fields, which the section type knows
        data = section_type.from_older_json(data)
    return record_from_json(section_type, {k: v for k, v in data.items() if k in names})
