"""`tshoot` and its subcommands. Bad input exits 2 with a message naming the file or flag and the problem."""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path

from tui import __version__, registry
from tui.config import DATABASE_URL, OBSERVE, PID, SETTINGS, Config, ConfigError, flag_type, load_config
from tui.env import command as env_command
from tui.symptoms import command as guide_command
from tui.findings import by_severity, exit_code
from tui.safefile import FileRefused, open_regular

EXIT_BAD_INPUT = 2
QUIT_GRACE_S = 0.5  # after the UI has ended, how long Python may spend waiting for threads before it exits


def _target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="TOML config (default ~/.config/tshoot/config.toml)")
    parser.add_argument("--pid", type=flag_type(PID, "pid"), action="append", default=[], metavar="PID",
                        help="Python process to dump and analyse in Threads (repeatable)")
    parser.add_argument("--db", type=flag_type(DATABASE_URL, "database URL"), action="append", default=[],
                        metavar="URL",
                        help="database URL to watch, e.g. postgresql://user@host:5432/db (repeatable)")
    parser.add_argument("--log", action="append", default=[], metavar="FILE",
                        help="log file to follow in Logs, added to log_paths (repeatable; one not there yet is "
                             "followed once it appears)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tshoot",
        description="A live troubleshooting inspector for servers. Without a command: the live terminal UI.",
        epilog=f"Keys in the UI: {registry.specs()[0].key}-{registry.specs()[-1].key} panes, / filter, ? help, p pause, "
               "S snapshot, q quit.",
    )
    parser.add_argument("--version", action="version", version=f"tshoot {__version__}")
    _target_options(parser)
    parser.add_argument("--interval", type=flag_type(SETTINGS["interval"], "interval"), metavar="SECONDS",
                        help="refresh interval (default 2)")
    parser.add_argument("--read-only", action="store_true", help="refuse every action that changes the system")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    snap = sub.add_parser("snapshot", help="collect every pane once and write a JSON snapshot or Markdown report")
    _target_options(snap)
    snap.add_argument("-o", "--output", metavar="FILE", help="output file (default tshoot-<host>-<time>.json|md)")
    snap.add_argument("--format", choices=["json", "md"], default="json")
    snap.add_argument("--observe", type=flag_type(OBSERVE, "observe"), default=3.0, metavar="SECONDS",
                      help="sample for this long so rates and trends exist (default 3)")

    replay = sub.add_parser("replay", help="open a saved snapshot in the UI (read-only)")
    replay.add_argument("file", metavar="FILE")

    doctor = sub.add_parser("doctor", help="collect, analyse and print findings; exit 0 ok, 1 warnings, 2 critical")
    _target_options(doctor)
    doctor.add_argument("--json", action="store_true", help="findings as JSON")
    doctor.add_argument("--observe", type=flag_type(OBSERVE, "observe"), default=3.0, metavar="SECONDS",
                        help="sample for this long before judging (default 3)")

    env_command.configure(sub.add_parser(
        "env-diff", help="compare two environments key by key, secrets never shown; exit 0 same, 1 differ, 2 bad input"))
    guide_command.configure(sub.add_parser(
        "guide", help="list the symptom guides, or run one: live checks, evidence, fix; exit as doctor"))
    return parser


def _config(args: argparse.Namespace) -> Config:
    config = load_config(args.config)
    guide_command.check_pids(args.pid)
    config.pids = list(dict.fromkeys([*config.pids, *args.pid]))
    config.db_urls = list(dict.fromkeys([*config.db_urls, *args.db]))
    config.db_url_flags = list(args.db)
    check_log_flags(args.log)
    config.log_paths = list(dict.fromkeys([*config.log_paths, *args.log]))
    config.log_path_flags = list(args.log)
    if getattr(args, "interval", None):
        config.interval = args.interval
    if getattr(args, "read_only", False):
        config.read_only = True
    return config


def check_log_flags(paths: list[str]) -> None:
    """A `--log` that exists must be a regular file (a folder or a FIFO is a mistake); a missing one is followed
    once it appears, as `tail -F` does."""
    for path in paths:
        try:
            open_regular(path).close()
        except FileRefused as exc:
            if exc.problem != "no such file":
                raise ConfigError(f"--log {exc}") from None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "snapshot":
            return _snapshot(args)
        if args.command == "replay":
            return _replay(args)
        if args.command == "doctor":
            return _doctor(args)
        if args.command == "env-diff":
            return env_command.run(args)
        if args.command == "guide":
            return guide_command.run(args)
        return _live(args)
    except ConfigError as exc:
        print(f"tshoot: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # `tshoot doctor | head`: the reader has gone; say nothing more, no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's own flush at exit must not fail
        return 1


def _live(args: argparse.Namespace) -> int:
    config = _config(args)
    if not sys.stdout.isatty() or not sys.stdin.isatty():
        print("tshoot: the live UI needs a terminal; use `tshoot snapshot` or `tshoot doctor` in scripts", file=sys.stderr)
        return EXIT_BAD_INPUT
    sources = registry.build_sources(config)
    if sources:
        sources[0].prefetch()  # the first tab is the first paint
    from tui.app import TshootApp  # Textual is only imported for the UI

    app = TshootApp(config, sources)
    gc.freeze()  # start-up objects live for the whole session: keep them out of every full collection
    return _run_ui(app)


def _replay(args: argparse.Namespace) -> int:
    from tui.snapshot import SnapshotError, load_snapshot

    try:
        loaded = load_snapshot(args.file)
    except SnapshotError as exc:
        print(f"tshoot replay: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not sys.stdout.isatty():
        print("tshoot replay: needs a terminal", file=sys.stderr)
        return EXIT_BAD_INPUT
    from tui.app import TshootApp

    config = Config(read_only=True)
    app = TshootApp(config, replay=loaded)
    return _run_ui(app)


def _run_ui(app) -> int:  # noqa: ANN001 - TshootApp, imported only for the UI
    """Run the UI; its exit code is 1 when an unhandled exception ended it (Textual's return code).

    Once it has ended the process leaves within QUIT_GRACE_S even if a collector's thread is still blocked
    (a database that stopped answering, in a source's own thread pool): Python would wait for it at exit."""
    app.run()
    code = app.return_code or 0

    def leave() -> None:
        time.sleep(QUIT_GRACE_S)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

    threading.Thread(target=leave, name="tshoot-exit", daemon=True).start()
    return code


def _snapshot(args: argparse.Namespace) -> int:
    from tui.snapshot import build_snapshot, collect_all, default_snapshot_name, write_snapshot

    config = _config(args)
    output = Path(args.output) if args.output else Path(default_snapshot_name(socket.gethostname(), args.format))
    if output.parent and not output.parent.exists():
        print(f"tshoot snapshot: {output}: directory {output.parent} does not exist", file=sys.stderr)
        return EXIT_BAD_INPUT
    collection = collect_all(config, args.observe)
    doc = build_snapshot(sections=collection.sections, errors=collection.errors, findings=collection.findings, actions=[],
                         keep_locals=config.snapshot_locals)
    try:
        write_snapshot(doc, output, args.format)
    except OSError as exc:
        print(f"tshoot snapshot: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    failed = ", ".join(f"{name} ({reason})" for name, (reason, _) in collection.errors.items())
    print(f"snapshot written to {output}" + (f"; not collected: {failed}" if failed else ""))
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from tui.redact import redact_deep
    from tui.snapshot import collect_all

    from tui.databases.analysis import reported_apart

    config = _config(args)
    collection = collect_all(config, args.observe)
    # Databases found in other processes' settings are reported apart when the operator named their own: they
    # never decide the exit code of a run about the named ones.
    findings = by_severity([f for f in collection.findings if not reported_apart(f)])
    apart = by_severity([f for f in collection.findings if reported_apart(f)])
    if args.json:
        doc = {
            "host": socket.gethostname(),
            "findings": [dataclasses.asdict(f) for f in findings],
            "discovered_databases_findings": [dataclasses.asdict(f) for f in apart],
            "unavailable": {name: {"reason": r, "remedy": m} for name, (r, m) in collection.errors.items()},
            "exit_code": exit_code(findings),
        }
        print(json.dumps(redact_deep(doc), indent=1, default=str))
    else:
        print(doctor_text(findings, collection.errors, collection.idle, apart))
    return exit_code(findings)


def doctor_text(findings: list, errors: dict[str, tuple[str, str]], idle: set[str] | frozenset = frozenset(),
                apart: list | None = None) -> str:
    from tui.redact import redact_text
    from tui.textsafe import visible
    from tui.threads.deadlock import format_deadlock_report

    lines = []
    failed = [name for name in errors if name not in idle]
    if not findings and failed:  # nothing found where nothing could be looked at is not an all-clear
        lines.append(f"NOT ALL CHECKED: nothing above normal found in what was collected, but {', '.join(failed)} "
                     "could not be collected (see below).")
    elif not findings:
        lines.append("OK: nothing above normal found.")
    for f in findings:
        subject = ", ".join(f"{k}={v}" for k, v in f.subject.items())
        lines.append(f"[{f.severity.upper()}] {f.title}" + (f"  ({subject})" if subject else ""))
        for line in f.detail.splitlines():
            lines.append(f"    {line}")
        if f.id == "deadlock":
            lines += [f"    {line}" for line in format_deadlock_report(f).splitlines()]
        if f.guide:
            lines.append(f"    guide: tshoot guide {f.guide}")
        lines.append("")
    if apart:
        lines.append("Databases found in other processes' settings (not the ones named; not in the exit code):")
        lines += [f"  [{f.severity.upper()}] {f.title}" for f in apart]
        lines.append("")
    for name, (reason, remedy) in errors.items():
        label = "NOTHING TO WATCH" if name in idle else "NOT COLLECTED"
        lines.append(f"[{label}] {name}: {reason}" + (f" — {remedy}" if remedy else ""))
    return visible(redact_text("\n".join(lines).rstrip()), multiline=True, limit=None)  # host text: never raw ESC


if __name__ == "__main__":
    sys.exit(main())
