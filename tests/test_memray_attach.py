"""memray attach on a real leaking Python process whose own venv has memray; refused when others can change it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib import metadata

import pytest

from conftest import require_service
from tests.test_memtrace import LEAKER  # the same leaking request handler, traced the other way
from tui.processes import memrayattach
from tui.processes.memtrace import MEMRAY, memtrace_text, plan, trace_action, trace_allocations


@pytest.fixture(scope="session")
def memray_venv(tmp_path_factory):
    """A venv of its own with memray (the version tshoot's test extras installed, so pip's cache has it)."""
    if shutil.which("gdb") is None:
        require_service("gdb", "gdb is not installed (scripts/install.sh installs it)")
    try:
        version = metadata.version("memray")
    except metadata.PackageNotFoundError:
        require_service("memray", "not installed in tshoot's venv (scripts/install.sh --test installs it)")
    venv = tmp_path_factory.mktemp("memray-venv")
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                           f"memray=={version}"], capture_output=True, text=True)
    if done.returncode != 0:
        require_service("memray", f"pip could not install it into a venv: {done.stderr.strip()[-300:]}")
    return venv


@pytest.fixture
def memray_leaker(memray_venv, tmp_path):
    program = tmp_path / "leaker.py"
    program.write_text(LEAKER)
    process = subprocess.Popen([str(memray_venv / "bin" / "python"), str(program)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    yield process
    process.kill()
    process.wait()


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def _capture_folders(pid: int) -> list[str]:
    return [p for p in os.listdir(f"/proc/{pid}/root/tmp") if p.startswith("tshoot-memtrace-")]


def test_memray_finds_the_leaking_line_then_its_tracker_stops_and_nothing_is_left(memray_leaker, memray_venv):
    pid = memray_leaker.pid
    assert plan(pid).startswith("memray attach for") and str(memray_venv) in plan(pid)
    threads_before = _threads(pid)
    trace = trace_allocations(pid, seconds=2)
    assert trace.method == MEMRAY and "gdb stops the process" in trace.cost and not trace.note
    top = trace.sites[0]
    assert top.frames[-1].endswith("leaker.py:5") and top.size_diff > 5 * 2**20 and top.count_diff > 50
    assert trace.growth >= top.size_diff and 1.5 < trace.seconds < 10
    assert not any("_memray_attach_hook" in frame for site in trace.sites for frame in site.frames)
    assert _threads(pid) == threads_before  # memray's tracker and timer threads have ended
    assert memray_leaker.poll() is None
    assert not _capture_folders(pid)  # the capture went with tshoot's folder
    again = trace_allocations(pid, seconds=1)  # the tracker was stopped: memray attaches afresh
    assert again.method == MEMRAY and again.sites[0].frames[-1].endswith("leaker.py:5")
    assert "still live at its end (memray attach, leaks view" in memtrace_text(again)


def test_the_action_says_memray_was_used_and_stopped(memray_leaker):
    kept = {}
    verified = trace_action(memray_leaker.pid, 1, kept)
    assert verified.effect and "with memray attach" in verified.message and "leaker.py:5" in verified.message
    assert "memray's tracker stopped again" in verified.message and kept[memray_leaker.pid].method == MEMRAY


def test_memray_in_a_venv_another_user_can_change_is_never_run_as_root(memray_leaker, memray_venv):
    """Whoever can write the venv would get root the moment an operator traced the process: gdb and
    tracemalloc instead, and the trace says why."""
    site = next((memray_venv / "lib").glob("python*/site-packages"))
    os.chown(site, 65534, 65534)
    try:
        found, why_not = memrayattach.find_memray(memray_leaker.pid, "%d.%d" % sys.version_info[:2])
        assert found is None and f"{site} belongs to uid 65534" in why_not
        assert "Not memray:" in plan(memray_leaker.pid)
        trace = trace_allocations(memray_leaker.pid, seconds=1)
    finally:
        os.chown(site, 0, 0)
    assert trace.method == "gdb" and "uid 65534" in trace.note and trace.sites[0].frames[-1].endswith("leaker.py:5")
    assert "Not memray:" in memtrace_text(trace)


@pytest.mark.parametrize("output", [
    "",
    "[" * 100_000 + "]" * 100_000,
    '{"sites": [{"frames": 1, "size": "x"}], "growth": 0, "seconds": 1}',
    '{"sites": [], "growth": {}, "seconds": 1}',
], ids=["empty", "deep", "wrong-site", "wrong-growth"])
def test_a_capture_read_back_in_an_unexpected_shape_is_refused(output):
    with pytest.raises(memrayattach.MemrayError):
        memrayattach._parsed(output, 1, 15)


async def test_the_confirmation_names_memray_and_its_cost(memray_leaker):
    from tests.uihelpers import select_process
    from tui.app import TshootApp
    from tui.config import Config
    from tui.processes.source import ProcessesSource
    from widgets.dialogs import ConfirmScreen

    app = TshootApp(Config(interval=0.3), [ProcessesSource(Config())])
    async with app.run_test(size=(160, 40)) as pilot:
        await select_process(app, pilot, memray_leaker.pid)
        await pilot.press("a")
        assert isinstance(app.screen, ConfirmScreen)
        assert f"pid {memray_leaker.pid} (python" in app.screen.target
        target = app.screen.target
        assert "memray attach for" in target and "gdb stops the process about half a second" in target
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmScreen)
