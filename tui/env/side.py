"""What one side of a comparison holds, and the one error every loader raises."""

from __future__ import annotations

from dataclasses import dataclass, field

from tui.safefile import FileRefused, Reader, read_bytes, read_bytes_as

# Which kinds of keys a side holds. Two sides are compared on the domains they share, so a snapshot
# (env + runtime + packages) can be compared with an env file (env) or a requirements file (packages).
ENV, CONFIG, RUNTIME, PACKAGES, DATABASE = "env", "config", "runtime", "packages", "db"
# Domains whose keys may name secrets (PASSWORD, TOKEN, ...): a column or package called "token" is not one.
SECRET_DOMAINS = frozenset({ENV, CONFIG})


class SideError(Exception):
    """A side cannot be loaded; the message names the side and the problem, ready to show as is."""


@dataclass
class Side:
    """One loaded side. Holds raw values: never written anywhere; only the masked diff is."""

    spec: str  # as the operator gave it
    kind: str  # "env-file", "process", "container", "self", "snapshot", "config", "db", "python", "requirements"
    label: str  # for display: secrets masked
    domains: dict[str, dict[str, str]]  # domain -> key -> value
    live: bool = True  # False when values were already masked at the source (a snapshot)
    problems: list[str] = field(default_factory=list)  # non-fatal: malformed lines, bytes that are not UTF-8


def read_text(path: str, what: str, limit: int, reader: Reader | None = None) -> tuple[str, list[str]]:
    """A file's text and the problems found reading it; SideError when it cannot be read at all.

    Only a regular file of at most `limit` bytes is read (tui.safefile: a FIFO or a device is refused,
    never waited on); with `reader`, only a file that user could read (one found next to their process).
    Bytes that are not UTF-8 are replaced (and reported with their line numbers) so the
    rest still loads.
    """
    try:
        data = read_bytes(path, limit) if reader is None else read_bytes_as(reader, "/", path, limit)
    except FileRefused as exc:
        raise SideError(f"{what} {exc}") from None
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError:
        pass
    problems = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(f"line {number}: bytes that are not UTF-8 (0x{line[exc.start]:02x} at column {exc.start + 1})")
    return data.decode("utf-8", errors="replace"), problems
