"""`.env` files, parsed with python-dotenv's own parser so the syntax matches what apps load.

Comments, `export`, single/double quotes and multi-line quoted values are dotenv's; we add line-numbered
problems for malformed lines (the rest of the file still loads) and `${VAR}` expansion from the file's own
earlier keys only — never from tshoot's environment, so a file reads the same on every host.
"""

from __future__ import annotations

import io
import re

from tui.env.side import ENV, Side, SideError, read_text
from tui.safefile import ENV_FILE_LIMIT, Reader

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def parse_env_text(text: str) -> tuple[dict[str, str], list[str]]:
    """Keys and values of an env file's text, and its malformed lines (by number, without their content,
    which may hold a secret)."""
    from dotenv.parser import parse_stream  # here, not at start-up: only env files need dotenv
    from dotenv.variables import parse_variables

    values: dict[str, str] = {}
    problems: list[str] = []
    for binding in parse_stream(io.StringIO(text)):
        original = binding.original.string
        leading = original[: len(original) - len(original.lstrip())]
        line = binding.original.line + leading.count("\n")
        if binding.error:
            problems.append(f"line {line}: cannot parse (unterminated quote or stray characters); skipped")
        elif binding.key is None:
            continue  # blank line or comment
        elif not _KEY.match(binding.key):
            problems.append(f"line {line}: not KEY=VALUE; skipped")
        elif binding.value is None:
            values[binding.key] = ""  # `KEY` alone declares the key without a value
        else:
            values[binding.key] = "".join(atom.resolve(values) for atom in parse_variables(binding.value))
    return values, problems


def load_env_file(path: str, spec: str | None = None, reader: Reader | None = None) -> Side:
    """An env file as a side; with `reader`, only if that user could read it (tui.safefile.read_bytes_as)."""
    text, problems = read_text(path, "env file", ENV_FILE_LIMIT, reader)
    if "\x00" in text:
        raise SideError(f"env file {path}: holds NUL bytes: a binary file, not an env file")
    values, syntax_problems = parse_env_text(text)
    if syntax_problems and not values:  # /etc/shadow, a log, a binary: not one KEY=VALUE line
        raise SideError(f"env file {path}: not an env file: none of its lines is KEY=VALUE "
                        f"({len(syntax_problems)} malformed)")
    return Side(spec or path, "env-file", path, {ENV: values}, problems=problems + syntax_problems)
