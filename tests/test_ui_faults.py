"""tshoot's own bugs: a UI crash exits non-zero, a failing worker or collector is logged (redacted, with its
traceback, under the XDG state directory) and its path shown, and `q` quits while a collector is blocked."""

from __future__ import annotations

import fcntl
import os
import pty
import stat
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from tests.uihelpers import frozen_app
from tui import errorlog
from tui.app import TshootApp
from tui.config import Config
from tui.snapshot import build_snapshot, collect_all, write_snapshot
from tui.source import Source
from widgets.dialogs import TextScreen

ROOT = Path(__file__).resolve().parent.parent
FAULTS = Path(__file__).parent / "programs" / "ui_faults.py"
SECRET = "hunter2-planted"


class Terminal:
    """A program in a real pseudo-terminal (Textual needs one), its output collected as it comes."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
        self.process = subprocess.Popen([sys.executable, str(FAULTS), *args], cwd=ROOT, env=env,
                                        stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
        os.close(slave)
        self.master = master
        self.output = bytearray()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: the program closed the terminal
                return
            if not chunk:
                return
            self.output += chunk

    def press(self, key: bytes) -> None:
        os.write(self.master, key)

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self.reader.join(2)
            os.close(self.master)

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", "replace")


@pytest.fixture
def state_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    return home


def program_env(state_home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return {**env, "TERM": "xterm-256color", "XDG_STATE_HOME": str(state_home), **extra}


def assert_logged(state_home: Path, *expected: str) -> str:
    log = state_home / "tshoot" / "tshoot.log"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600 and stat.S_IMODE(log.parent.stat().st_mode) == 0o700
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and SECRET not in text
    for part in expected:
        assert part in text
    return text


@pytest.mark.parametrize("mode", ["live", "replay"])
def test_a_ui_crash_exits_non_zero_with_the_log_path_and_no_secret(tmp_path, state_home, mode):
    args = ["crash", "--read-only"]
    if mode == "replay":
        snapshot = tmp_path / "s.json"
        write_snapshot(build_snapshot(host="web-1", sections={}, errors={}, findings=[], actions=[]), snapshot, "json")
        args = ["crash", "replay", str(snapshot)]
    terminal = Terminal(args, program_env(state_home))
    code = terminal.wait(30)
    assert code == 1, terminal.text[-2000:]
    assert "tshoot stopped on an unexpected error" in terminal.text
    assert str(state_home / "tshoot" / "tshoot.log") in terminal.text
    assert SECRET not in terminal.text  # Textual's own report would print every frame's locals
    assert_logged(state_home, "RuntimeError: planted crash", "the terminal UI")


@pytest.mark.parametrize("mode", ["block", "block-in-pool"])
def test_q_quits_at_once_while_a_collector_is_blocked(tmp_path, state_home, mode):
    started = tmp_path / "started"
    terminal = Terminal([mode, "--read-only"], program_env(state_home, STARTED_FILE=str(started)))
    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert started.exists(), terminal.text[-2000:]
    time.sleep(0.5)
    pressed = time.monotonic()
    terminal.press(b"q")
    code = terminal.wait(20)
    assert time.monotonic() - pressed < 2.5  # about 1 s; the rest is headroom for a loaded machine
    assert code == 0


class BuggySource(Source):
    name = "databases"
    title = "Databases"
    section_type = dict

    def collect(self):
        raise KeyError(f"planted bug with password={SECRET}")


async def wait_until(pilot, condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        await pilot.pause(0.05)
    assert condition()


async def test_a_collector_bug_is_logged_and_its_path_shown(state_home):
    config = Config(interval=0.5)
    app = TshootApp(config, [BuggySource(config)])
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: app.status["databases"].error is not None, 5)
        path = str(state_home / "tshoot" / "tshoot.log")
        assert path in app.status["databases"].remedy
        await pilot.press("exclamation_mark")
        assert isinstance(app.screen, TextScreen) and path in app.screen.body
    assert_logged(state_home, "KeyError", "the databases collector")


async def test_a_failing_background_task_is_logged_and_notified(state_home, monkeypatch, tmp_path):
    def broken_build(**_kwargs):
        raise TypeError(f"planted snapshot bug token={SECRET}")

    monkeypatch.setattr("tui.app.build_snapshot", broken_build)
    app = frozen_app(snapshot_dir=tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        app.action_snapshot()  # what S does
        await wait_until(pilot, lambda: (state_home / "tshoot" / "tshoot.log").exists(), 5)
        await pilot.pause(0.1)
        messages = [n.message for n in app._notifications]
        assert any("tshoot bug" in m and str(state_home) in m and SECRET not in m for m in messages), messages
    assert_logged(state_home, "TypeError: planted snapshot bug")


def test_snapshot_and_doctor_log_a_collector_bug(state_home):
    collection = collect_all(Config(), 0, [BuggySource(Config())])
    reason, remedy = collection.errors["databases"]
    assert "KeyError" in reason and str(state_home / "tshoot" / "tshoot.log") in remedy
    assert_logged(state_home, "the databases collector")


def test_the_log_rotates_and_stays_small(state_home, monkeypatch):
    monkeypatch.setattr(errorlog, "MAX_BYTES", 4096)
    monkeypatch.setattr(errorlog, "_loggers", {})
    for _ in range(200):
        try:
            raise ValueError("x" * 200)
        except ValueError as exc:
            errorlog.log_exception("a test", exc)
    logs = sorted(p.name for p in (state_home / "tshoot").iterdir())
    assert logs == ["tshoot.log", "tshoot.log.1", "tshoot.log.2"]
    assert all((state_home / "tshoot" / name).stat().st_size <= 4096 + 4096 for name in logs)
    assert all(stat.S_IMODE((state_home / "tshoot" / name).stat().st_mode) == 0o600 for name in logs)


def test_the_log_is_never_written_through_a_symlink(state_home, tmp_path, monkeypatch):
    monkeypatch.setattr(errorlog, "_loggers", {})
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    (state_home / "tshoot").mkdir(parents=True)
    (state_home / "tshoot" / "tshoot.log").symlink_to(victim)
    where = errorlog.log_exception("a test", ValueError("x"))
    assert "no error log" in where and victim.read_text() == "keep me\n"


def test_the_log_folder_is_never_a_symlink_to_somewhere_else(state_home, tmp_path, monkeypatch):
    """`sudo` that keeps the user's HOME or XDG_STATE_HOME: the user links tshoot/ to /etc; root must neither
    chmod the target to 0700 nor create its log there."""
    monkeypatch.setattr(errorlog, "_loggers", {})
    victim = tmp_path / "etc"
    victim.mkdir()
    victim.chmod(0o755)
    state_home.mkdir()
    (state_home / "tshoot").symlink_to(victim)
    where = errorlog.log_exception("a test", ValueError("x"))
    assert "no error log" in where
    assert stat.S_IMODE(victim.stat().st_mode) == 0o755 and not list(victim.iterdir())
