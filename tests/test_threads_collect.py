"""The Threads collector on bad input: non-Python pids, exiting pids, a hung py-spy, refused ptrace."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from programs.threads.support import program, pyspy_works  # noqa: F401  (fixtures)
from tests.children import program_child
from tui.config import Config
from tui.redact import MASK
from tui.snapshot import build_snapshot, write_snapshot
from tui.threads import pyspy
from tui.threads.locksites import SourceIndex
from tui.threads.source import ThreadsSource

ROOT = Path(__file__).resolve().parent.parent


def test_one_bad_pid_never_hides_the_others(program, tmp_path):
    python = program("deadlock_module_locks.py")
    not_python = program_child(["sleep", "60"])
    gone = subprocess.Popen(["true"])
    gone.wait()
    try:
        source = ThreadsSource(Config(find_stuck=False, pids=[not_python.pid, gone.pid, python.pid], thread_samples=2,
                                      thread_sample_interval=0.1))
        section = source.collect()
    finally:
        not_python.kill()
        not_python.wait()
    assert section.processes[str(not_python.pid)].error == "not a Python process"
    assert section.processes[str(not_python.pid)].python is False
    assert "does not exist" in section.processes[str(gone.pid)].error
    assert section.processes[str(python.pid)].error is None
    assert {t.name for t in section.processes[str(python.pid)].threads} >= {"order-worker", "restock-worker"}
    assert [f.id for f in source.analyze(section)] == ["deadlock"]
    assert python.pid in [c.pid for c in section.candidates]
    assert not_python.pid not in [c.pid for c in section.candidates]


def test_pid_exiting_mid_dump_is_reported_as_exited(program):
    process = program("exits_soon.py")
    source = ThreadsSource(Config(find_stuck=False, pids=[process.pid], thread_samples=6, thread_sample_interval=0.2))
    record = source.collect().processes[str(process.pid)]
    assert record.error is not None and "exited" in record.error
    assert record.threads == []


def test_watch_and_unwatch_at_runtime(program):
    process = program("contention.py")
    source = ThreadsSource(Config(find_stuck=False, thread_samples=1))
    assert source.collect().processes == {}
    source.watch(process.pid)
    source.watch(process.pid)
    assert source.watched == [process.pid]
    assert source.collect().processes[str(process.pid)].threads
    source.unwatch(process.pid)
    assert source.collect().processes == {}


def test_hung_pyspy_is_killed_and_the_target_resumed(pyspy_works, tmp_path):
    """A py-spy that stops the target and hangs: the dump times out and the target runs again."""
    target = subprocess.Popen(["sleep", "60"])
    hanging = tmp_path / "py-spy"
    hanging.write_text(f"#!/bin/sh\nkill -STOP {target.pid}\nexec sleep 60\n")
    hanging.chmod(hanging.stat().st_mode | stat.S_IEXEC)
    try:
        with pytest.raises(pyspy.DumpError) as failure:
            pyspy.dump(target.pid, locals_=False, native=False, timeout=0.5, binary=str(hanging))
        assert "did not finish within 0.5s" in failure.value.reason
        state = Path(f"/proc/{target.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        assert state not in ("T", "t")
    finally:
        target.kill()
        target.wait()


def test_missing_pyspy_says_how_to_install_it(tmp_path):
    with pytest.raises(pyspy.DumpError) as failure:
        pyspy.dump(os.getpid(), locals_=False, native=False, timeout=1, binary=str(tmp_path / "no-py-spy"))
    assert "cannot run py-spy" in failure.value.reason and "pip install" in failure.value.remedy


def test_pyspy_binary_comes_from_the_installed_package():
    found = pyspy.find_pyspy()
    assert found is not None and Path(found).parent == Path(sys.executable).parent


@pytest.mark.parametrize("facts, reason, remedy", [
    ((1000, 0, 1, 0), "belongs to uid 0", "sudo"),
    ((1000, 1000, 1, 0), "kernel.yama.ptrace_scope=1", "sysctl -w kernel.yama.ptrace_scope=0"),
    ((0, 0, 1, 0), "without the SYS_PTRACE capability", "--cap-add SYS_PTRACE"),
    ((0, 0, 3, 1 << 19), "ptrace_scope=3", "reboot"),
])
def test_permission_refusals_name_the_cause_and_the_exact_remedy(facts, reason, remedy):
    got_reason, got_remedy = pyspy.permission_remedy(*facts)
    assert reason in got_reason and remedy in got_remedy


def test_lock_sites_from_source():
    index = SourceIndex(textwrap.dedent("""\
        import threading
        GUARD = threading.Lock()
        def update(box, cond):
            with GUARD:
                box.lock.acquire()
                try:
                    with cond:
                        cond.wait()
                    with box.other, open("f") as fh:
                        pass
                finally:
                    box.lock.release()
                GUARD.acquire()
        """))
    waiting = index.context(5)
    assert (waiting.waits.expr, waiting.waits.line) == ("box.lock", 5)
    assert [(h.expr, h.line, h.module_level) for h in waiting.held] == [("GUARD", 4, True)]
    assert [h.expr for h in index.context(8).held] == ["GUARD", "box.lock"]  # cond is released by wait()
    assert index.context(9).waits.expr == "box.other"  # open(...) is a call, not a lock
    assert [h.expr for h in index.context(10).held] == ["GUARD", "box.lock", "box.other"]
    after_release = index.context(13)
    assert after_release.waits.expr == "GUARD" and [h.expr for h in after_release.held] == ["GUARD"]
    assert SourceIndex("def broken(:\n").context(1).waits is None


def test_the_queues_a_function_takes_from_are_its_get_calls_not_a_dicts():
    index = SourceIndex(textwrap.dedent("""\
        def ship(outbox, settings):
            host = settings.get("host")
            while True:
                line = outbox.get()
                retry = self.retries.get(timeout=1) or self.backlog.get_nowait() or settings.get("x", True)
                send(host, line)
        """))
    assert index.context(6).takes_from == ["outbox", "self.retries", "self.backlog"]  # the whole function's
    assert SourceIndex("cache = {}\nvalue = cache.get('k')\n").context(2).takes_from == []


def test_a_condition_built_on_a_lock_is_that_lock_at_module_level_and_on_self():
    index = SourceIndex(textwrap.dedent("""\
        import threading
        STATE = threading.Lock()
        CHANGED = threading.Condition(STATE)
        PLAIN = threading.Condition()
        class Store:
            def __init__(self):
                self._lock = threading.RLock()
                self._changed = threading.Condition(self._lock)
            def read(self):
                with self._changed:
                    self._changed.wait()
        def watch():
            with CHANGED:
                CHANGED.wait()
            with PLAIN:
                pass
        """))
    assert index.context(10).waits.expr == "self._lock"  # entering the Condition takes the store's lock
    assert index.context(11).held == []  # wait() releases it
    assert (index.context(13).waits.expr, index.context(13).waits.module_level) == ("STATE", True)
    assert index.context(14).held == []
    assert index.context(15).waits.expr == "PLAIN"  # a Condition with its own lock is itself


def test_collector_modules_import_no_textual():
    modules = [f"tui.threads.{p.stem}" for p in (ROOT / "tui" / "threads").glob("*.py") if p.stem != "pane"]
    code = f"import sys; import {', '.join(modules)}; print('textual' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.stdout.strip() == "False", result.stderr


def test_focus_and_hold_redump_only_what_the_pane_shows(program):
    shown, other = program("contention.py"), program("waits_no_owner.py")
    source = ThreadsSource(Config(find_stuck=False, pids=[shown.pid, other.pid], thread_samples=1))
    first = source.collect()
    source.focus(shown.pid)
    second = source.collect()
    assert second.processes[str(other.pid)] is first.processes[str(other.pid)]  # kept, not re-dumped
    assert second.processes[str(shown.pid)] is not first.processes[str(shown.pid)]
    source.set_live(False)
    third = source.collect()
    assert third.processes[str(shown.pid)] is second.processes[str(shown.pid)]
    source.request_dump()
    assert source.collect().processes[str(shown.pid)] is not third.processes[str(shown.pid)]


@pytest.mark.parametrize(("written_after_start_s", "warned"), [(60, True), (0.9, False)])
def test_source_file_newer_than_the_process_is_warned_about(pyspy_works, tmp_path, written_after_start_s, warned):
    """Start times are whole seconds: a file written within a second or so of the start is not "changed"."""
    script = tmp_path / "contention_copy.py"
    script.write_text((Path(__file__).parent / "programs" / "threads" / "contention.py").read_text())
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "ready"
        written = psutil.Process(process.pid).create_time() + written_after_start_s
        os.utime(script, (written, written))
        record = ThreadsSource(Config(find_stuck=False, pids=[process.pid], thread_samples=1)).collect().processes[str(process.pid)]
        changed = any(str(script) in w and "changed after the process started" in w for w in record.warnings)
        assert changed is warned, record.warnings
    finally:
        process.kill()
        process.wait()
        process.stdout.close()


def test_the_main_thread_without_a_name_is_called_mainthread():
    raw = [{"os_thread_id": 500, "thread_id": 1, "thread_name": None, "frames": []},
           {"os_thread_id": 501, "thread_id": 2, "thread_name": None, "frames": []}]
    assert [t.name for t in pyspy.parse_threads(raw, pid=500)] == ["MainThread", "(no name)"]


def test_a_secret_masked_in_one_local_is_masked_in_every_other_local_and_source_line(program, tmp_path):
    process = program("secret_locals.py")
    source = ThreadsSource(Config(find_stuck=False, pids=[process.pid], thread_samples=1))
    section = source.collect()
    record = section.processes[str(process.pid)]
    serve = next(f for t in record.threads for f in t.frames if f.function == "serve")
    shown = {v.name: v.repr for v in serve.locals}
    assert shown["note"] == f'"connect with {MASK} please"' and shown["db_url"] == f'"postgresql://app:{MASK}@db/x"'
    assert serve.line_text.endswith(f"reconnect by hand with {MASK}")
    written = write_snapshot(build_snapshot(sections={"threads": section}, errors={}, findings=source.analyze(section),
                                            actions=[]), tmp_path / "snap.json", "json")
    assert b"LocalPw-777" not in written.read_bytes()


def test_a_shell_that_execs_python_becomes_a_candidate_despite_the_runtime_cache(tmp_path):
    """Runtimes are remembered per process; an exec() (a container entrypoint ending in `exec python`) must
    not leave the process remembered as a shell."""
    from tui.threads.pythonprocs import RuntimeCache, python_candidates

    go = tmp_path / "go"
    shell = subprocess.Popen(["sh", "-c", f"while [ ! -e {go} ]; do sleep 0.05; done; "
                              f"exec {sys.executable} -c 'import time; time.sleep(60)'"])
    try:
        cache = RuntimeCache()
        assert shell.pid not in {c.pid for c in python_candidates(set(), cache)}
        go.touch()
        deadline = time.monotonic() + 10
        while psutil.Process(shell.pid).name() == "sh" and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)  # let the interpreter map libpython and settle its name
        assert shell.pid in {c.pid for c in python_candidates(set(), cache)}
    finally:
        shell.kill()
        shell.wait()


PROBE_AS_NOBODY = """
import json, sys
from tui.config import Config
from tui.threads.source import ThreadsSource
entry = ThreadsSource(Config(thread_samples=1)).collect_pid(int(sys.argv[1]))
print(json.dumps({"error": entry.error, "remedy": entry.remedy, "python": entry.python}))
"""


@pytest.mark.skipif(os.geteuid() != 0 or not Path("/usr/bin/setpriv").exists(),
                    reason="needs root to run the probe as another user")
def test_another_users_python_process_is_a_permission_problem_not_a_non_python_one():
    """tshoot run as `nobody` looks at root's Python process: it must say it may not look, and how to fix it."""
    import json

    target = subprocess.Popen([sys.executable, "-c", "import sys; print('ready', flush=True); sys.stdin.read()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert target.stdout.readline() == "ready\n"
        probe = subprocess.run(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                sys.executable, "-c", PROBE_AS_NOBODY, str(target.pid)],
                               cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True,
                               timeout=60, env={**os.environ, "HOME": "/tmp"})
        assert probe.returncode == 0, probe.stderr
        seen = json.loads(probe.stdout)
        assert "not a Python process" not in seen["error"]
        assert "permission denied" in seen["error"] and "belongs to uid 0" in seen["error"], seen
        assert "sudo" in seen["remedy"] and "CAP_SYS_PTRACE" in seen["remedy"], seen
    finally:
        target.kill()
        target.wait()


HANG_CHECK_AS_NOBODY = """
from tui.config import Config
from tui.symptoms.checks import CheckContext, python_threads
outcome = python_threads(CheckContext(Config()), ids=["deadlock"], healthy="no deadlock")
print(outcome.status)
print(outcome.summary)
"""


@pytest.mark.skipif(os.geteuid() != 0 or not Path("/usr/bin/setpriv").exists(),
                    reason="needs root to run the check as another user")
def test_the_hang_check_run_as_nobody_says_other_users_processes_were_not_inspected():
    """Not root: root's Python processes are not 'absent', they could not be looked into — say so."""
    target = subprocess.Popen([sys.executable, "-c", "import sys; print('ready', flush=True); sys.stdin.read()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert target.stdout.readline() == "ready\n"
        probe = subprocess.run(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                sys.executable, "-c", HANG_CHECK_AS_NOBODY],
                               cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True,
                               timeout=120, env={**os.environ, "HOME": "/tmp"})
        assert probe.returncode == 0, probe.stderr
        status, summary = probe.stdout.splitlines()[:2]
        # skipped, or (when another user's Python process is visible to nobody) a pass that says what it missed
        assert status in ("skipped", "pass") and "could not be inspected (permission denied)" in summary, summary
        assert "no Python process found on this machine" not in summary
    finally:
        target.kill()
        target.wait()


def test_a_watched_process_that_exited_is_reported_once_then_dropped_even_when_held():
    """A held (not re-dumped) process stayed listed for as long as tshoot ran after it exited."""
    other = program_child(["sleep", "60"])
    watched = program_child(["sleep", "60"])
    try:
        source = ThreadsSource(Config(find_stuck=False, thread_samples=1))
        source.watch(watched.pid)
        source.watch(other.pid)
        source.collect()
        source.focus(other.pid)  # only the selected pid is re-dumped; the other keeps its last dump
        watched.kill()
        watched.wait()
        section = source.collect()
        assert "exited" in section.processes[str(watched.pid)].error or "does not exist" in section.processes[str(watched.pid)].error
        assert str(watched.pid) not in source.collect().processes and source.watched == [other.pid]
    finally:
        other.kill()
        other.wait()


def test_what_the_sweep_remembers_of_a_process_is_forgotten_once_it_exits(monkeypatch):
    """Swept processes come and go (workers recycled, cron jobs): their stuck clocks, parsed-file entries and
    profile times must not pile up, nor be inherited by a later process that gets the same pid."""
    source = ThreadsSource(Config(find_stuck=True))
    gone = 4_000_000  # above pid_max: no process has it
    source._sources._files[(gone, "/srv/app.py")] = (0.0, None)
    source._stuck_clock._since[(gone, 1)] = ((), 0.0)
    source._profiled_at[gone] = 0.0
    monkeypatch.setattr(source, "_python_candidates", lambda: [])
    source.collect()
    assert not [k for k in source._sources._files if k[0] == gone]
    assert not [k for k in source._stuck_clock._since if k[0] == gone]
    assert gone not in source._profiled_at


def test_a_sweep_that_could_dump_nothing_says_so_instead_of_an_empty_all_clear(program):
    """py-spy missing (or no ptrace right) and no --pid: `doctor` printed "OK: nothing above normal found"
    next to a deadlocked process."""
    from tui.source import SourceUnavailable

    program("deadlock_module_locks.py")
    source = ThreadsSource(Config(find_stuck=True))
    source._binary = "/nonexistent/py-spy"
    with pytest.raises(SourceUnavailable, match="no Python process could be dumped"):
        source.collect()


def test_unwatch_on_the_ui_thread_never_races_a_poll_filling_the_caches():
    """`x` in the Threads pane forgets a pid while the collector thread adds entries: iterating the live dict
    raised "dictionary changed size during iteration" in the UI thread (an unhandled error ends the app)."""
    import threading

    from tui.threads.sampling import SourceCache, StuckClock

    cache, clock = SourceCache(), StuckClock()
    stop = threading.Event()

    def poll() -> None:
        i = 0
        while not stop.is_set():
            cache._files[(i % 50, f"/srv/f{i}.py")] = (0.0, None)
            clock._since[(i % 50, i)] = ((), 0.0)
            i += 1
            if i % 20000 == 0:
                cache._files.clear()
                clock._since.clear()

    writer = threading.Thread(target=poll, daemon=True)
    writer.start()
    try:
        for _ in range(20000):
            cache.forget(7)
            clock.forget(7)
    finally:
        stop.set()
        writer.join()


def test_a_second_look_compares_with_the_stacks_given_even_when_there_were_none(monkeypatch):
    """`before` holds a process's earlier stacks; an empty earlier look is still the earlier look (the
    first-dump table has no entry for a pid that was only looked at again: KeyError)."""
    from tui.threads import pyspy, sampling
    from tui.threads.records import ThreadRecord

    monkeypatch.setattr(pyspy, "dump", lambda pid, **kw: pyspy.Dump(
        threads=[ThreadRecord(tid=1, ident=1, name="MainThread", active=False, owns_gil=False, frames=[])],
        seconds=0.01, secrets=set()))
    result = dict(sampling.sample_many([4242], gap=0.0, timeout=1.0, binary="py-spy", before={4242: {}}))
    assert result[4242].threads[0].stuck is False


def test_a_source_line_is_found_by_python_s_own_line_numbers():
    """A form feed (a page break, as some standard-library files have) is no new line to Python (it is to
    str.splitlines): frame line 4 is `with LOCK:`."""
    from tui.threads.locksites import SourceIndex

    index = SourceIndex("import threading\n\x0c\nLOCK = threading.Lock()\nwith LOCK:\r\n    pass\n")
    assert index.line_text(4) == "with LOCK:"
    assert index.context(4).waits is not None and index.context(4).waits.expr == "LOCK"
