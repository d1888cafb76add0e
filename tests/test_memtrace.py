"""tracemalloc run inside a real leaking Python process, injected and removed again."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from conftest import require_service
from tui.processes.memtrace import MemTraceError, trace_action, trace_allocations

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
    process = subprocess.Popen([sys.executable, str(program)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    yield process
    process.kill()
    process.wait()


def test_the_growing_allocation_site_is_found_and_nothing_stays_behind(leaker):
    threads_before = len(os.listdir(f"/proc/{leaker.pid}/task"))
    trace = trace_allocations(leaker.pid, seconds=2)
    assert trace.method == "gdb"  # this interpreter is older than 3.14
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


@pytest.fixture
def sleeper_python():
    process = subprocess.Popen([sys.executable, "-c", "print('ready', flush=True); import time; time.sleep(60)"],
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
