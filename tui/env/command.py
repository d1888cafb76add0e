"""`tshoot env-diff LEFT RIGHT [--json] [--all]`: the diff for scripts and pipelines.

Exit 0 when the sides are the same, 1 when they differ, 2 on bad input (a message naming the side and the
problem, never a traceback). Secrets are masked in both the table and the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from typing import TextIO

from tui.config import Config, ConfigError, load_config
from tui.env.diff import SAME, EnvDiff, diff_sides
from tui.env.side import SideError
from tui.env.sides import SPEC_HELP, load_side
from tui.redact import redact_deep
from tui.textsafe import visible

EXIT_SAME, EXIT_DIFFERENT, EXIT_BAD_INPUT = 0, 1, 2


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = "Compare two environments key by key; secrets are compared but never shown."
    parser.add_argument("left", metavar="LEFT", help=f"one side: {SPEC_HELP}")
    parser.add_argument("right", metavar="RIGHT", help="the other side, same forms as LEFT")
    parser.add_argument("--json", action="store_true", help='print {"left", "right", "keys": [...]} instead of a table')
    parser.add_argument("--all", action="store_true", help="also list keys that are the same")


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        config = _config(args)
        left, right = load_side(args.left, config), load_side(args.right, config)
        diff = diff_sides(left, right)
    except (SideError, ConfigError) as exc:
        print(visible(f"tshoot env-diff: {exc}", multiline=True), file=err)
        return EXIT_BAD_INPUT
    for side, problems in (("left", diff.left_problems), ("right", diff.right_problems)):
        for problem in problems:
            print(visible(f"warning: {side} ({diff.left if side == 'left' else diff.right}): {problem}"), file=err)
    try:
        if args.json:
            out.write(json.dumps(diff_as_json(diff, include_same=True), ensure_ascii=False, indent=2) + "\n")
        else:
            out.write(format_table(diff, include_same=args.all, width=shutil.get_terminal_size((120, 24)).columns))
        out.flush()
    except BrokenPipeError:  # `env-diff ... | head`: the reader left; the exit code still tells the story
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
    return EXIT_DIFFERENT if diff.differs else EXIT_SAME


def _config(args: argparse.Namespace) -> Config:
    """The app's Config when the CLI loaded one, else the config file named by --config, else defaults."""
    config = getattr(args, "config", None)
    if isinstance(config, Config):
        return config
    return load_config(config) if isinstance(config, str) else Config()


def diff_as_json(diff: EnvDiff, include_same: bool) -> dict:
    keys = [
        {"key": row.key, "status": row.status, "left": row.left, "right": row.right}
        | ({"detail": row.detail} if row.detail else {})
        for row in diff.rows
        if include_same or row.status != SAME
    ]
    document = {"left": diff.left, "right": diff.right, "keys": keys,
                "problems": {"left": diff.left_problems, "right": diff.right_problems}}
    return redact_deep(document)  # values are masked already; this is the last line of defence


def format_table(diff: EnvDiff, include_same: bool, width: int) -> str:
    rows = [row for row in diff.rows if include_same or row.status != SAME]
    key_width = min(max([len(visible(r.key)) for r in rows] + [3]), 40)
    value_width = max((width - 12 - key_width - 4) // 2, 12)
    lines = [f"left:  {visible(diff.left)}", f"right: {visible(diff.right)}", ""]
    if rows:
        lines.append(f"{'STATUS':<10}  {'KEY':<{key_width}}  {'LEFT':<{value_width}}  RIGHT")
    for row in rows:
        lines.append(f"{row.status:<10}  {_fit(visible(row.key), key_width):<{key_width}}  "
                     f"{_fit(_shown(row.left), value_width):<{value_width}}  {_fit(_shown(row.right), value_width)}")
        if row.detail:
            lines.append(f"{'':<10}  {'':<{key_width}}  ↳ {visible(row.detail)}")
    counts = diff.counts()
    summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n) or "nothing to compare"
    hidden_same = "" if include_same or not counts[SAME] else f" ({counts[SAME]} same not listed; --all lists them)"
    lines += ["" if diff.differs else "no differences", summary + hidden_same]
    return "\n".join(lines) + "\n"


def _shown(value: str | None) -> str:
    return "(absent)" if value is None else visible(value.replace("\r", "\\r"))


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
