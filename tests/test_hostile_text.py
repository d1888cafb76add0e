"""Text from the host or a file reaches the screen and text outputs literal, control characters visible (issue 11).

Any local user names a process, writes a log line, labels a container or sets an `application_name`; a snapshot
passed around in a ticket can hold anything. Pilot tests drive the app with such records and read the screen back;
property-based tests throw arbitrary text at every builder that turns a record into cells, a detail view or a report.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time

import pytest
from rich.text import Text

from tests.samples import containers as containers_sample
from tests.samples import processes as processes_sample
from tests.uihelpers import feed, frozen_app, populate, show
from tui.app import TshootApp
from tui.config import Config
from tui.processes.source import ProcessesSource
from tui.snapshot import load_snapshot
from tui.source import Source, SourceUnavailable
from tui.textsafe import visible
from widgets.dialogs import ConfirmScreen, TextScreen

# What an attacker writes: Textual markup that crashes (`[/x]`), acts (`[@click=...]`), styles (`[reverse]`) or
# vanishes (`[pid]`), and escape sequences that retitle the terminal or wipe the screen.
HOSTILE = ["[/x]", "[@click=app.quit]", "[reverse]PWN", "[pid]", "\x1b]0;PWNED\x07", "\x1b[2J"]
SHOWN = [visible(text) for text in HOSTILE]  # `\x1b` as the four characters backslash, x, 1, b
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def screen_text(app) -> str:
    """What the terminal shows right now, line by line (the active screen, toasts included)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def assert_literal(app, expected: list[str]) -> str:
    text = screen_text(app)
    assert not RAW_CONTROL.search(text), "a raw control character reached the screen"
    for shown in expected:
        assert shown in text, f"{shown!r} is not on the screen"
    return text


async def shows(pilot, expected: list[str], timeout: float = 10) -> str:
    """Wait until the screen shows every one of `expected` (a worker loads it, a toast slides in), then check it."""
    await wait_until(pilot, lambda: all(part in screen_text(pilot.app) for part in expected), timeout)
    return assert_literal(pilot.app, expected)


@pytest.mark.parametrize("raw, single_line, multiline", [
    ("\x1b]0;PWNED\x07", "\\x1b]0;PWNED\\x07", "\\x1b]0;PWNED\\x07"),
    ("a\nb\tc\rd", "a\\nb\\tc\\x0dd", "a\nb\tc\\x0dd"),
    ("\x9b2J \x7f \x00", "\\x9b2J \\x7f \\x00", "\\x9b2J \\x7f \\x00"),
    (b"caf\xe9".decode("utf-8", "surrogateescape"), "caf\\xe9", "caf\\xe9"),  # the byte that was not UTF-8
    ("\ud800", "\\ud800", "\\ud800"),
    ("admin\u202e\u2066txt.exe", "admin\\u202e\\u2066txt.exe", "admin\\u202e\\u2066txt.exe"),
    ("[b]é 界 ok[/b]", "[b]é 界 ok[/b]", "[b]é 界 ok[/b]"),  # printable text, markup included, is left as it is
    (None, "", ""),
    (42, "42", "42"),
])
def test_visible_escapes_control_characters(raw, single_line, multiline):
    assert visible(raw) == single_line
    assert visible(raw, multiline=True) == multiline


def test_visible_cuts_huge_text_and_says_how_much():
    assert visible("x" * 100_005) == "x" * 100_000 + "… (5 more characters)"
    assert visible("\x1b" * 10, limit=3) == "\\x1b" * 3 + "… (7 more characters)"
    assert visible("y" * 200_000, limit=None) == "y" * 200_000


async def wait_until(pilot, condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        await pilot.pause(0.1)


# ----- a crafted snapshot in `tshoot replay` -----

# Fields the loader checks against a fixed set (an unknown value is a malformed snapshot, issue 11 class 2):
# everything else in the file is free text and gets the attack appended.
ENUM_KEYS = {"schema", "severity", "source", "status", "stream", "kind", "domain", "level"}
ATTACK = " " + "".join(HOSTILE)


FREE_MAPS = {"env", "by_user", "by_application", "by_client"}  # records whose keys are host text too


def poisoned(value, key=None):
    """Every free-text string of a snapshot document, with the attack appended (and the keys of free maps)."""
    if isinstance(value, dict):
        return {(poisoned(k, "") if key in FREE_MAPS else k): poisoned(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [poisoned(v, key) for v in value]
    if isinstance(value, str) and key not in ENUM_KEYS:
        return value + ATTACK
    return value


SCREENS = {"threads": "vD", "containers": "l", "databases": "D", "logs": "Lv"}
MODAL_KEYS = "DldLv"


async def test_replay_of_a_crafted_snapshot_shows_every_field_literally(tmp_path):
    app = frozen_app(snapshot_dir=tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await populate(pilot)
        await pilot.press("S")
        await app.workers.wait_for_complete()
        await pilot.pause()
    path = next(tmp_path.glob("*.json"))
    path.write_text(json.dumps(poisoned(json.loads(path.read_text()))))
    replay = TshootApp(Config(), replay=load_snapshot(path))
    async with replay.run_test(size=(200, 60)) as pilot:
        await pilot.pause()
        for pane in ["processes", "threads", "databases", "containers", "env", "logs", "symptoms"]:
            replay.action_show_pane(pane)
            await pilot.pause()
            if pane == "threads":  # the process's name in the threads table's border title
                replay.pane("threads").select_subject({"pid": 901})
                await pilot.pause()
                assert "pid 901 gunicorn " + visible(ATTACK.strip())[:40] in screen_text(replay)
            text = assert_literal(replay, [])
            assert "[pid]" in text and "\\x1b[2J" in text, f"{pane}: the attack is not shown literally"
            for key in SCREENS.get(pane, ""):  # the pane's own dialogs: stacks with locals, deadlock report, logs
                await pilot.press(key)
                await pilot.pause()
                text = assert_literal(replay, [])
                assert "[pid]" in text and "\\x1b[2J" in text, f"{pane} {key}: the attack is not shown literally"
                if key in MODAL_KEYS:
                    await pilot.press("escape")
                    await pilot.pause()
        replay.action_show_pane("processes")
        await pilot.pause()
        await pilot.press("d")  # a replay's detail: the row's summary
        await pilot.pause()
        assert_literal(replay, ["[/x][@click=app.quit][reverse]PWN[pid]\\x1b]0;PWNED\\x07\\x1b[2J"])
        await pilot.press("escape")
        await pilot.press("exclamation_mark")  # the sections' errors, if any, and nothing crashes
        await pilot.pause()
    assert replay.return_code in (None, 0)


# ----- Processes: a real process named by an attacker, its detail view (`d`) -----

HOSTILE_CHILD = r"""
import ctypes, sys, time
ctypes.CDLL(None).prctl(15, b"[/x]\x1b[2J[pid]", 0, 0, 0)  # PR_SET_NAME: the name ps and psutil show
held = open(sys.argv[1])
print("ready", flush=True)
time.sleep(300)
"""


@pytest.fixture
def hostile_process(tmp_path):
    """A real process named `[/x]\\x1b[2J[pid]`, with an env value `[/oops]` and an open file `d[/]F`."""
    (tmp_path / "d[").mkdir()
    opened = tmp_path / "d[" / "]F"  # the path reads `…/d[/]F`: a closing tag with nothing to close
    opened.write_text("x")
    env = {"PATH": "/usr/bin:/bin", "EVIL": "[/oops][@click=app.quit]\x1b]0;PWNED\x07", "[reverse]PWN": "[pid]"}
    proc = subprocess.Popen([sys.executable, "-c", HOSTILE_CHILD, str(opened)], env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    yield proc
    proc.kill()
    proc.wait()


async def test_detail_of_a_process_with_a_hostile_name_env_and_open_file(hostile_process, tmp_path):
    app = TshootApp(Config(interval=0.3), [ProcessesSource(Config())])
    async with app.run_test(size=(200, 60)) as pilot:
        await wait_until(pilot, lambda: app.pane("processes").select_subject({"pid": hostile_process.pid}), 10)
        await shows(pilot, ["[/x]\\x1b[2J[pid]"])  # the table row
        await pilot.press("d")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "DetailScreen", 10)
        await shows(pilot, [f"pid {hostile_process.pid} — [/x]\\x1b[2J[pid]", "EVIL",
                            "[/oops][@click=app.quit]\\x1b]0;PWNED\\x07", "[reverse]PWN", "[pid]", f"{tmp_path}/d[/]F"])
        await pilot.press("escape")
        await pilot.press("k")  # the confirmation names the target literally
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5)
        await shows(pilot, ["([/x]\\x1b[2J[pid])"])
        await pilot.press("n")
    assert hostile_process.poll() is None


async def test_read_only_refusal_notification_shows_the_target_literally(hostile_process):
    app = TshootApp(Config(interval=0.3, read_only=True), [ProcessesSource(Config())])
    async with app.run_test(size=(200, 60), notifications=True) as pilot:
        await wait_until(pilot, lambda: app.pane("processes").select_subject({"pid": hostile_process.pid}), 10)
        await pilot.press("K")

        def toasts() -> str:  # the toast wraps its text: read what it renders, before the wrapping
            from textual.widgets._toast import Toast

            return "\n".join(toast.render().plain for toast in app.screen.query(Toast))

        await wait_until(pilot, lambda: "Refused in --read-only: SIGKILL" in toasts(), 5)
        assert "([/x]\\x1b[2J[pid])" in toasts() and not RAW_CONTROL.search(toasts())
        assert_literal(app, [])
    assert hostile_process.poll() is None and app.return_code in (None, 0)


class HostileBrokenSource(Source):
    """A collector whose error quotes what the server said (a driver error, an engine message)."""

    name = "databases"
    title = "Databases"
    section_type = dict

    def collect(self):
        raise SourceUnavailable("server said: " + "".join(HOSTILE), "ask [@click=app.quit]the admin")


async def test_problems_screen_and_banner_show_a_hostile_error_literally():
    app = TshootApp(Config(interval=0.3), [HostileBrokenSource(Config())])
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_until(pilot, lambda: app.status["databases"].error is not None, 5)
        app.action_show_pane("databases")
        await pilot.pause()
        assert_literal(app, ["".join(SHOWN)])  # the pane's banner
        await pilot.press("exclamation_mark")
        assert isinstance(app.screen, TextScreen)
        await pilot.pause()
        assert_literal(app, ["server said: " + "".join(SHOWN), "ask [@click=app.quit]the admin"])
        await pilot.press("escape")
        await app.workers.wait_for_complete()
    assert app.return_code in (None, 0)



@pytest.mark.services
async def test_live_postgres_query_and_application_name_shown_literally(pg_url):
    """A real session whose query holds escapes and markup (`\\e[2J` wiped the Databases pane) and whose
    application_name is markup (PostgreSQL keeps printable ASCII there)."""
    from tests.test_databases_helpers import Sessions, unique_name
    from tui.databases.source import DatabasesSource

    sessions = Sessions(pg_url=pg_url)
    application = unique_name("[reverse]PWN[pid]")
    client = sessions.pg(application)
    sessions.in_background(client, "SELECT pg_sleep(30) /* \x1b]0;PWNED\x07 \x1b[2J [/x] [@click=app.quit] */")
    config = Config(db_urls=[pg_url])
    source = DatabasesSource(config, scan_processes=False)
    app = frozen_app(config, sources=[source])
    try:
        async with app.run_test(size=(220, 50)) as pilot:
            await pilot.press("3")

            def mine():
                section = app.sections.get("databases")
                states = [r.state for r in section.targets if r.state] if section else []
                return next((s for state in states for s in state.sessions if s.application == application
                             and "pg_sleep" in s.query), None)

            await wait_until(pilot, lambda: mine() is not None, 15)
            session = mine()
            assert app.pane("databases").select_subject({"pid": session.id})
            await pilot.pause()
            text = assert_literal(app, ["[reverse]PWN[pid]", "\\x1b]0;PWNED\\x07 \\x1b[2J [/x] [@click=app.quit]"])
            assert "pg_sleep(30)" in text
    finally:
        sessions.close()
        source.close()



@pytest.mark.services
async def test_live_container_logs_and_health_output_shown_literally(docker_client, docker_image):
    """A container that prints escape sequences and markup to stdout, stderr and its health check (they wiped
    the Containers pane and left it garbled)."""
    import uuid

    from tui.containers.source import ContainersSource

    name = f"tshoot-test-{uuid.uuid4().hex[:6]}-hostile"
    second = 1_000_000_000
    container = docker_client.containers.run(docker_image, ["sh", "-c", (
        'printf "out \\033]0;PWNED\\007 [/x] [pid]\\n"; printf "err [reverse]PWN \\033[2J\\n" >&2; '
        'trap "exit 0" TERM; while true; do sleep 1; done')], name=name, detach=True, healthcheck={
        "test": ["CMD-SHELL", 'printf "probe \\033[2J [@click=app.quit]\\n"; exit 1'],
        "interval": second, "timeout": second, "retries": 1})
    app = TshootApp(Config(interval=0.5), sources=[ContainersSource(Config())])
    try:
        async with app.run_test(size=(200, 60)) as pilot:
            await pilot.press("4")
            pane = app.pane("containers")
            await wait_until(pilot, lambda: pane.select_subject({"name": name}), 20)
            await shows(pilot, ["probe \\x1b[2J [@click=app.quit]", "err [reverse]PWN \\x1b[2J",
                                "out \\x1b]0;PWNED\\x07 [/x] [pid]"], timeout=30)  # the card: health, last logs
            await pilot.press("l")
            await shows(pilot, ["err [reverse]PWN \\x1b[2J", "out \\x1b]0;PWNED\\x07 [/x] [pid]"])  # the log view
            await pilot.press("escape")
    finally:
        docker_client.api.remove_container(container.id, force=True)

# ----- text outputs, end to end: the real CLI writes no raw control byte -----

def tshoot_cli(*args: str) -> subprocess.CompletedProcess:
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, timeout=120, cwd=root)


def test_env_diff_table_shows_escapes_literally(tmp_path):
    left, right = tmp_path / "left.env", tmp_path / "right.env"
    left.write_bytes(b"MODE=\x1b]0;PWNED\x07[/x]\nCOLOR=\x1b[2J\n")
    right.write_bytes(b"MODE=calm\nCOLOR=blue\n")
    done = tshoot_cli("env-diff", str(left), str(right))
    assert done.returncode == 1, done.stderr
    assert not RAW_CONTROL.search(done.stdout.decode()), done.stdout
    assert b"\\x1b]0;PWNED\\x07[/x]" in done.stdout and b"\\x1b[2J" in done.stdout


LISTENER = r"""
import ctypes, socket, time
ctypes.CDLL(None).prctl(15, b"[/x]\x1b[2J[pid]", 0, 0, 0)
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
print(server.getsockname()[1], flush=True)
time.sleep(300)
"""


def test_markdown_report_of_a_hostile_listener_has_no_raw_escape(tmp_path):
    """The report's `Listening:` line names the process: a name holding ESC bytes is written escaped."""
    proc = subprocess.Popen([sys.executable, "-c", LISTENER], stdout=subprocess.PIPE, text=True)
    try:
        port = proc.stdout.readline().strip()
        out = tmp_path / "report.md"
        done = tshoot_cli("snapshot", "-o", str(out), "--format", "md", "--observe", "0")
        assert done.returncode == 0, done.stderr
        report = out.read_text()
        assert f"tcp/{port} ([/x]\\x1b[2J[pid])" in report
        assert not RAW_CONTROL.search(report.replace("\t", " "))
    finally:
        proc.kill()
        proc.wait()

# ----- property-based: every builder, arbitrary text -----

from dataclasses import fields, is_dataclass, replace  # noqa: E402
from types import SimpleNamespace  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.samples import databases as databases_sample  # noqa: E402
from tests.samples import env as env_sample  # noqa: E402
from tests.samples import threads as threads_sample  # noqa: E402
from tui.cli import doctor_text as cli_doctor_text  # noqa: E402
from tui.containers import pane as containers_pane  # noqa: E402
from tui.databases import pane as databases_pane  # noqa: E402
from tui.env import pane as env_pane  # noqa: E402
from tui.env.command import format_table  # noqa: E402
from tui.env.diff import DiffRow, EnvDiff  # noqa: E402
from tui.findings import Finding  # noqa: E402
from tui.processes import pane as processes_pane  # noqa: E402
from tui.processes.records import ProcessDetail  # noqa: E402
from tui.redact import redact_text  # noqa: E402
from tui.snapshot import build_snapshot, markdown_report  # noqa: E402
from tui.symptoms.command import guide_text  # noqa: E402
from tui.symptoms.guides import Fix, load_guides  # noqa: E402
from tui.symptoms.render import evidence_lines, result_lines  # noqa: E402
from tui.symptoms.runner import CheckResult, Jump  # noqa: E402
from tui.threads import pane as threads_pane  # noqa: E402
from tui.threads.deadlock import thread_state  # noqa: E402
from widgets.keyed_table import _literal  # noqa: E402

PROPERTY = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Markup, escapes and controls, bidi overrides, lone surrogates (invalid UTF-8 read with surrogateescape), huge text.
NASTY_CHARS = list("[]/@=\\#abc \n\r\t\x00\x07\x08\x1b\x7f\x85\x9b") + ["\u202e", "\u2066", "\ud800", "\udcff", "é", "界"]
FIELD_TEXTS = [
    st.text(max_size=200),
    st.text(alphabet=st.sampled_from(NASTY_CHARS), max_size=200),
    st.sampled_from(HOSTILE),
    st.binary(max_size=200).map(lambda raw: raw.decode("utf-8", "surrogateescape")),
]
field_text = st.one_of(*FIELD_TEXTS)
# ...and, one time in five, text longer than `visible` shows (it is cut, saying how much): a huge argv or log line.
host_text = st.one_of(*FIELD_TEXTS, st.integers(min_value=12_500, max_value=14_000).map(lambda n: "[/x]\x1b[2J" * n))

ENUM_FIELDS = {"status", "severity", "stream", "kind", "domain", "source", "state", "chosen_by", "origin"}
FREE_KEYS = {"environ", "env", "by_user", "by_application", "by_client"}  # dicts whose keys are host text too


def poison(value, text: str, name: str = ""):
    """A copy of a record (dataclasses, dicts, lists) with every free-text string set to `text`."""
    if is_dataclass(value) and not isinstance(value, type):
        return replace(value, **{f.name: poison(getattr(value, f.name), text, f.name) for f in fields(value) if f.init})
    if isinstance(value, dict):
        return {(f"{k}{text}" if name in FREE_KEYS else k): poison(v, text, k if isinstance(k, str) else "")
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(poison(v, text, name) for v in value)
    if isinstance(value, str) and name not in ENUM_FIELDS:
        return text
    return value


def plain(out) -> str:
    return out.plain if isinstance(out, Text) else out


def shown(text: str) -> str:
    """How the start of `text` must read on screen: literal, escapes visible (long text is cut further on)."""
    return visible(text[:200])  # table cells keep the first few hundred characters


def assert_safe(out, *shown_whole: str) -> None:
    """No raw control character, nothing a terminal cannot encode, and each of `shown_whole` literally in it."""
    text = plain(out)
    assert not RAW_CONTROL.search(text), repr(RAW_CONTROL.search(text).group())
    text.encode("utf-8")  # a lone surrogate would raise here, as it would when written to the terminal
    for part in shown_whole:
        assert part in text


def assert_cells_safe(cells: tuple, *shown_whole: str) -> None:
    """The cells as KeyedTable shows them (strings literal, control characters visible)."""
    assert_safe("\n".join(plain(_literal(cell)) for cell in cells), *shown_whole)


@PROPERTY
@given(text=host_text)
def test_processes_rows_and_detail(text):
    section = poison(processes_sample.section(), text)
    pane = SimpleNamespace(section=section, flags={})
    for row in section.rows:
        assert_cells_safe(processes_pane.ProcessesPane._cells(pane, row, "├─ "), shown(text))
        assert_safe(processes_pane.row_summary(row), shown(text))
    for port in section.listening:
        assert_cells_safe(processes_pane.port_cells(port), shown(text))
    detail = ProcessDetail(pid=7, name=text, user=text, exe=text, cwd=text, cmdline=text, environ={text: text},
                           open_files=[text, text], connections=[text], thread_ids=[7], cpu_history=[], rss_history=[],
                           denied=[text])
    for out in (processes_pane.detail_heading(detail), processes_pane.detail_paths(detail),
                processes_pane.detail_listing("open files", detail.open_files)):
        assert_safe(out, shown(text))
    assert_safe(processes_pane.summary_text(section))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])  # many frames per example
@given(text=host_text)
def test_threads_rows_stacks_and_deadlock_summary(text):
    section = poison(threads_sample.section(), text)
    findings = poison(threads_sample.findings(), text)
    for process in section.processes.values():
        for thread in process.threads:
            assert_cells_safe((thread.name, thread_state(thread), threads_pane._where(thread)))
            assert_safe(threads_pane.stack_text(thread, show_locals=True), shown(text))
    assert_safe(threads_pane.deadlock_summary([f for f in findings if f.id == "deadlock"]))


@PROPERTY
@given(text=host_text)
def test_databases_rows_detail_and_connection_check(text):
    section = poison(databases_sample.section(), text)
    findings = poison(databases_sample.findings(), text)
    for result in section.targets:
        assert_cells_safe(databases_pane.target_cells(result, findings))
        sessions = result.state.sessions if result.state else []
        for session in sessions:
            assert_cells_safe(databases_pane.session_cells(session, "!"))
        assert_safe(databases_pane.detail_text(result, sessions[0] if sessions else None), shown(text))
        if result.connection_check:
            assert_safe(databases_pane.connection_check_text(result.connection_check), shown(text))


@PROPERTY
@given(text=host_text)
def test_containers_rows_card_details_and_logs(text):
    section = poison(containers_sample.section(), text)
    findings = poison(containers_sample.findings(), text)
    for record in section.containers:
        assert_cells_safe(containers_pane.row_cells(record, "!", section.taken_at), shown(text))
        assert_safe(containers_pane.why_card(record, findings, section.taken_at), shown(text))
        assert_safe(containers_pane.details_text(record))
        assert_safe(containers_pane.memory_line(record))
        for line in record.last_logs:
            assert_safe(containers_pane.log_text(line), shown(text))


@PROPERTY
@given(text=host_text)
def test_env_rows_and_env_diff_table(text):
    rows = [DiffRow(key=text, status=status, left=text, right=text, detail=text)
            for status in ("changed", "only-left", "only-right", "same")]
    for row in rows:
        assert_cells_safe(env_pane.row_cells(row))
    diff = EnvDiff(left=text, right=text, rows=rows, left_problems=[text], right_problems=[text])
    assert_safe(format_table(diff, include_same=True, width=120))
    for diff in poison(env_sample.section(), text).diffs:
        assert_safe(format_table(diff, include_same=True, width=80))


def _results(text: str) -> list[CheckResult]:
    probe = {"url": text, "remote": text, "method": "GET", "sent_token": True, "status": 500, "error": text,
             "http_version": "HTTP/1.1", "reason": text, "headers": [[text, text]], "connect_ms": 1, "total_ms": 2,
             "body_excerpt": text}
    died = {"name": text, "from": text, "exception": text, "lines": [f"Traceback\n{text}\n{text}", text]}
    evidence = {"probes": [probe, {**probe, "status": None}], "containers": [died, {**died, "exception": ""}],
                "findings": [{"severity": "warning", "source": text, "title": text, "subject": {text: text},
                              "evidence": {"lines": [f"{text}\n{text}"]}}],
                "logs_read": [text],
                "targets": [{"url": text, "error": text, "steps": [{"status": "fail", "name": text, "detail": text}]}],
                "lines": [text, text], text: text}
    fix = Fix(steps=[text], commands=[text], code=text)
    return [CheckResult(id=text, title=text, status=status, summary=text, evidence=evidence, fix=fix,
                        jump=Jump(text, {text: text})) for status in ("fail", "warn", "pass", "skipped")]


GUIDE = next(iter(load_guides().guides.values()))


@PROPERTY
@given(text=host_text)
def test_guide_text_and_result_lines(text):
    results = _results(text)
    guide = replace(GUIDE, id=text, title=text, meaning=text, verify=text)
    out = guide_text(guide, results)
    assert_safe(out)
    for result in results:
        for line in result_lines(result) + evidence_lines(result.evidence):
            assert "\n" not in line
            assert_safe(line)


def _findings(text: str) -> list[Finding]:
    samples = [*processes_sample.findings(), *threads_sample.findings(), *databases_sample.findings(),
               *containers_sample.findings(), *env_sample.findings()]
    return [replace(f, title=text, detail=text, subject={**f.subject, "name": text}) for f in samples]


@PROPERTY
@given(text=field_text)
def test_doctor_text(text):
    out = cli_doctor_text(_findings(text), {"databases": (text, text), "containers": (text, "")}, {"containers"})
    assert_safe(out)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=field_text)  # every field of a snapshot huge at once takes the redactor minutes
def test_markdown_report(text):
    sections = {name: poison(module.section(), text) for name, module in
                [("processes", processes_sample), ("threads", threads_sample), ("databases", databases_sample),
                 ("containers", containers_sample), ("env", env_sample)]}
    doc = build_snapshot(host=text, sections=sections, errors={"symptoms": (text, text)}, findings=_findings(text),
                         actions=[], notes={"observed": text})
    assert_safe(markdown_report(doc))


@PROPERTY
@given(text=host_text)
def test_literal_widget_text_round_trips(text):
    """What KeyedTable, the dialogs and the panes put on screen reads back as the input, escapes visible."""
    from textual.content import Content

    from tui.textsafe import literal

    cell = _literal(text)
    assert plain(cell) == visible(text)
    assert_safe(cell)
    assert Content.from_rich_text(literal(text, multiline=True)).plain == visible(text, multiline=True)  # Static, titles
    assert_safe(visible(redact_text(text)), shown(redact_text(text)))  # the redactor takes anything


def test_a_styled_cell_with_control_characters_is_shown_escaped_in_its_style():
    cell = _literal(Text("down \x1b[2J", style="bold red", overflow="ellipsis", no_wrap=True))
    assert (cell.plain, str(cell.style), cell.overflow, cell.no_wrap) == ("down \\x1b[2J", "bold red", "ellipsis", True)
    styled = Text.assemble(("ok", "green"), " fine")
    assert _literal(styled) is styled  # nothing to escape: spans kept


def test_a_thread_name_with_newlines_cannot_start_a_fake_finding_in_the_report_or_doctor():
    """A local user names a thread "evil\\n## Findings (0)\\n### [INFO] all clear": titles stay one line."""
    from tui.cli import doctor_text
    from tui.findings import Finding
    from tui.snapshot import build_snapshot, markdown_report

    name = 'evil\n```\n\n## Findings (0)\n\n### [INFO] all clear\n\n<script>x</script>'
    finding = Finding(id="deadlock", severity="critical", source="threads",
                      title=f'Deadlock in pid 7 (python3): "{name}" and "B" wait for each other\'s locks',
                      detail="d", subject={"pid": 7}, evidence={"threads": []})
    report = markdown_report(build_snapshot(sections={}, errors={}, findings=[finding], actions=[]))
    text = doctor_text([finding], {})
    for out in (report, text):
        assert "\n### [INFO] all clear" not in out and "\n## Findings (0)" not in out
        assert 'evil\\n```\\n\\n## Findings (0)' in out  # shown, escaped, on the title's own line


async def test_the_filter_finds_a_hostile_name_by_what_the_screen_shows():
    """A name shown as `\\x1b]0;PWNED` is found by typing what is on screen (`x1b`), not only the raw byte."""
    import dataclasses

    from tests.samples import processes as sample
    from tests.uihelpers import feed, frozen_app
    from tui.processes.pane import ProcessesPane

    section = sample.section()
    section.rows[0] = dataclasses.replace(section.rows[0], name="\x1b]0;PWNED", cmdline="\x1b]0;PWNED")
    app = frozen_app()
    async with app.run_test(size=(160, 40)) as pilot:
        feed(app, "processes", section, [])
        await pilot.pause()
        pane = app.query_one(ProcessesPane)
        pane.set_filter("x1b]0;pwned")
        assert [r.pid for r in pane._visible_rows()] == [section.rows[0].pid]
