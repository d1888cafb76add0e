"""tracemalloc run inside a real leaking Python process, injected and removed again."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from conftest import require_service
from tests.uihelpers import select_process
from tui.processes.memtrace import MemTraceError, trace_action, trace_allocations

# The interpreter tshoot's venv was made from: it cannot import memray (a test extra in tshoot's venv), so the
# trace injects tracemalloc (tests/test_memray_attach.py covers memray)
BARE_PYTHON = sys._base_executable

LEAKER = """
import time
cache = []
def remember(request_id):
    cache.append("x" * 50_000)  # the leak: every request is kept
print("ready", flush=True)
n = 0
while True:
    n += 1
    remember(n)
    time.sleep(0.01)
"""


@pytest.fixture
def leaker(tmp_path):
    if shutil.which("gdb") is None:
        require_service("gdb", "gdb is not installed (scripts/services.sh installs it)")
    program = tmp_path / "leaker.py"
    program.write_text(LEAKER)
    process = subprocess.Popen([BARE_PYTHON, str(program)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    yield process
    process.kill()
    process.wait()


def test_the_growing_allocation_site_is_found_and_nothing_stays_behind(leaker):
    threads_before = len(os.listdir(f"/proc/{leaker.pid}/task"))
    trace = trace_allocations(leaker.pid, seconds=2)
    assert trace.method == "gdb"  # this interpreter is older than 3.14, without memray
    top = trace.sites[0]
    assert top.frames[-1].endswith("leaker.py:5") and top.size_diff > 5 * 2**20 and top.count_diff > 50
    assert trace.growth >= top.size_diff * 0.9
    assert not any("tracemalloc.py" in frame for site in trace.sites for frame in site.frames)
    assert len(os.listdir(f"/proc/{leaker.pid}/task")) == threads_before  # the trace thread has ended
    assert leaker.poll() is None  # still running
    assert not [p for p in os.listdir(f"/proc/{leaker.pid}/root/tmp") if p.startswith("tshoot-memtrace-")]
    again = trace_allocations(leaker.pid, seconds=1)  # tracemalloc was stopped: a second trace starts afresh
    assert again.sites and again.sites[0].frames[-1].endswith("leaker.py:5")


def test_the_action_keeps_the_trace_and_reports_what_grew(leaker):
    kept = {}
    verified = trace_action(leaker.pid, 1, kept)
    assert verified.effect and "leaker.py:5" in verified.message and "tracemalloc stopped again" in verified.message
    assert kept[leaker.pid].sites


def test_a_process_that_is_not_python_is_refused_clearly():
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        with pytest.raises(MemTraceError, match="not a Python process"):
            trace_allocations(sleeper.pid, seconds=1)
    finally:
        sleeper.kill()
        sleeper.wait()



async def test_a_asks_naming_the_pid_and_cost_then_shows_what_grew_and_logs_it(leaker, monkeypatch):
    from tui.app import TshootApp
    from tui.config import Config
    from tui.processes import memtrace
    from tui.processes.source import ProcessesSource
    from widgets.dialogs import ConfirmScreen, TextScreen

    monkeypatch.setattr(memtrace, "DEFAULT_SECONDS", 1.0)  # the same trace, shorter
    app = TshootApp(Config(interval=0.3), [ProcessesSource(Config())])
    async with app.run_test(size=(160, 40)) as pilot:
        await select_process(app, pilot, leaker.pid)
        await pilot.press("a")
        assert isinstance(app.screen, ConfirmScreen)
        assert f"pid {leaker.pid} (python" in app.screen.target and "gdb stops it" in app.screen.target
        await pilot.press("y")
        for _ in range(150):  # injection, a one-second trace, then the next poll shows it
            await pilot.pause(0.1)
            if isinstance(app.screen, TextScreen):
                break
        assert isinstance(app.screen, TextScreen), "the trace never appeared"
        assert "leaker.py:5" in str(app.screen.body) and "tracemalloc stopped again" in str(app.screen.body)
        await app.workers.wait_for_complete()
        entry = next(e for e in app.actions.entries if e.verb == "trace memory")
        assert entry.outcome == "done" and entry.subject["pid"] == leaker.pid and "leaker.py:5" in entry.message
        assert leaker.poll() is None


async def test_read_only_refuses_a_memory_trace(leaker):
    from tui.app import TshootApp
    from tui.config import Config
    from tui.processes.source import ProcessesSource
    from widgets.dialogs import ConfirmScreen

    app = TshootApp(Config(interval=0.3, read_only=True), [ProcessesSource(Config())])
    async with app.run_test(size=(160, 40)) as pilot:
        await select_process(app, pilot, leaker.pid)
        await pilot.press("a")
        assert not isinstance(app.screen, ConfirmScreen)
        entry = app.actions.entries[-1]
        assert (entry.verb, entry.outcome) == ("trace memory", "refused")


@pytest.fixture
def sleeper_python():
    process = subprocess.Popen([BARE_PYTHON, "-c", "print('ready', flush=True); import time; time.sleep(60)"],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    yield process
    process.kill()
    process.wait()


def _target_writes(monkeypatch, pid, make):
    """Stand in for the injection: what the target (any local user's process) leaves as its result."""
    import tui.processes.memtrace as memtrace

    def inject(pid_, version, script):
        folder = f"/proc/{pid}/root{script.parent}"
        make(os.path.join(folder, "result.json"))
        return "gdb"

    monkeypatch.setattr(memtrace, "_inject", inject)
    monkeypatch.setattr(memtrace, "INJECT_TIMEOUT_S", 2.0)


@pytest.mark.parametrize("make", [
    lambda path: os.mkfifo(path),  # open() would wait for a writer forever
    lambda path: os.symlink("/etc/shadow", path),  # root reads what the target's user may not
    lambda path: open(path, "w").write("[" * 100_000 + "]" * 100_000),  # RecursionError
    lambda path: open(path, "w").write('{"sites": [{"frames": 1, "size_diff": "x"}], "growth": {}}'),
], ids=["fifo", "symlink", "deep", "wrong-shape"])
def test_a_hostile_result_file_is_refused_with_a_clear_error(monkeypatch, sleeper_python, make):
    _target_writes(monkeypatch, sleeper_python.pid, make)
    with pytest.raises(MemTraceError):
        trace_allocations(sleeper_python.pid, seconds=0)


def test_the_script_is_written_before_the_folder_is_handed_to_the_target(monkeypatch, sleeper_python):
    import tui.processes.memtrace as memtrace

    handed = []
    real_chown = os.chown
    monkeypatch.setattr(memtrace.os, "chown", lambda path, uid, gid: (
        handed.append(os.path.exists(os.path.join(path, "memtrace.py"))), real_chown(path, uid, gid)))
    _target_writes(monkeypatch, sleeper_python.pid, lambda path: open(path, "w").write('{"sites": [], "growth": 0}'))
    trace_allocations(sleeper_python.pid, seconds=0)
    assert handed == [True]  # once the target's user owns the folder, root writes nothing into it


def test_an_interpreter_another_user_owns_is_never_run_as_root(tmp_path):
    """On 3.14+ the target's own binary runs sys.remote_exec as root: a user's own `python3.14` would be root."""
    from tui.processes.memtrace import _inject

    own = tmp_path / "python3.14"
    shutil.copy(os.path.realpath(sys.executable), own)
    os.chown(own, 65534, 65534)
    process = subprocess.Popen([str(own), "-c", "import time; time.sleep(30)"])
    try:
        with pytest.raises(MemTraceError, match="not owned by root"):
            _inject(process.pid, "3.14", tmp_path / "memtrace.py")
    finally:
        process.kill()
        process.wait()
