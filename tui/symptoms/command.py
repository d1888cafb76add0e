"""`tshoot guide`: list the guides, or run one from the terminal (text or `--json`), exit code as `tshoot doctor`."""

from __future__ import annotations

import argparse
import json
import sys

import psutil

from tui.config import DATABASE_URL, OBSERVE, PID, Config, ConfigError, flag_type, load_config
from tui.redact import redact_deep
from tui.safefile import TOKEN_LIMIT, FileRefused, open_regular, read_text
from tui.symptoms.checks import CheckContext
from tui.symptoms.guides import Guide, GuideBook, GuideError, load_guides
from tui.symptoms.render import result_lines
from tui.symptoms.runner import CheckResult, GuideOptions, effective_config, live_collection, run_guide
from tui.textsafe import visible

USAGE_ERROR_EXIT = 2


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = "List the symptom guides, or run one: live checks with evidence, fixes and a verify step."
    parser.add_argument("guide_id", nargs="?", metavar="ID", help="guide to run; without it, list the guides")
    parser.add_argument("--config", metavar="FILE", help="TOML config (default ~/.config/tshoot/config.toml)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--db", type=flag_type(DATABASE_URL, "database URL"), action="append", default=[],
                        metavar="URL", help="database URL to test (repeatable)")
    parser.add_argument("--pid", action="append", default=[], type=flag_type(PID, "pid"), metavar="PID",
                        help="process to inspect (repeatable)")
    parser.add_argument("--url", action="append", default=[], metavar="URL", help="URL to probe (repeatable)")
    parser.add_argument("--log", action="append", default=[], metavar="FILE", help="log file to scan (repeatable)")
    parser.add_argument("--token-file", metavar="FILE",
                        help="file holding a token to decode and probe with ('-' reads stdin); never stored")
    parser.add_argument("--observe", type=flag_type(OBSERVE, "observe"), default=3.0, metavar="SECONDS",
                        help="how long the other sources observe before their findings are read (default 3)")


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
        book = load_guides(config.guides_dir)
    except (ConfigError, GuideError) as exc:
        print(visible(f"tshoot guide: {exc}", multiline=True), file=sys.stderr)
        return 2
    for problem in book.problems:
        print(visible(f"tshoot guide: skipped an operator guide: {problem}"), file=sys.stderr)
    if not args.guide_id:
        print_list(book)
        return 0
    try:
        guide = book.get(args.guide_id)
        token = read_token(args.token_file)
        check_logs(args.log)
        check_pids(args.pid)
    except (GuideError, ConfigError, ValueError) as exc:
        print(visible(f"tshoot guide: {exc}", multiline=True), file=sys.stderr)
        return USAGE_ERROR_EXIT
    options = GuideOptions(db_urls=args.db, pids=args.pid, urls=args.url, logs=args.log, token=token)
    context = build_context(config, options, args.observe)
    outcome = run_guide(guide, context)
    if args.json:
        print(json.dumps(redact_deep(outcome.to_json()), indent=2, default=str, ensure_ascii=False))
        return outcome.exit_code
    print(guide_text(guide, outcome.results))
    return outcome.exit_code


def guide_text(guide: Guide, results: list[CheckResult]) -> str:
    """A guide run as the terminal shows it; guides and results are data, every line is made visible."""
    lines = [visible(f"{guide.title}  [{guide.id}]"), visible(f"What it usually means: {' '.join(guide.meaning.split())}")]
    for result in results:
        lines += ["", *result_lines(result)]
    lines += ["", visible(f"Verify: {guide.verify}"), visible(f"        re-run: tshoot guide {guide.id} with the same options")]
    return "\n".join(lines)


def build_context(config: Config, options: GuideOptions, observe: float) -> CheckContext:
    effective = effective_config(config, options)
    return CheckContext(effective, options.token, live_collection(effective, observe))


def print_list(book: GuideBook) -> None:
    width = max(len(guide_id) for guide_id in book.guides)
    for guide in book.guides.values():
        print(visible(f"{guide.id:<{width}}  {guide.title} — {guide.summary}"))


def check_pids(pids: list[int]) -> None:
    """A named pid must be a running process: checking a typo would otherwise report a healthy machine.

    Also used by `tshoot doctor` / `snapshot` / the live UI, which report ConfigError as bad input (exit 2)."""
    for pid in pids:
        if pid <= 0 or not psutil.pid_exists(pid):
            raise ConfigError(f"pid {pid}: no such process")


def check_logs(paths: list[str]) -> None:
    """Each `--log` names a readable regular file: a typo, a folder or a FIFO is bad input, not a clean scan."""
    for path in paths:
        try:
            open_regular(path).close()
        except FileRefused as exc:
            raise ValueError(f"log file {exc}") from None


def read_token(path: str | None) -> str | None:
    """The token from a file or stdin; ValueError with a clear message when it cannot be read or is empty."""
    if path is None:
        return None
    try:  # a regular file only (a FIFO is refused, never waited on), and no bigger than a token can be
        text = sys.stdin.read(TOKEN_LIMIT + 1) if path == "-" else read_text(path, TOKEN_LIMIT)
    except FileRefused as exc:
        raise ValueError(f"token file {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the token from stdin: {exc}") from None
    if len(text) > TOKEN_LIMIT:
        raise ValueError(f"the token on stdin is longer than {TOKEN_LIMIT} characters")
    if not text.strip():
        raise ValueError(f"the token file {path} is empty")
    return text.strip()
