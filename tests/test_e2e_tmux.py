"""The real `tshoot` binary in a real terminal (tmux): start, switch panes, help, snapshot, quit."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=10).stdout


class Terminal:
    def __init__(self, session: str) -> None:
        self.session = session

    def screen(self) -> str:
        return tmux("capture-pane", "-p", "-t", self.session)

    def wait_for(self, text: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; screen was:\n{self.screen()}")

    def keys(self, *keys: str) -> None:
        tmux("send-keys", "-t", self.session, *keys)

    def alive(self) -> bool:
        return subprocess.run(["tmux", "has-session", "-t", self.session], capture_output=True).returncode == 0


@pytest.fixture
def terminal(tmp_path):
    if not shutil.which("tmux"):
        pytest.fail("tmux is required for the end-to-end test (scripts/services.sh installs it)")
    session = f"tshoot-e2e-{uuid.uuid4().hex[:8]}"
    tshoot = Path(sys.executable).parent / "tshoot"
    # COLUMNS/LINES inherited from the test run would override the real terminal size
    command = f"cd {tmp_path} && exec env -u COLUMNS -u LINES {tshoot} --interval 1 --read-only"
    tmux("new-session", "-d", "-s", session, "-x", "140", "-y", "40", command)
    tmux("resize-window", "-t", session, "-x", "140", "-y", "40")  # a running tmux server may ignore -x/-y
    yield Terminal(session)
    tmux("kill-session", "-t", session)


def test_start_switch_help_snapshot_quit(terminal, tmp_path):
    terminal.wait_for("processes, sorted by cpu")
    screen = terminal.wait_for("COMMAND")
    assert "READ-ONLY" in screen and "PID" in screen and "COMMAND" in screen

    terminal.keys("?")
    help_screen = terminal.wait_for("1=Processes")
    assert "tshoot help" in help_screen and "Listening ports" in help_screen
    terminal.keys("Escape")
    time.sleep(0.5)  # a key right after Esc would arrive as Alt+key

    # each marker is text only that pane shows (the tab bar names every pane all the time)
    for key, marker in [("2", "Choose a process"), ("3", "LOCAL PID"), ("4", " containers, "), ("5", "quick picks"),
                        ("6", "Logs: following"), ("7", "Overview:")]:
        terminal.keys(key)
        terminal.wait_for(marker)
    terminal.keys("1")
    terminal.wait_for("processes, sorted by cpu")

    terminal.keys("/")
    time.sleep(0.3)
    terminal.keys(*"tshoot")
    terminal.keys("Enter")
    terminal.wait_for("filter 'tshoot'")

    terminal.keys("S")
    terminal.wait_for("Snapshot written to", timeout=30)
    snapshots = list(tmp_path.glob("tshoot-*.json"))
    assert len(snapshots) == 1
    doc = json.loads(snapshots[0].read_text())
    assert doc["processes"]["rows"] and "findings" in doc

    terminal.keys("q")
    deadline = time.monotonic() + 10
    while terminal.alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not terminal.alive(), terminal.screen()


def test_an_80x24_terminal_keeps_the_header_and_keys_after_end(terminal):
    """What many SSH clients open: End blanked the header and PID columns; the footer hid K."""
    tmux("resize-window", "-t", terminal.session, "-x", "80", "-y", "24")
    terminal.wait_for("processes, sorted by cpu")
    terminal.wait_for("COMMAND")
    screen = terminal.wait_for("K KILL")  # the footer fills in once the table has focus (later on a loaded box)
    assert "K KILL" in screen.splitlines()[-1]
    terminal.keys("End")
    time.sleep(1)
    screen = terminal.screen()
    header = next((line for line in screen.splitlines() if " PID " in line), "")
    assert "PID" in header and "NAME" in header, screen
    terminal.keys("3")
    footer = terminal.wait_for("o Local proc").splitlines()[-1]
    assert "K Terminate" in footer and "t Stack" in footer
