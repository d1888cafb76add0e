"""Hangs that are not lock cycles, named on real programs written the way services fail; healthy controls stay silent."""

from __future__ import annotations

import time

from programs.threads.support import program, pyspy_works  # noqa: F401  (fixtures)
from tui.config import Config, Thresholds
from tui.threads.source import ThreadsSource


def watch(pid: int, polls: int = 3) -> list:
    """Poll a ThreadsSource as the live app or `doctor` would (default thresholds), then judge."""
    source = ThreadsSource(Config(pids=[pid], thread_samples=3, thread_sample_interval=0.3))
    for _ in range(polls):
        section = source.collect()
        assert section.processes[str(pid)].error is None, section.processes[str(pid)].error
        time.sleep(0.5)
    return source.analyze(section)


def test_an_executor_whose_tasks_wait_on_futures_queued_behind_them_is_starved(program):
    process = program("pool_starvation.py")
    findings = watch(process.pid)
    assert [f.id for f in findings] == ["pool-starvation"], [f.title for f in findings]
    finding = findings[0]
    assert finding.severity == "critical" and finding.subject == {"pid": process.pid, "pool": "render"}
    assert {w["name"] for w in finding.evidence["workers"]} == {"render_0", "render_1"}
    assert all(w["waits_at"].endswith("pool_starvation.py:17") for w in finding.evidence["workers"])
    assert "deadlock" not in finding.title.lower()


def test_a_coroutine_calling_time_sleep_blocks_the_event_loop(program):
    process = program("blocked_event_loop.py")
    findings = watch(process.pid)
    assert [f.id for f in findings] == ["event-loop-blocked"], [f.title for f in findings]
    evidence = findings[0].evidence
    assert evidence["blocked_at"].endswith("blocked_event_loop.py:7") and "time.sleep" in evidence["blocked_line"]
    assert "handle" in evidence["coroutine"] and evidence["thread"] == "MainThread"


def test_a_lock_whose_holder_died_is_orphaned_not_contended(program):
    process = program("orphaned_lock.py")
    findings = watch(process.pid)
    assert [f.id for f in findings] == ["orphaned-lock"], [f.title for f in findings]
    finding = findings[0]
    assert finding.severity == "critical" and finding.evidence["holder"] is None
    assert finding.evidence["lock"].endswith("REGISTRY_LOCK")
    assert {w["name"] for w in finding.evidence["waiters"]} == {"lookup-0", "lookup-1"}
    assert all(w["waits_at"].endswith("orphaned_lock.py:14") for w in finding.evidence["waiters"])


def test_a_lock_held_across_a_socket_read_names_the_holder_and_the_read(program):
    process = program("lock_across_io.py")
    findings = watch(process.pid)
    assert [f.id for f in findings] == ["lock-held-across-io"], [f.title for f in findings]
    holder = findings[0].evidence["holder"]
    assert holder["name"] == "caller-0" and holder["held_at"].endswith("lock_across_io.py:17")
    assert holder["blocked_at"].endswith("lock_across_io.py:19") and "recv" in holder["blocked_line"]
    assert {w["name"] for w in findings[0].evidence["waiters"]} == {"caller-1", "caller-2"}


def test_idle_pools_idle_loops_and_busy_cpu_work_stay_silent(program):
    process = program("idle_pool_and_loop.py")
    assert watch(process.pid) == []


def test_contention_is_reported_within_a_default_three_second_doctor_run(program):
    from tui.snapshot import collect_all
    from tui.sources import build_sources

    process = program("contention.py")
    config = Config(pids=[process.pid])
    sources = [s for s in build_sources(config) if s.name == "threads"]
    collection = collect_all(config, 3.0, sources)
    assert [f.id for f in collection.findings if f.source == "threads"] == ["lock-contention"]
    assert Thresholds().stuck_thread_s <= 3.0
