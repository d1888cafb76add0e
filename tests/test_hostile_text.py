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


async def wait_until(pilot, condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        await pilot.pause(0.1)


# ----- a crafted snapshot in `tshoot replay` -----

# Fields the loader checks against a fixed set (an unknown value is a malformed snapshot, issue 11 class 2):
# everything else in the file is free text and gets the attack appended.
ENUM_KEYS = {"schema", "severity", "source", "status", "stream", "kind", "domain"}
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


SCREENS = {"threads": "vD", "containers": "l", "databases": "d"}
MODAL_KEYS = "Dld"


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
        for pane in ["processes", "threads", "databases", "containers", "env", "symptoms"]:
            replay.action_show_pane(pane)
            await pilot.pause()
            if pane == "threads":
                replay.pane("threads").select_subject({"pid": 901})
                await pilot.pause()
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
        await pilot.pause()
        assert_literal(app, ["[/x]\\x1b[2J[pid]"])  # the table row
        await pilot.press("d")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "DetailScreen", 10)
        await pilot.pause()
        text = assert_literal(app, [f"pid {hostile_process.pid} — [/x]\\x1b[2J[pid]",
                                    "[/oops][@click=app.quit]\\x1b]0;PWNED\\x07", "[reverse]PWN", "[pid]",
                                    f"{tmp_path}/d[/]F"])
        assert "EVIL" in text
        await pilot.press("escape")
        await pilot.press("k")  # the confirmation names the target literally
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.pause()
        assert_literal(app, ["([/x]\\x1b[2J[pid])"])
        await pilot.press("n")
    assert hostile_process.poll() is None


async def test_read_only_refusal_notification_shows_the_target_literally(hostile_process):
    app = TshootApp(Config(interval=0.3, read_only=True), [ProcessesSource(Config())])
    async with app.run_test(size=(200, 60)) as pilot:
        await wait_until(pilot, lambda: app.pane("processes").select_subject({"pid": hostile_process.pid}), 10)
        await pilot.press("K")
        await pilot.pause(0.3)
        assert_literal(app, ["[/x]\\x1b[2J[pid]"])  # in the toast
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
