"""On-demand details for one container: its logs, its processes (host pids), its configured env.

These are fetched when the operator looks at a container (or, for logs, when it is in trouble),
never for every container on every poll.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from tui.config import Config
from tui.containers.engine import classify_failure, connect, resolve_host
from tui.containers.inventory import parse_env
from tui.containers.records import ContainerProcess, LogLine
from tui.redact import redact_text

if TYPE_CHECKING:
    import docker

_TIMESTAMPED = re.compile(r"^(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(?P<frac>\d+))?(?P<tz>Z|[+-]\d\d:\d\d) ?(?P<text>.*)$")


class ContainerNotFound(LookupError):
    """No container has that name or id."""


def fetch_logs(client: docker.DockerClient, container: str, tail: int = 200, since: float | None = None) -> list[LogLine]:
    """The last `tail` lines (after `since`, unix time) of stdout and stderr, merged in time order, redacted.

    The engine's merged stream loses which line came from stderr, so each stream is read separately
    and merged by timestamp.
    """
    import docker.errors

    lines: list[LogLine] = []
    for stream in ("stdout", "stderr"):
        try:
            raw = client.api.logs(
                container,
                stdout=stream == "stdout",
                stderr=stream == "stderr",
                timestamps=True,
                tail=tail,
                since=since,
            )
        except docker.errors.NotFound as exc:
            raise ContainerNotFound(f"no container {container!r}") from exc
        lines.extend(parse_log_lines(raw.decode("utf-8", errors="replace"), stream))
    lines.sort(key=lambda line: line.timestamp)  # stable: ties keep stdout before stderr
    return lines[-tail:] if tail else lines


def parse_log_lines(text: str, stream: str) -> list[LogLine]:
    """`<RFC 3339 nano timestamp> <text>` lines; timestamps are padded to nanoseconds so they sort as text."""
    parsed: list[LogLine] = []
    for raw in text.splitlines():
        match = _TIMESTAMPED.match(raw)
        if match is None:
            parsed.append(LogLine(stream, "", redact_text(raw)))
            continue
        fraction = (match["frac"] or "").ljust(9, "0")[:9]
        timestamp = f"{match['ts']}.{fraction}{match['tz']}"
        parsed.append(LogLine(stream, timestamp, redact_text(match["text"].rstrip("\r"))))
    return parsed


def container_processes(client: docker.DockerClient, container: str) -> list[ContainerProcess]:
    """The container's processes with their host pids (`docker top` reads them from the host's ps)."""
    import docker.errors

    try:
        top = client.api.top(container)
    except docker.errors.NotFound as exc:
        raise ContainerNotFound(f"no container {container!r}") from exc
    titles = [title.upper() for title in top.get("Titles") or []]
    return [_process_row(titles, row) for row in top.get("Processes") or []]


def _process_row(titles: list[str], row: list[str]) -> ContainerProcess:
    def column(*names: str) -> str:
        for name in names:
            if name in titles:
                return row[titles.index(name)]
        return ""

    return ContainerProcess(
        host_pid=_int(column("PID")),
        ppid=_int(column("PPID")),
        user=column("UID", "USER"),
        command=redact_text(column("CMD", "COMMAND", "ARGS")),
    )


def container_env(name: str, config: Config) -> tuple[str, dict[str, str]]:
    """The name and configured environment (what `docker inspect` shows) of container `name` or id.

    Unmasked, for the Env pane's comparison (two different secrets must still differ): mask before showing.
    Raises SourceUnavailable when the engine cannot be reached, ContainerNotFound when no such container.
    """
    import docker.errors

    client = connect(config)
    try:
        attrs = client.api.inspect_container(name)
    except docker.errors.NotFound as exc:
        raise ContainerNotFound(f"no container named {name!r} on {resolve_host(config)}") from exc
    except docker.errors.DockerException as exc:
        raise classify_failure(resolve_host(config), exc) from exc
    finally:
        client.close()
    shown_name = (attrs.get("Name") or name).lstrip("/")
    return shown_name, parse_env((attrs.get("Config") or {}).get("Env") or [])


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
