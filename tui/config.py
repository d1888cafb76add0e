"""Settings from the TOML config file, overridden by command-line flags.

The file is optional: `--config FILE`, else `$XDG_CONFIG_HOME/tshoot/config.toml`
(`~/.config/tshoot/config.toml`). Every key has a default that works on an ordinary server.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from tui.safefile import CONFIG_LIMIT, FileRefused, parse_toml, read_text


class ConfigError(Exception):
    """The config file is missing, unreadable or invalid; the message names the file and the problem."""


@dataclass
class Thresholds:
    cpu_hog_percent: float = 90.0  # % of one core, sustained over the whole observation window
    memory_growth_mb_per_min: float = 5.0  # steady RSS growth that counts as a leak
    memory_growth_min_samples: int = 5
    memory_growth_min_mb: float = 20.0  # and at least this much (and 5% of where it started) over the window
    memory_available_percent: float = 5.0  # below this, memory pressure is critical
    swap_in_out_mb_per_s: float = 10.0  # swapping this hard is memory pressure too
    idle_in_transaction_s: float = 60.0
    slow_query_s: float = 30.0
    blocked_query_s: float = 1.0  # lock waits shorter than this are ordinary contention, not a finding
    connection_saturation_percent: float = 80.0
    container_memory_percent: float = 90.0
    stuck_thread_s: float = 5.0


@dataclass
class Config:
    interval: float = 2.0  # seconds between refreshes of the visible pane
    hidden_interval_factor: float = 15.0  # hidden panes refresh this many times less often (30 s by default)
    collector_timeout: float = 10.0  # a poll still running after this marks its pane stale
    read_only: bool = False
    pids: list[int] = field(default_factory=list)  # Python processes to dump in the Threads pane
    db_urls: list[str] = field(default_factory=list)
    db_url_flags: list[str] = field(default_factory=list)  # those of db_urls given with --db: the rest are the file's
    env_files: list[str] = field(default_factory=list)
    env_baseline: str | None = None  # env file or snapshot the Env pane compares against
    log_paths: list[str] = field(default_factory=list)
    probe_urls: list[str] = field(default_factory=list)
    guides_dir: str | None = None  # operator's own guides (data files), added to the built-in ones
    docker_host: str | None = None
    thread_samples: int = 3  # py-spy dumps per analysis, to tell stuck from busy threads
    thread_sample_interval: float = 0.5
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
    known = {f.name: f for f in fields(cls) if f.name not in ("source_file", "db_url_flags")}
    values: dict[str, Any] = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in known:
            raise ConfigError(f"config file {file}: unknown key '{prefix}{key}' (known: {', '.join(sorted(known))})")
        default = getattr(cls(), name)
        if isinstance(default, Thresholds):
            if not isinstance(value, dict):
                raise ConfigError(f"config file {file}: '{prefix}{key}' must be a table")
            values[name] = _from_mapping(Thresholds, value, file, f"{key}.")
            continue
        values[name] = _check_type(value, default, f"{prefix}{key}", file)
    return cls(**values)


def _check_type(value: Any, default: Any, key: str, file: str) -> Any:
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, (int, float)):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
    elif isinstance(default, list):
        ok = isinstance(value, list)
    else:  # optional string
        ok = isinstance(value, str)
    if not ok:
        raise ConfigError(f"config file {file}: '{key}' has the wrong type or value: {value!r}")
    return float(value) if isinstance(default, float) else value
