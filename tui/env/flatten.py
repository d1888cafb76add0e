"""Config files (YAML, JSON, TOML, INI) flattened to dotted keys, so two of them diff like env files.

`db: {host: x, ports: [1, 2]}` becomes `db.host = x`, `db.ports[0] = 1`, `db.ports[1] = 2`; scalars are
written the way the file's own format spells them (true/false, null) so a type change shows as a change.
"""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any

from tui.env.side import CONFIG, Side, SideError, read_text
from tui.safefile import CONFIG_SIDE_LIMIT, FileRefused, parse_json, parse_toml, parse_yaml

CONFIG_SUFFIXES = {".yaml": "YAML", ".yml": "YAML", ".json": "JSON", ".toml": "TOML", ".ini": "INI", ".cfg": "INI", ".conf": "INI"}


def flatten(obj: Any, prefix: str = "") -> dict[str, str]:
    """Dotted keys for nested mappings, `[i]` for list items; an empty mapping or list keeps its key."""
    if isinstance(obj, dict) and obj:
        flat: dict[str, str] = {}
        for key, value in obj.items():
            flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(obj, list) and obj:
        flat = {}
        for index, value in enumerate(obj):
            flat.update(flatten(value, f"{prefix}[{index}]"))
        return flat
    return {prefix or "(root)": _scalar(obj)}


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return "{}" if isinstance(value, dict) else "[]"
    return str(value)


def parse_config_text(text: str, fmt: str, path: str) -> Any:
    """The file's data; SideError with the line number when it does not parse."""
    try:
        if fmt == "YAML":
            return parse_yaml(text, path)
        if fmt == "JSON":
            return parse_json(text, path)
        if fmt == "TOML":
            return parse_toml(text, path)
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(text, source=path)
        return {section: dict(parser[section]) for section in parser.sections()} | (
            {"DEFAULT": dict(parser.defaults())} if parser.defaults() else {}
        )
    except FileRefused as exc:
        raise SideError(f"config file {exc}") from None
    except configparser.MissingSectionHeaderError as exc:
        raise SideError(f"config file {path}: invalid INI — line {exc.lineno}: a key before any [section]") from None
    except configparser.ParsingError as exc:  # its message quotes the lines, which may hold a secret
        lines = ", ".join(str(number) for number, _ in exc.errors)
        raise SideError(f"config file {path}: invalid INI — not `key = value` on line(s) {lines}") from None
    except configparser.Error as exc:
        raise SideError(f"config file {path}: invalid INI — {exc.message.splitlines()[0]}") from None


def config_format(path: str) -> str | None:
    return CONFIG_SUFFIXES.get(Path(path).suffix.lower())


def load_config_file(path: str, spec: str | None = None, fmt: str | None = None) -> Side:
    fmt = fmt or config_format(path) or "INI"
    text, problems = read_text(path, "config file", CONFIG_SIDE_LIMIT)
    return side_from_data(parse_config_text(text, fmt, path), path, spec or path, problems)


def side_from_data(data: Any, path: str, spec: str, problems: list[str]) -> Side:
    """A config side from already-parsed data (a JSON file that turned out not to be a snapshot)."""
    return Side(spec, "config", path, {CONFIG: flatten(data) if data is not None else {}}, problems=problems)
