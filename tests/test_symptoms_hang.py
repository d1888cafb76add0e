"""The hang guide finds a deadlock without being told the pid, and never passes when nothing was dumped."""

from __future__ import annotations

import dataclasses
import subprocess

import psutil
import pytest

from programs.threads.support import program, pyspy_works  # noqa: F401  (fixtures)
from symptoms_support import BOOK, context
from tests.children import program_child
from tui.cli import main
from tui.config import Config, Thresholds
from tui.snapshot import Collection
from tui.symptoms.render import result_lines
from tui.symptoms.runner import run_check
from tui.threads.source import ThreadsSource

FAST = Config(find_stuck=False, thread_samples=2, thread_sample_interval=0.2, thresholds=Thresholds(stuck_thread_s=0.2))


def hang_check(check_id: str):
    return next(c for c in BOOK.get("hang").checks if c.id == check_id)


def test_without_a_pid_the_machines_python_processes_are_dumped_and_the_deadlock_found(program):
    process = program("deadlock_module_locks.py")
    swept = dataclasses.replace(FAST, find_stuck=True)  # no --pid: every Python process is swept
    ctx = context(swept, collection=Collection())  # nothing watched in Threads, no --pid
    result = run_check(hang_check("deadlock"), ctx)
    assert result.status == "fail", (result.summary, result.evidence)
    deadlocked = [f["subject"]["pid"] for f in result.evidence["findings"] if f["id"] == "deadlock"]
    assert process.pid in deadlocked, (result.evidence["dumped"], result.evidence["not_dumped"], deadlocked)
    assert any(line.startswith(f"pid {process.pid} ") for line in result.evidence["dumped"])
    shown = result.jump.subject["pid"]  # other deadlocked test programs may run on a shared machine
    lines = [line.strip() for line in result_lines(result)]
    assert f"$ py-spy dump --pid {shown} --locals" in lines
    assert lines[-1] == f"see: Threads pane, pid {shown}"
    contention = run_check(hang_check("contention"), ctx)  # the same dumps, not a second scan
    assert contention.status == "pass" and str(process.pid) in contention.summary
    assert contention.evidence["dumped"] == f"the {len(result.evidence['dumped'])} process(es) listed under the first threads check"


def test_nothing_dumped_is_skipped_with_why_never_pass(pyspy_works):
    nothing_scanned = run_check(hang_check("deadlock"), context(FAST, collection=Collection()))  # sweep off
    assert nothing_scanned.status == "skipped"
    assert nothing_scanned.summary.startswith("no Python process dumped — pass --pid or press Enter in Threads")
    assert "find_stuck = false" in nothing_scanned.summary

    sleeper = program_child(["sleep", "60"])
    try:
        config = dataclasses.replace(FAST, pids=[sleeper.pid])
        source = ThreadsSource(config)
        section = source.collect()
        collection = Collection(sections={"threads": section}, findings=source.analyze(section))
        watched_not_python = run_check(hang_check("deadlock"), context(config, collection=collection))
    finally:
        sleeper.kill()
        sleeper.wait()
    assert watched_not_python.status == "skipped"
    assert f"pid {sleeper.pid} sleep 60: not a Python process" in watched_not_python.summary


@pytest.mark.parametrize("argv", [["guide", "hang"], ["doctor"], ["snapshot"]])
def test_a_pid_that_does_not_exist_is_bad_input(argv, capsys):
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert not psutil.pid_exists(gone.pid)
    assert main([*argv, "--pid", str(gone.pid), "--observe", "0"]) == 2
    assert f"pid {gone.pid}: no such process" in capsys.readouterr().err


def test_without_a_pid_the_scan_also_names_a_starved_pool(program):
    """The guide's own sweep (nothing watched) judges hangs that are not lock cycles too: the check that asks
    for pool-starvation must not pass on processes only the lock analysis looked at."""
    process = program("pool_starvation.py")
    ctx = context(dataclasses.replace(FAST, find_stuck=True), collection=Collection())
    check_id = next(c.id for c in BOOK.get("hang").checks if "pool-starvation" in c.params.get("ids", []))
    result = run_check(hang_check(check_id), ctx)
    starved = [f["subject"]["pid"] for f in result.evidence.get("findings", []) if f["id"] == "pool-starvation"]
    assert result.status == "fail" and process.pid in starved, (result.status, result.summary)
