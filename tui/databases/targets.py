"""Which databases to watch: `--db` / config URLs, tshoot's own DATABASE_URL, and the ones running apps use.

Apps are found through their environment (`DATABASE_URL`, `*_DATABASE_URL`) and Rails' `config/database.yml`
under their working directory (readable as root). A `Target` carries the real URL to connect with; only its
`info` (masked URL and origin) goes into records.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Mapping, NamedTuple

import psutil

from tui.config import Config
from tui.databases.connection import UrlError, dialect_of_scheme, parse_url
from tui.databases.records import TargetInfo
from tui.procfs import PerProcess
from tui.redact import mask_url
from tui.safefile import CONFIG_LIMIT, FileRefused, Reader, parse_yaml, read_bytes_as, reader_of

RAILS_ADAPTERS = {"postgresql": "postgresql", "postgis": "postgresql", "mysql2": "mysql", "trilogy": "mysql",
                  "mysql": "mysql"}
# ERB that reads the environment: <%= ENV['X'] %>, <%= ENV.fetch("X") { "d" } %>, <%= ENV.fetch("X", "d") %>
_ERB_ENV = re.compile(
    r"""<%=\s*ENV(?:\[\s*['"](?P<k1>\w+)['"]\s*\]|\.fetch\(\s*['"](?P<k2>\w+)['"]\s*"""
    r"""(?:,\s*['"]?(?P<d1>[^'")]*)['"]?\s*)?\)(?:\s*\{\s*['"]?(?P<d2>[^'"}]*?)['"]?\s*\})?)\s*%>"""
)


class Target(NamedTuple):
    """A target with the URL to reconnect with. Not a dataclass on purpose: it is never serialised."""

    info: TargetInfo
    secret_url: str


def discover_targets(config: Config, environ: Mapping[str, str] | None = None,
                     scan_processes: bool = True) -> tuple[list[Target], list[str]]:
    """All targets, each once (the first origin wins), and notes about settings that could not be read."""
    environ = os.environ if environ is None else environ
    found: list[tuple[str, str, int | None]] = [
        (url, "--db" if url in config.db_url_flags else "config file", None) for url in config.db_urls
    ]
    if environ.get("DATABASE_URL"):
        found.append((environ["DATABASE_URL"], "DATABASE_URL (tshoot's environment)", None))
    notes: list[str] = []
    if scan_processes:
        found.extend(_process_urls(notes))
    return _unique_targets(found), notes


def _unique_targets(found: list[tuple[str, str, int | None]]) -> list[Target]:
    targets: list[Target] = []
    by_key: dict[str, Target] = {}
    ids: set[str] = set()
    for url, origin, pid in found:
        url = url.strip()
        key = _identity(url)
        if key in by_key:
            continue
        masked = mask_url(url)
        target_id, n = masked, 1
        while target_id in ids:  # same URL but another password: still a separate target
            n += 1
            target_id = f"{masked} #{n}"
        ids.add(target_id)
        info = TargetInfo(id=target_id, url=masked, dialect=dialect_of_scheme(url) or "unknown", origin=origin,
                          origin_pid=pid)
        by_key[key] = Target(info, url)
        targets.append(by_key[key])
    return targets


def _identity(url: str) -> str:
    """postgres:// and postgresql+psycopg:// spellings of one URL are one target."""
    try:
        return parse_url(url).render_as_string(hide_password=False)
    except UrlError:
        return url


# What each process's environment says about databases, remembered while the process lives: an environment
# is fixed at exec(), and reading a thousand of them every rescan cost ~70 ms.
_environments = PerProcess(lambda pid, _identity: _database_variables(pid))


def _scanned_processes() -> list[tuple[int, str, list[tuple[str, str]], str]]:
    """(pid, name, its DATABASE_URL-like variables, its working directory) of every readable process.
    The working directory can change (chdir), so it is read on every rescan."""
    found = []
    for pid, (identity, variables) in sorted(_environments.rescan({os.getpid()}).items()):
        if variables is None:
            continue  # other users' processes without root: nothing to learn
        try:
            found.append((pid, identity.name, variables, os.readlink(f"/proc/{pid}/cwd")))
        except OSError:
            continue  # exited since
    return found


def _database_variables(pid: int) -> list[tuple[str, str]] | None:
    """The process's DATABASE_URL-like variables (None when its environment is not ours to read)."""
    try:
        environ = psutil.Process(pid).environ()
    except (psutil.Error, OSError):
        return None
    return [(key, value) for key, value in environ.items()
            if (key == "DATABASE_URL" or key.endswith("_DATABASE_URL")) and dialect_of_scheme(value)]


def _process_urls(notes: list[str]) -> list[tuple[str, str, int | None]]:
    found: list[tuple[str, str, int | None]] = []
    seen_dirs: set[tuple[str, Reader]] = set()
    for pid, name, variables, cwd in _scanned_processes():
        label = f"pid {pid} ({name})"
        for key, value in variables:
            found.append((value, f"{label} {key}", pid))
        database_yml = Path(cwd) / "config" / "database.yml"
        if not database_yml.is_file():  # read on every rescan: the file may be edited while the app runs
            continue
        reader = reader_of(pid)  # read only if the app's user could read it: a link to root's file is not theirs
        if reader is None or (cwd, reader) in seen_dirs:
            continue
        seen_dirs.add((cwd, reader))
        try:
            environ = psutil.Process(pid).environ()
        except (psutil.Error, OSError):
            continue
        rails_env = environ.get("RAILS_ENV") or environ.get("RACK_ENV") or "development"
        try:
            # another user's file: FIFO, size, alias bomb bounded; UnicodeDecodeError is a ValueError
            text = read_bytes_as(reader, "/", str(database_yml), CONFIG_LIMIT).decode("utf-8")
            for url in rails_database_urls(text, rails_env, environ, str(database_yml)):
                found.append((url, f"{label} {database_yml} [{rails_env}]", pid))
        except FileRefused as exc:
            notes.append(f"{database_yml} ({label}): cannot read it: {exc.problem}")
        except ValueError as exc:
            notes.append(f"{database_yml} ({label}): cannot read it: {str(exc).splitlines()[0]}")
    return found


def rails_database_urls(text: str, rails_env: str, environ: Mapping[str, str], path: str = "database.yml") -> list[str]:
    """URLs of one environment of a Rails database.yml (one per database in multi-database setups)."""
    data = parse_yaml(_expand_erb(text, environ), path)
    if not isinstance(data, dict):
        raise ValueError("not a mapping of environments")
    section = data.get(rails_env)
    if not isinstance(section, dict):
        return []
    configs = [section] if "adapter" in section or "url" in section else [
        value for value in section.values() if isinstance(value, dict)
    ]
    return [url for url in (_rails_url(c) for c in configs) if url]


def _expand_erb(text: str, environ: Mapping[str, str]) -> str:
    """Fill in ERB that reads ENV; other ERB is left out (its value cannot be known without Ruby)."""
    def env_value(match: re.Match[str]) -> str:
        key = match["k1"] or match["k2"]
        return environ.get(key, match["d1"] or match["d2"] or "")

    return re.sub(r"<%.*?%>", "", _ERB_ENV.sub(env_value, text))


def _rails_url(config: dict[str, Any]) -> str | None:
    if isinstance(config.get("url"), str):
        return config["url"]
    dialect = RAILS_ADAPTERS.get(str(config.get("adapter", "")))
    if dialect is None:
        return None  # sqlite3 and friends: not a server to watch
    from sqlalchemy.engine import URL

    port = config.get("port")
    socket_path = _str_or_none(config.get("socket"))
    url = URL.create(
        "postgresql" if dialect == "postgresql" else "mysql",
        username=_str_or_none(config.get("username")),
        password=_str_or_none(config.get("password")),
        host=_str_or_none(config.get("host")) or (socket_path if dialect == "postgresql" else None),
        port=int(port) if str(port or "").isdigit() else None,
        database=_str_or_none(config.get("database")),
        query={"unix_socket": socket_path} if dialect == "mysql" and socket_path else {},
    )
    return url.render_as_string(hide_password=False)


def _str_or_none(value: Any) -> str | None:
    return None if value in (None, "") else str(value)
