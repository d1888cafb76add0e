"""Small Markdown builders for the incident report (`tshoot snapshot --format md`).

Values come from snapshots (already redacted) and may hold anything a program printed: table cells
escape `|` and line breaks so one odd value cannot break the table, and code blocks pick a fence
longer than any backtick run inside them.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

MIB = 2**20
_BACKTICK_RUN = re.compile(r"`+")


def cell(value: Any) -> str:
    """One table cell: None or "" as "-", `|` escaped, line breaks as <br>."""
    if value is None or value == "":
        return "-"
    text = str(value).replace("\\", "\\\\").replace("|", "\\|")
    return "<br>".join(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))


def table(headers: Iterable[str], rows: Iterable[Iterable[Any]]) -> list[str]:
    """A pipe table; every value goes through `cell`."""
    headers = list(headers)
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return lines


def clip(text: str, limit: int) -> str:
    """Long queries and commands cut to `limit` characters, whitespace runs collapsed so they read on one line."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def code_block(text: str, language: str = "") -> list[str]:
    """A fenced block that survives backticks inside the text."""
    longest = max((len(run) for run in _BACKTICK_RUN.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + language, *text.splitlines(), fence]


def inline_code(text: str) -> str:
    """`text` as inline code, with a longer backtick fence when the text holds backticks."""
    longest = max((len(run) for run in _BACKTICK_RUN.findall(text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if longest else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def mib(n_bytes: float | None) -> str:
    return "-" if n_bytes is None else f"{n_bytes / MIB:.1f} MiB"
