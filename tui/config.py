"""Settings from the TOML config file, overridden by command-line flags.

The file is optional: `--config FILE`, else `$XDG_CONFIG_HOME/tshoot/config.toml`
(`~/.config/tshoot/config.toml`). Every key has a default that works on an ordinary server.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tui.textsafe import visible

from tui.safefile import CONFIG_LIMIT, FileRefused, parse_toml, read_text


class ConfigError(Exception):
    """The config file is missing, unreadable or invalid; the message names the file and the problem."""


@dataclass
class Thresholds:
    cpu_hog_percent: float = 80.0  # % of one core, the median over the observation window
    memory_growth_mb_per_min: float = 5.0  # steady RSS growth that counts as a leak
    memory_growth_min_samples: int = 5
    memory_growth_min_mb: float = 20.0  # and at least this much over the window (absolute, whatever the size)
    memory_available_percent: float = 5.0  # below this, memory pressure is critical
    swap_in_out_mb_per_s: float = 10.0  # swapping this hard is memory pressure too
    idle_in_transaction_s: float = 60.0
    slow_query_s: float = 30.0
    blocked_query_s: float = 1.0  # lock waits shorter than this are ordinary contention, not a finding
    connection_saturation_percent: float = 80.0
    container_memory_percent: float = 90.0
    stuck_thread_s: float = 2.0  # a lock wait this long with an unchanged stack is reported (doctor's 3 s sees it)
    log_burst_lines: int = 20  # error lines of one log template in 5 minutes before it can be a burst
    log_burst_factor: float = 5.0  # ... and that many times its rate in the 25 minutes before
    http_5xx_percent: float = 5.0  # share of 5xx responses in an access log over 5 minutes
    slow_request_p95_s: float = 1.0  # 95th percentile of request time in an access log over 5 minutes


@dataclass
class Config:
    interval: float = 2.0  # seconds between refreshes of the visible pane
    hidden_interval_factor: float = 15.0  # hidden panes refresh this many times less often (30 s by default)
    collector_timeout: float = 10.0  # a poll still running after this marks its pane stale
    read_only: bool = False
    pids: list[int] = field(default_factory=list)  # Python processes to dump in the Threads pane
    db_urls: list[str] = field(default_factory=list)
    db_url_flags: list[str] = field(default_factory=list)  # those of db_urls given with --db: the rest are the file's
    discover_db_logins: bool = True  # log in to databases found in other processes' settings (once per credential)
    env_files: list[str] = field(default_factory=list)
    env_baseline: str | None = None  # env file or snapshot the Env pane compares against
    log_paths: list[str] = field(default_factory=list)
    log_path_flags: list[str] = field(default_factory=list)  # those of log_paths given with --log: the rest are the file's
    log_journal: str | None = None  # a journal file or directory to read instead of the system's journal
    log_lines_kept: int = 5000  # the newest lines the Logs pane keeps (memory is bounded by this)
    log_sources_max: int = 64  # log files and containers followed at most
    probe_urls: list[str] = field(default_factory=list)
    guides_dir: str | None = None  # operator's own guides (data files), added to the built-in ones
    docker_host: str | None = None
    find_stuck: bool = True  # look at every Python process (hangs, CPU profiles), not only the --pid ones
    thread_samples: int = 3  # py-spy dumps per analysis, to tell stuck from busy threads
    thread_sample_interval: float = 0.5
    snapshot_locals: bool = False  # write py-spy locals' values (redacted) into snapshots; off: names and types only
    thresholds: Thresholds = field(default_factory=Thresholds)
    source_file: str | None = None  # where this config came from, for the help screen


def default_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "tshoot" / "config.toml"


def load_config(path: str | None = None) -> Config:
    """Read the config file. An explicit path must exist; the default path may be absent."""
    explicit = path is not None
    file = Path(path) if explicit else default_config_path()
    if not file.exists():
        if explicit:
            raise ConfigError(f"config file {file}: no such file")
        return Config()
    try:  # a regular file of bounded size and nesting: a FIFO or /dev/zero is refused, never waited on
        data = parse_toml(read_text(file, CONFIG_LIMIT), file)
    except FileRefused as exc:
        raise ConfigError(f"config file {exc}") from None
    config = _from_mapping(Config, data, str(file))
    config.source_file = str(file)
    return config


def _from_mapping(cls: type, data: dict[str, Any], file: str, prefix: str = "") -> Any:
    table = SETTINGS if cls is Config else THRESHOLDS
    values: dict[str, Any] = {}
    for raw_key, value in data.items():
        name, key = raw_key.replace("-", "_"), visible(raw_key)  # a key is shown as written, escapes made visible
        if name == "thresholds" and cls is Config:
            if not isinstance(value, dict):
                raise ConfigError(f"config file {file}: '{prefix}{key}' must be a table")
            values[name] = _from_mapping(Thresholds, value, file, f"{key}.")
            continue
        if name not in table:
            known = sorted([*table, "thresholds"] if cls is Config else table)
            raise ConfigError(f"config file {file}: unknown key '{prefix}{key}' (known: {', '.join(known)})")
        try:
            values[name] = check_value(table[name], value)
        except BadValue as exc:
            raise ConfigError(f"config file {file}: '{prefix}{key}{exc.where}' {exc}") from None
    return cls(**values)


# ----- one validation for the config file and the command line -----

PID_MAX = 4194304  # the kernel's ceiling for /proc/sys/kernel/pid_max


@dataclass(frozen=True)
class Bounds:
    """What a setting may hold. The config loader and the command-line flags check values against the
    same Bounds, so a value refused on the command line is refused in the file too."""

    kind: type  # bool, int, float, str, or list (of `item`)
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""
    item: "Bounds | None" = None  # what each item of a list must be
    check: Callable[[Any], str | None] | None = None  # a further check: what is wrong, or None


def database_url_problem(url: str) -> str | None:
    """What makes `url` unusable as a database tshoot watches (scheme, syntax, port), or None."""
    from tui.databases.connection import UrlError, parse_url
    from tui.redact import mask_url

    try:
        port = parse_url(url).port
    except UrlError as exc:
        return f"{mask_url(url)!r}: {exc}"
    if port is not None and not 1 <= port <= 65535:
        return f"{mask_url(url)!r}: port {port} is not from 1 to 65535"
    return None


SECONDS = "seconds"
PID = Bounds(int, 1, PID_MAX)
DATABASE_URL = Bounds(str, check=database_url_problem)
OBSERVE = Bounds(float, 0, 600, SECONDS)  # `snapshot`/`doctor`/`guide --observe`
STRINGS = Bounds(list, item=Bounds(str))
TEXT = Bounds(str)
SETTINGS: dict[str, Bounds] = {
    "interval": Bounds(float, 0.1, 3600, SECONDS),
    "hidden_interval_factor": Bounds(float, 1, 100),
    "collector_timeout": Bounds(float, 0.5, 600, SECONDS),
    "read_only": Bounds(bool),
    "pids": Bounds(list, item=PID),
    "db_urls": Bounds(list, item=DATABASE_URL),
    "env_files": STRINGS,
    "env_baseline": TEXT,
    "log_paths": STRINGS,
    "log_journal": TEXT,
    "log_lines_kept": Bounds(int, 100, 1_000_000, "lines"),
    "log_sources_max": Bounds(int, 1, 1000),
    "probe_urls": STRINGS,
    "guides_dir": TEXT,
    "docker_host": TEXT,
    "find_stuck": Bounds(bool),
    "discover_db_logins": Bounds(bool),
    "snapshot_locals": Bounds(bool),
    "thread_samples": Bounds(int, 1, 20),
    "thread_sample_interval": Bounds(float, 0.05, 5, SECONDS),
}
PERCENT = Bounds(float, 0, 100, "percent")
THRESHOLDS: dict[str, Bounds] = {
    "cpu_hog_percent": Bounds(float, 1, 100_000, "percent of one core"),
    "memory_growth_mb_per_min": Bounds(float, 0.01, 1_000_000, "MB a minute"),
    "memory_growth_min_samples": Bounds(int, 2, 10_000),
    "memory_growth_min_mb": Bounds(float, 0, 1_000_000, "MB"),
    "memory_available_percent": PERCENT,
    "swap_in_out_mb_per_s": Bounds(float, 0, 1_000_000, "MB a second"),
    "idle_in_transaction_s": Bounds(float, 0, 7 * 86400, SECONDS),
    "slow_query_s": Bounds(float, 0, 7 * 86400, SECONDS),
    "blocked_query_s": Bounds(float, 0, 86400, SECONDS),
    "connection_saturation_percent": Bounds(float, 1, 100, "percent"),
    "container_memory_percent": Bounds(float, 1, 100, "percent"),
    "stuck_thread_s": Bounds(float, 0, 86400, SECONDS),
    "log_burst_lines": Bounds(int, 1, 1_000_000, "lines in 5 minutes"),
    "log_burst_factor": Bounds(float, 1, 1_000_000, "times the earlier rate"),
    "http_5xx_percent": Bounds(float, 0.01, 100, "percent"),
    "slow_request_p95_s": Bounds(float, 0.001, 3600, SECONDS),
}
class BadValue(ValueError):
    """A value a setting cannot hold. The message follows the setting's name ("has the wrong type: ...",
    "is out of range: ..."); `where` is the index path into a list ("[0]")."""

    def __init__(self, problem: str, where: str = "") -> None:
        super().__init__(problem)
        self.where = where


_KIND_NAMES = {bool: "true or false", int: "a whole number", float: "a number", str: "a string", list: "a list"}


def check_value(bounds: Bounds, value: Any) -> Any:
    """The value as the setting stores it (ints become floats where a float is wanted), else BadValue."""
    numeric = bounds.kind in (int, float)
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if numeric:
        fits = is_number and (bounds.kind is float or isinstance(value, int))
    else:
        fits = isinstance(value, bounds.kind)
    if not fits:
        raise BadValue(f"has the wrong type: must be {_KIND_NAMES[bounds.kind]}, not {_shown(value)}")
    if numeric:
        if (isinstance(value, float) and not math.isfinite(value)) or not bounds.minimum <= value <= bounds.maximum:
            raise BadValue(f"is out of range: must be from {_range(bounds)}, not {_shown(value)}")
        return float(value) if bounds.kind is float else value
    if bounds.item is not None:
        items = []
        for index, item in enumerate(value):
            try:
                items.append(check_value(bounds.item, item))
            except BadValue as exc:
                raise BadValue(str(exc), f"[{index}]{exc.where}") from None
        return items
    if bounds.check is not None and (problem := bounds.check(value)):
        raise BadValue(f"is not valid: {problem}")
    return value


def value_from_text(bounds: Bounds, text: str) -> Any:
    """A flag's (or a `pid:N` side's) text checked against the setting's bounds; ValueError saying what is wrong."""
    try:
        if bounds.kind is int:
            if not re.fullmatch(r"\s*[+-]?[0-9]{1,30}\s*", text):
                raise ValueError(text)
            value: Any = int(text)
        else:
            value = float(text) if bounds.kind is float else text
    except ValueError:
        raise ValueError(f"not {_KIND_NAMES[bounds.kind]}: {text!r}") from None
    try:
        return check_value(bounds, value)
    except BadValue as exc:
        raise ValueError(str(exc).split(": ", 1)[1]) from None  # the flag names itself: only what is wrong


def flag_type(bounds: Bounds, name: str) -> Callable[[str], Any]:
    """An argparse `type` checking a flag against the same bounds as the config file."""

    def parse(text: str) -> Any:
        try:
            return value_from_text(bounds, text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name  # argparse names the type in its own messages
    return parse


def _range(bounds: Bounds) -> str:
    unit = f" {bounds.unit}" if bounds.unit else ""
    return f"{_number(bounds.minimum)} to {_number(bounds.maximum)}{unit}"


def _number(value: float | None) -> str:
    return str(int(value)) if value is not None and float(value).is_integer() else f"{value:g}"


def _shown(value: Any) -> str:
    """The offending value, short and with control characters escaped (repr)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
