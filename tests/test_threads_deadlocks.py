"""Deadlock, contention and no-owner waits, classified on real processes these tests start and dump."""

from __future__ import annotations

import json

import pytest

from programs.threads.support import interpreter, program, pyspy_works  # noqa: F401  (fixtures)
from tui.config import Config, Thresholds
from tui.source import section_from_json, section_to_json
from tui.threads.deadlock import format_deadlock_report, thread_state
from tui.threads.records import ThreadsSection
from tui.threads.source import ThreadsSource


def observe(pid: int) -> tuple[object, list]:
    """One poll of a ThreadsSource watching `pid`: the pid's record and the findings."""
    config = Config(find_stuck=False, pids=[pid], thread_samples=3, thread_sample_interval=0.2,
                    thresholds=Thresholds(stuck_thread_s=0.2))
    source = ThreadsSource(config)
    section = source.collect()
    record = section.processes[str(pid)]
    assert record.error is None, record.error
    return record, source.analyze(section)


def only_deadlock(findings: list) -> dict:
    deadlocks = [f for f in findings if f.id == "deadlock"]
    assert len(deadlocks) == 1, [f.title for f in findings]
    assert deadlocks[0].severity == "critical" and deadlocks[0].source == "threads"
    return deadlocks[0]


def by_name(finding) -> dict[str, dict]:
    return {entry["name"]: entry for entry in finding.evidence["threads"]}


def test_module_level_locks_in_opposite_order_are_a_confirmed_deadlock(program):
    process = program("deadlock_module_locks.py")
    record, findings = observe(process.pid)
    finding = only_deadlock(findings)
    assert finding.subject == {"pid": process.pid}
    assert finding.evidence["confidence"] == "confirmed"
    threads = by_name(finding)
    assert set(threads) == {"order-worker", "restock-worker"}
    order, restock = threads["order-worker"], threads["restock-worker"]
    assert order["waits_at"].endswith("deadlock_module_locks.py:13") and order["waits_for"].endswith(".STOCK_LOCK")
    assert order["held_at"].endswith("deadlock_module_locks.py:11") and order["holds"].endswith(".ORDERS_LOCK")
    assert restock["waits_at"].endswith("deadlock_module_locks.py:20") and restock["waits_for"].endswith(".ORDERS_LOCK")
    assert restock["held_at"].endswith("deadlock_module_locks.py:18") and restock["holds"].endswith(".STOCK_LOCK")
    tids = {t.name: t.tid for t in record.threads}
    assert order["tid"] == tids["order-worker"] and restock["tid"] == tids["restock-worker"]


def test_locks_passed_as_arguments_are_told_apart_by_address(program):
    process = program("deadlock_passed_locks.py")
    _, findings = observe(process.pid)
    threads = by_name(only_deadlock(findings))
    assert set(threads) == {"copy-left-right", "copy-right-left"}
    one, other = threads["copy-left-right"], threads["copy-right-left"]
    assert one["waits_at"].endswith("deadlock_passed_locks.py:11") and one["held_at"].endswith("deadlock_passed_locks.py:9")
    assert one["holds"] != other["holds"]  # same expression `first`, two different lock objects
    assert one["waits_for"].split("(")[1] == other["holds"].split("(")[1]  # the lock one waits for, the other holds


def test_ring_of_three_self_lock_attributes_with_acquire_try_finally(program):
    process = program("deadlock_ring.py")
    _, findings = observe(process.pid)
    threads = by_name(only_deadlock(findings))
    assert set(threads) == {"transfer-0", "transfer-1", "transfer-2"}
    for entry in threads.values():
        assert entry["waits_at"].endswith("deadlock_ring.py:17") and entry["waits_for"].startswith("other._lock (Account@")
        assert entry["held_at"].endswith("deadlock_ring.py:14") and entry["holds"].startswith("self._lock (Account@")
    # the account transfer-0 waits for is the one transfer-1 holds: the ring closes through addresses
    assert threads["transfer-0"]["waits_for"].split("@")[1] == threads["transfer-1"]["holds"].split("@")[1]


@pytest.mark.parametrize("version", ["3.11", "3.12", "3.13"])
def test_rlocks_reentered_then_crossed_deadlock_with_owners_read_from_memory(program, version):
    process = program("deadlock_rlock.py", interpreter(version))
    record, findings = observe(process.pid)
    threads = by_name(only_deadlock(findings))
    assert set(threads) == {"rlock-a", "rlock-b"}
    assert threads["rlock-a"]["waits_at"].endswith("deadlock_rlock.py:12")
    assert threads["rlock-a"]["held_at"].endswith("deadlock_rlock.py:9")  # the outer `with mine:`
    idents = {t.ident for t in record.threads if t.name.startswith("rlock-")}
    owners = record.rlock_owners.values()
    assert {owner.owner_ident for owner in owners} == idents and {owner.count for owner in owners} == {2}


def test_condition_queue_event_join_sleep_and_socket_waits_have_no_owner(program):
    process = program("waits_no_owner.py")
    record, findings = observe(process.pid)
    assert findings == []
    states = {t.name: thread_state(t) for t in record.threads}
    # each named for what it waits for, in the program's own names (stuck ones add for how long)
    assert states["cond-waiter"].startswith("waiting on condition condition: until another thread notifies it")
    assert states["queue-consumer"].startswith("waiting for an item from queue jobs (empty)")
    assert states["event-waiter"].startswith("waiting for event to be set")  # Event.wait is the thread's target
    assert states["joiner"].startswith("waiting for thread to finish")
    assert states["sleeper"] == "sleeping" and states["socket-acceptor"] == "waiting on I/O"
    assert states["MainThread"].startswith("waiting for thread joiner to finish")
    assert "hunter2" not in json.dumps(section_to_json(ThreadsSection(processes={"x": record})))
    sleeper = next(t for t in record.threads if t.name == "sleeper")
    assert any(v.name == "api_token" and "hunter2" not in v.repr for f in sleeper.frames for v in f.locals)


def test_long_held_lock_with_waiters_is_contention_naming_the_holder(program):
    process = program("contention.py")
    _, findings = observe(process.pid)
    assert [f.id for f in findings] == ["lock-contention"]
    finding = findings[0]
    assert finding.severity == "warning" and finding.subject["pid"] == process.pid
    assert finding.evidence["holder"]["name"] == "cache-refresher"
    assert finding.evidence["holder"]["held_at"].endswith("contention.py:10")
    assert {w["name"] for w in finding.evidence["waiters"]} == {"cache-reader-0", "cache-reader-1"}
    assert all(w["waits_at"].endswith("contention.py:16") for w in finding.evidence["waiters"])
    assert "cache-refresher" in finding.title


def never_a_deadlock(pid: int) -> None:
    """Three polls with no stuck threshold: whatever the dumps catch mid-acquire, no cycle is reported."""
    source = ThreadsSource(Config(find_stuck=False, pids=[pid], thread_samples=3, thread_sample_interval=0.1,
                                  thresholds=Thresholds(stuck_thread_s=0.0)))
    for _ in range(3):
        section = source.collect()
        assert section.processes[str(pid)].error is None
        assert not [f for f in source.analyze(section) if f.id == "deadlock"]


def test_busy_threads_taking_locks_in_one_order_are_never_a_deadlock(program):
    never_a_deadlock(program("same_order.py").pid)


def test_report_and_replay_give_the_same_deadlock(program):
    process = program("deadlock_module_locks.py")
    config = Config(find_stuck=False, pids=[process.pid], thread_samples=2, thread_sample_interval=0.2)
    source = ThreadsSource(config)
    section = source.collect()
    replayed = section_from_json(ThreadsSection, json.loads(json.dumps(section_to_json(section))))
    live, again = source.analyze(section), ThreadsSource(config).analyze(replayed)
    assert [f.evidence for f in live] == [f.evidence for f in again]
    report = format_deadlock_report(only_deadlock(again))
    assert report.startswith(f"Found one Python-level deadlock in pid {process.pid} (confirmed):")
    assert '"order-worker"' in report and '"restock-worker"' in report
    assert "deadlock_module_locks.py:13" in report and "with STOCK_LOCK:" in report


def test_a_cycle_through_a_logging_handlers_lock_is_a_deadlock(program):
    process = program("deadlock_logging_handler.py")
    threads = by_name(only_deadlock(observe(process.pid)[1]))
    assert set(threads) == {"flusher", "worker"}
    flusher, worker = threads["flusher"], threads["worker"]
    # the flusher holds the registry lock and waits inside logging for the handler's lock ...
    assert flusher["held_at"].endswith("deadlock_logging_handler.py:21") and flusher["holds"].startswith("self._lock (Registry@")
    assert flusher["waits_for"].startswith("self.lock (MetricsHandler@") and "logging/__init__.py:" in flusher["waits_at"]
    # ... which logging's Handler.handle took for the worker, now waiting for the registry lock in emit()
    assert worker["holds"].startswith("self.lock (MetricsHandler@") and "logging/__init__.py" in worker["held_at"]
    assert worker["waits_at"].endswith("deadlock_logging_handler.py:17")


def test_a_lock_held_across_a_contextmanager_yield_closes_the_cycle(program):
    process = program("deadlock_contextmanager.py")
    threads = by_name(only_deadlock(observe(process.pid)[1]))
    assert set(threads) == {"report", "refresh"}
    report, refresh = threads["report"], threads["refresh"]
    # report is inside `with pool.checkout():`: it holds the lock checkout() took around its yield
    assert report["holds"].startswith("pool.lock (Pool@") and report["held_at"].endswith("deadlock_contextmanager.py:28")
    assert refresh["waits_for"].startswith("self.lock (Pool@") and refresh["waits_at"].endswith("deadlock_contextmanager.py:18")
    assert report["holds"].split("@")[1] == refresh["waits_for"].split("@")[1]  # one lock under two names


def test_a_one_line_with_that_waits_is_a_wait_not_a_hold(program):
    process = program("deadlock_one_line.py")
    threads = by_name(only_deadlock(observe(process.pid)[1]))
    assert set(threads) == {"w1", "w2"}
    assert threads["w1"]["waits_at"].endswith("deadlock_one_line.py:12") and threads["w1"]["holds"].endswith(".a")
    assert threads["w2"]["waits_at"].endswith("deadlock_one_line.py:18") and threads["w2"]["holds"].endswith(".b")
