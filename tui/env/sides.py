"""Turn a side spec into a loaded Side.

Specs: a file path (env file; a config file by suffix; a requirements/lock file by name; a `.json` snapshot
by content), `self`, `pid:N`, `container:NAME`, `db:URL`, `python:PATH`, or a forced kind for a file:
`env:PATH`, `config:PATH`, `snapshot:PATH`, `requirements:PATH`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import psutil

from tui import registry
from tui.config import PID, Config, value_from_text
from tui.env.envfile import load_env_file
from tui.env.flatten import config_format, load_config_file, side_from_data
from tui.env.runtime import is_requirements_file, load_interpreter, load_requirements, this_runtime
from tui.env.side import ENV, PACKAGES, RUNTIME, Side, SideError, read_text
from tui.redact import mask_url
from tui.safefile import SNAPSHOT_LIMIT, FileRefused, parse_json
from tui.snapshot import SCHEMA
from tui.source import SourceUnavailable

# Version of the `env` section's layout in snapshots; a snapshot written with another one is refused.
ENV_SECTION_FORMAT = 1
SPEC_HELP = ("a file (.env, YAML/JSON/TOML/INI config, requirements or lock file, snapshot .json), self, pid:N, "
             "container:NAME, db:URL, python:PATH, or env:/config:/snapshot:/requirements: before a path")


def load_side(spec: str, config: Config | None = None) -> Side:
    """Load one side; SideError (naming the side and the problem) for anything that cannot be read."""
    config = config or Config()
    spec = spec.strip()
    prefix, _, rest = spec.partition(":")
    if spec == "self":
        return load_self()
    if prefix == "pid":
        return load_process(rest, spec)
    if prefix == "container":
        return load_container(rest, spec, config)
    if prefix == "db":
        from tui.env.dbschema import load_database  # SQLAlchemy is only imported when a database is compared

        return load_database(rest, spec)
    if prefix == "python":
        return load_interpreter(rest, spec)
    if prefix in ("env", "config", "snapshot", "requirements") and rest:
        return _load_file(rest, spec, prefix)
    if not spec:
        raise SideError(f"empty side: expected {SPEC_HELP}")
    if ":" in spec and not os.path.exists(spec):
        if "://" in spec:
            raise SideError(f"{mask_url(spec)}: a URL is not a side; for a database write db:{mask_url(spec)}")
        raise SideError(f"{spec}: unknown kind of side '{prefix}:'; expected {SPEC_HELP}")
    return _load_file(spec, spec, None)


def _load_file(path: str, spec: str, kind: str | None) -> Side:
    if kind == "env":
        return load_env_file(path, spec)
    if kind == "requirements" or (kind is None and is_requirements_file(path)):
        return load_requirements(path, spec)
    if kind == "snapshot" or (kind is None and Path(path).suffix.lower() == ".json"):
        return _load_json(path, spec, snapshot_only=kind == "snapshot")
    if kind == "config" or config_format(path):
        return load_config_file(path, spec)
    return load_env_file(path, spec)


def load_self() -> Side:
    """tshoot's own environment and interpreter: what a snapshot's `env` section records, unmasked."""
    runtime, packages = this_runtime()
    return Side("self", "self", f"tshoot's environment (pid {os.getpid()})",
                {ENV: dict(os.environ), RUNTIME: runtime, PACKAGES: packages})


def load_process(pid_text: str, spec: str) -> Side:
    try:
        pid = value_from_text(PID, pid_text)
    except ValueError as exc:
        raise SideError(f"{spec}: not a process id: {exc}") from None
    try:
        process = psutil.Process(pid)
        name = process.name()
        environ = process.environ()
    except psutil.NoSuchProcess:
        raise SideError(f"{spec}: no such process (it may have exited)") from None
    except psutil.AccessDenied:
        raise SideError(f"{spec}: its environment is not readable (run tshoot as the process's user or as root)") from None
    except (psutil.ZombieProcess, ProcessLookupError):
        raise SideError(f"{spec}: the process has exited (zombie); its environment is gone") from None
    return Side(spec, "process", f"pid {pid} ({name})", {ENV: environ})


def load_container(name: str, spec: str, config: Config) -> Side:
    """The container's configured environment (what `docker inspect` shows), unmasked in memory."""
    from tui.containers.details import ContainerNotFound, container_env
    from tui.containers.engine import resolve_host

    if not name:
        raise SideError(f"{spec}: no container name after 'container:'")
    try:
        shown_name, env = container_env(name, config)
    except ContainerNotFound:
        raise SideError(f"{spec}: no such container on {resolve_host(config)}") from None
    except SourceUnavailable as exc:
        raise SideError(f"{spec}: {exc.reason}" + (f" — {exc.remedy}" if exc.remedy else "")) from None
    return Side(spec, "container", f"container {shown_name}", {ENV: env})


def _load_json(path: str, spec: str, snapshot_only: bool) -> Side:
    text, problems = read_text(path, "JSON file", SNAPSHOT_LIMIT)
    try:
        data = parse_json(text, path)
    except FileRefused as exc:
        raise SideError(f"JSON file {exc}") from None
    _check_snapshot_schema(data, spec)
    section = env_section_of(data)
    if section is None:
        if snapshot_only:
            raise SideError(f"{spec}: not a tshoot snapshot (no `env` section)")
        return side_from_data(data, path, spec, problems)
    return side_from_env_section(section, spec, path)


def _check_snapshot_schema(data: Any, spec: str) -> None:

    if isinstance(data, dict) and "schema" in data and "env" in data and data["schema"] != SCHEMA:
        raise SideError(f"{spec}: snapshot schema {data['schema']!r}; this tshoot reads schema {SCHEMA} — "
                        "compare it with the tshoot version that wrote it")


def env_section_of(data: Any) -> dict[str, Any] | None:
    """The `env` section of a snapshot document, None when the JSON is not a snapshot."""
    if not isinstance(data, dict):
        return None
    sections = data.get("sections") if isinstance(data.get("sections"), dict) else data
    section = sections.get(registry.ENV)
    return section if isinstance(section, dict) and ("format" in section or "error" in section) else None


def side_from_env_section(section: dict[str, Any], spec: str, path: str) -> Side:
    """A snapshot side: the environment as it was recorded there (already masked) plus its runtime."""
    if section.get("format") != ENV_SECTION_FORMAT:
        if section.get("error"):
            raise SideError(f"{spec}: the snapshot has no environment — its env source failed: {section['error']}")
        raise SideError(
            f"{spec}: snapshot env section has format {section.get('format')!r}; this tshoot reads format "
            f"{ENV_SECTION_FORMAT} — compare it with the tshoot version that wrote it"
        )
    host = section.get("host") or "?"
    return Side(
        spec, "snapshot", f"{path} (snapshot of {host})",
        {ENV: _strings(section.get("environ")), RUNTIME: _strings(section.get("runtime")),
         PACKAGES: _strings(section.get("packages"))},
        live=False,
    )


def _strings(mapping: Any) -> dict[str, str]:
    if not isinstance(mapping, dict):
        return {}
    return {str(k): str(v) for k, v in mapping.items()}

