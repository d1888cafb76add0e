"""Hangs that are not lock cycles, named on real programs written the way services fail; healthy controls stay silent."""

from __future__ import annotations

import time

from programs.threads.support import program, pyspy_works  # noqa: F401  (fixtures)
from tui.config import Config, Thresholds
from tui.threads.source import ThreadsSource


def watch(pid: int, polls: int = 3) -> list:
    """Poll a ThreadsSource as the live app or `doctor` would (default thresholds), then judge."""
    source = ThreadsSource(Config(find_stuck=False, pids=[pid], thread_samples=3, thread_sample_interval=0.3))
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


def test_a_queue_whose_mutex_is_held_across_io_names_the_holder_and_a_full_queue_is_named_as_such(program):
    from tui.threads.deadlock import thread_state

    process = program("queue_mutex_held.py")
    source = ThreadsSource(Config(find_stuck=False, pids=[process.pid], thread_samples=3, thread_sample_interval=0.3))
    for _ in range(3):
        section = source.collect()
        time.sleep(0.5)
    findings = source.analyze(section)
    # the shipper died too: the full queue nobody takes from is its own finding
    assert [f.id for f in findings] == ["lock-held-across-io", "queue-stalled"], [f.title for f in findings]
    stalled = findings[1]
    assert stalled.subject["queue"] == "AUDIT" and stalled.evidence["consumers"] == []
    assert [p["name"] for p in stalled.evidence["producers"]] == ["handler-full"]  # handler-mutex waits for the lock
    evidence = findings[0].evidence
    assert evidence["holder"]["name"] == "stats" and evidence["holder"]["held_at"].endswith("queue_mutex_held.py:26")
    assert "AUDIT.mutex" in evidence["lock"] and "the mutex of" in evidence["lock"]
    assert [(w["name"], w["waits_at"].rsplit("/", 1)[-1]) for w in evidence["waiters"]] == [
        ("handler-mutex", "queue_mutex_held.py:22")]  # the program's put(), not queue.py's line
    states = {t.name: thread_state(t) for t in section.processes[str(process.pid)].threads}
    assert states["handler-full"].startswith("waiting for room in full queue AUDIT: until another thread takes an item")


def test_a_full_queue_whose_consumer_waits_on_a_silent_peer_is_a_stalled_queue(program):
    process = program("queue_stalled.py")
    findings = watch(process.pid, polls=4)
    assert [f.id for f in findings] == ["queue-stalled"], [f.title for f in findings]
    finding = findings[0]
    assert finding.severity == "warning" and finding.subject == {"pid": process.pid, "queue": "outbox"}
    assert "deadlock" not in finding.title.lower() and '"log-shipper" is blocked on I/O (s.recv(16)' in finding.title
    producers = finding.evidence["producers"]
    assert [p["name"] for p in producers] == ["handler-0", "handler-1", "handler-2"]
    assert all(p["puts_at"].endswith("queue_stalled.py:26") and "outbox.put(" in p["line"] for p in producers)
    [consumer] = finding.evidence["consumers"]
    assert consumer["name"] == "log-shipper" and consumer["state"] == "waiting on I/O"
    assert consumer["blocked_at"].endswith("queue_stalled.py:21") and "s.recv(16)" in consumer["blocked_line"]
    assert finding.evidence["identified_by"].startswith("name: ")  # `outbox` is a global: no local's address


def test_a_consumer_in_a_retry_back_off_is_matched_to_its_queue_by_the_address_of_the_queue_it_was_passed(program):
    process = program("queue_consumer_asleep.py")
    findings = watch(process.pid, polls=4)
    assert [f.id for f in findings] == ["queue-stalled"], [f.title for f in findings]
    evidence = findings[0].evidence
    assert evidence["identified_by"] == "address" and evidence["queue"].startswith("uploads (Queue@0x")
    [consumer] = evidence["consumers"]
    assert consumer["name"] == "uploader" and consumer["doing"].startswith("sleeping (time.sleep(1.0)")
    assert consumer["blocked_at"].endswith("queue_consumer_asleep.py:17")


def test_a_full_queue_whose_only_consumer_died_has_nobody_taking_from_it(program):
    process = program("queue_no_consumer.py")
    findings = watch(process.pid, polls=4)
    assert [f.id for f in findings] == ["queue-stalled"], [f.title for f in findings]
    finding = findings[0]
    assert finding.severity == "critical" and finding.subject == {"pid": process.pid, "queue": "jobs"}
    assert "no live thread takes from it" in finding.title and finding.evidence["consumers"] == []
    assert [p["name"] for p in finding.evidence["producers"]] == ["submitter-0", "submitter-1"]
    assert all(p["puts_at"].endswith("queue_no_consumer.py:16") for p in finding.evidence["producers"])
    assert finding.evidence["identified_by"] == "address"


def test_a_full_queue_with_a_working_consumer_and_idle_consumers_of_an_empty_one_stay_silent(program):
    process = program("queue_healthy.py")
    assert [f.id for f in watch(process.pid, polls=6)] == []


def test_a_condition_built_on_the_stores_lock_is_that_lock_not_an_orphan(program):
    from tui.threads.deadlock import thread_state

    process = program("condition_on_app_lock.py")
    source = ThreadsSource(Config(find_stuck=False, pids=[process.pid], thread_samples=3, thread_sample_interval=0.3))
    for _ in range(3):
        section = source.collect()
        time.sleep(0.5)
    findings = source.analyze(section)
    assert [f.id for f in findings] == ["lock-held-across-io"], [f.title for f in findings]
    evidence = findings[0].evidence
    assert evidence["lock"].startswith("self._lock (ConfigStore@")
    assert evidence["holder"]["name"] == "reloader" and evidence["holder"]["held_at"].endswith("condition_on_app_lock.py:25")
    assert [(w["name"], w["waits_at"].rsplit("/", 1)[-1]) for w in evidence["waiters"]] == [
        ("reader", "condition_on_app_lock.py:29")]
    watcher = next(t for t in section.processes[str(process.pid)].threads if t.name == "watcher")
    assert thread_state(watcher).startswith("waiting on condition self._changed: until another thread notifies it, "
                                            "stuck ≥ ")


def test_same_stack_without_cpu_is_blocked_and_with_cpu_is_spinning(program):
    from tui.threads.deadlock import cpu_verdict, thread_state

    process = program("spin_and_block.py")
    source = ThreadsSource(Config(find_stuck=False, pids=[process.pid], thread_samples=3, thread_sample_interval=0.3))
    for _ in range(3):
        section = source.collect()
        time.sleep(0.5)
    threads = {t.name: t for t in section.processes[str(process.pid)].threads}
    exporter, poller = threads["exporter"], threads["poller"]
    assert exporter.stuck and poller.stuck  # both stacks stand still: only their CPU time tells them apart
    assert exporter.cpu_seconds == 0 and poller.cpu_seconds > 0.05, (exporter.cpu_seconds, poller.cpu_seconds)
    assert (cpu_verdict(exporter), cpu_verdict(poller)) == ("blocked", "spinning")
    assert thread_state(exporter).endswith("(since first seen), blocked")
    assert thread_state(poller).endswith("spinning: same stack, CPU time moving")
    findings = [f for f in source.analyze(section) if f.id != "hot-code"]  # the spinner is hot code, rightly
    assert [f.id for f in findings] == ["lock-contention"], [f.title for f in findings]
    assert [(w["name"], w["cpu"]) for w in findings[0].evidence["waiters"]] == [("exporter", "blocked")]


def test_idle_pools_idle_loops_and_busy_cpu_work_stay_silent(program):
    process = program("idle_pool_and_loop.py")
    assert [f.id for f in watch(process.pid) if f.id != "hot-code"] == []  # its busy thread is CPU, not a hang


def test_contention_is_reported_within_a_default_three_second_doctor_run(program):
    from tui.snapshot import collect_all
    from tui.registry import build_sources

    process = program("contention.py")
    config = Config(find_stuck=False, pids=[process.pid])
    sources = [s for s in build_sources(config) if s.name == "threads"]
    collection = collect_all(config, 3.0, sources)
    assert [f.id for f in collection.findings if f.source == "threads"] == ["lock-contention"]
    assert Thresholds().stuck_thread_s <= 3.0


def test_without_a_pid_every_hung_process_is_found_and_healthy_ones_are_not(program):
    hung = {name: program(f"{name}.py").pid for name in
            ("pool_starvation", "blocked_event_loop", "orphaned_lock", "lock_across_io", "deadlock_ring",
             "queue_stalled")}
    healthy = [program("idle_pool_and_loop.py").pid, program("waits_no_owner.py").pid, program("queue_healthy.py").pid]
    config = Config()  # no --pid: the finder sweeps every Python process
    source = ThreadsSource(config)
    found: dict[int, set[str]] = {}
    for _ in range(20):  # the first look marks suspects, the next ones measure how long they stay stuck; a busy
        section = source.collect()  # machine with many Python processes may need more than one sweep to see all
        found = {}
        # busy is not hung; what the sweep left for later (a dump over its pause budget) names no process
        for finding in (f for f in source.analyze(section) if f.id not in ("hot-code", "sweep-incomplete")):
            found.setdefault(finding.subject["pid"], set()).add(finding.id)
        if all(pid in found for pid in hung.values()):
            break
        time.sleep(1.0)
    assert found.get(hung["pool_starvation"]) == {"pool-starvation"}
    assert found.get(hung["blocked_event_loop"]) == {"event-loop-blocked"}
    assert found.get(hung["orphaned_lock"]) == {"orphaned-lock"}
    assert found.get(hung["lock_across_io"]) == {"lock-held-across-io"}
    assert found.get(hung["deadlock_ring"]) == {"deadlock"}
    assert found.get(hung["queue_stalled"]) == {"queue-stalled"}
    assert not any(pid in found for pid in healthy), {pid: found.get(pid) for pid in healthy}
    entries = {int(pid): entry for pid, entry in section.processes.items()}
    assert all(entries[pid].found_by == "scan" for pid in hung.values())
    paused = {name: entries[pid].paused_ms_last_minute for name, pid in hung.items()}
    assert all(0 < ms <= 1000 for ms in paused.values()), paused
    assert not any(pid in entries for pid in healthy)  # a healthy process is looked at, not kept


def test_the_finder_leaves_a_process_alone_once_its_pause_budget_is_spent():
    from tui.threads.finder import LOCALS, MAX_PAUSE_MS_PER_MIN, RESCAN_S, HangFinder
    from tui.threads.records import PythonCandidate

    finder = HangFinder()
    candidates = [PythonCandidate(pid, "python3", "python3 app.py", cpu_seconds=1.0) for pid in (11, 12, 13)]
    assert finder.due(candidates, exclude={13}, now=0.0) == [11, 12]  # never seen: due now; excluded never
    finder.charge(11, LOCALS, 0.0, 0.05)
    finder.record(11, 0.0, suspect=True)
    finder.record(12, 0.0, suspect=False, cpu_seconds=1.0)
    assert finder.due(candidates, exclude=set(), now=1.0) == [11, 13]  # the suspect first; 12 waits RESCAN_S
    finder.charge(11, LOCALS, 1.0, MAX_PAUSE_MS_PER_MIN / 1000 - 0.06)  # 10 ms left: its next dump needs more
    assert 11 not in finder.due(candidates, exclude=set(), now=2.0)  # over budget for this minute
    assert finder.take_skipped() == 1  # and the skip is counted, for the sweep to report
    assert 11 in finder.due(candidates, exclude=set(), now=62.0)  # the minute has passed
    assert 12 not in finder.due(candidates, exclude=set(), now=2 * RESCAN_S)  # it has not run since: not dumped
    candidates[1].cpu_seconds = 1.5
    assert 12 in finder.due(candidates, exclude=set(), now=3 * RESCAN_S)  # it ran: look again


def test_a_dump_is_refused_when_its_expected_pause_does_not_fit_and_native_costs_more_than_locals():
    """The expected pause comes from the process's own dumps: a process whose locals dumps are slow is
    expected to be slow at native unwinding too (a loaded host, a big process)."""
    from tui.threads.finder import DEFAULT_PAUSE_S, KILL_MARGIN_S, LOCALS, MAX_PAUSE_MS_PER_MIN, NATIVE, HangFinder

    budget = MAX_PAUSE_MS_PER_MIN / 1000 - KILL_MARGIN_S  # the timeout leaves room for a killed py-spy to end
    finder = HangFinder()
    assert finder.allowance(31, NATIVE, now=0.0) == budget  # nothing spent: the whole budget is its timeout
    finder.charge(31, LOCALS, 0.0, DEFAULT_PAUSE_S[LOCALS] / 2)  # a fast process
    assert finder.allowance(31, NATIVE, now=0.1) == budget - DEFAULT_PAUSE_S[LOCALS] / 2
    slow = HangFinder()
    slow.charge(32, LOCALS, 0.0, DEFAULT_PAUSE_S[LOCALS] * 1.25)  # 88 ms: native is expected at 250 ms
    assert slow.allowance(32, NATIVE, now=0.1) is None and slow.take_skipped() == 1
    assert slow.allowance(32, LOCALS, now=0.1) is not None  # another dump with locals still fits
    assert slow.allowance(32, NATIVE, now=61.0) is None  # a minute later its own cost still does not fit


def test_repeated_sweeps_never_pause_a_hung_process_beyond_its_budget(program):
    """A hung process is a suspect, looked at with locals on every poll: its budget runs out, the dumps that
    would overshoot are skipped and counted, the finding stays, and what py-spy paused it for adds up to no
    more than the budget (the test lasts well under the minute the budget is counted over)."""
    from tui.threads.finder import MAX_PAUSE_MS_PER_MIN

    process = program("deadlock_ring.py")
    source = ThreadsSource(Config())
    started = time.monotonic()
    left_alone = False
    while not left_alone and time.monotonic() - started < 45:  # a poll dumps it once with locals: ~10-100 ms
        looked_at = source._finder.scanned_at(process.pid)
        section = source.collect()
        assert source._finder.paused_ms_last_minute(process.pid, time.monotonic()) <= MAX_PAUSE_MS_PER_MIN
        left_alone = looked_at is not None and source._finder.scanned_at(process.pid) == looked_at
    assert left_alone  # its budget ran out: a poll skipped it rather than overshoot (all within a minute)
    assert source._finder.suspect(process.pid) and section.over_budget >= 1
    findings = source.analyze(section)
    assert "deadlock" in {f.id for f in findings if f.subject.get("pid") == process.pid}
    notice = next(f for f in findings if f.id == "sweep-incomplete")
    assert notice.evidence["skipped_for_pause_budget"] == section.over_budget >= 1
    assert section.processes[str(process.pid)].paused_ms_last_minute <= MAX_PAUSE_MS_PER_MIN
    deadlock = next(f for f in findings if f.id == "deadlock" and f.subject["pid"] == process.pid)
    assert 0 < deadlock.evidence["paused_ms_last_minute"] <= MAX_PAUSE_MS_PER_MIN  # the cost is reported with it


def test_doctor_without_pid_names_the_hung_processes(program, tmp_path):
    import json
    import subprocess
    import sys

    starved, blocked = program("pool_starvation.py").pid, program("blocked_event_loop.py").pid
    config = tmp_path / "config.toml"
    config.write_text("")  # no pids, no databases: what a new user has
    result = subprocess.run([sys.executable, "-m", "tui.cli", "doctor", "--json", "--config", str(config)],
                            capture_output=True, text=True, timeout=120)
    doc = json.loads(result.stdout)
    by_pid = {f["subject"].get("pid"): f["id"] for f in doc["findings"] if f["source"] == "threads"}
    assert by_pid.get(starved) == "pool-starvation" and by_pid.get(blocked) == "event-loop-blocked", doc["findings"]
    assert result.returncode == 2  # critical findings


def test_a_reused_pid_is_a_new_process_to_the_finder():
    """A pid the kernel gave to another process carries nothing over: not the old one's suspicion (its stale
    dump would be shown under the new process) nor its spent pause budget."""
    from tui.threads.finder import MAX_PAUSE_MS_PER_MIN, HangFinder
    from tui.threads.records import PythonCandidate

    finder = HangFinder()
    old = PythonCandidate(21, "python3", "python3 old.py", cpu_seconds=5.0, started=1000.0)
    assert finder.due([old], exclude=set(), now=0.0) == [21]
    finder.charge(21, "locals", 0.0, MAX_PAUSE_MS_PER_MIN / 1000)
    finder.record(21, 0.0, suspect=True, cpu_seconds=5.0)
    new = PythonCandidate(21, "python3", "python3 new.py", cpu_seconds=0.1, started=2000.0)
    assert finder.due([new], exclude=set(), now=1.0) == [21]  # never looked at, whatever the old one cost
    assert not finder.suspect(21)


def test_a_sweep_cut_short_by_its_time_budget_says_how_many_it_left(program, monkeypatch):
    from tui.threads import source as threads_source

    process = program("deadlock_ring.py")
    monkeypatch.setattr(threads_source, "SWEEP_SHARE_OF_TIMEOUT", 0.0)  # a host so busy no first dump may start
    source = ThreadsSource(Config())
    section = source.collect()
    assert section.unswept >= 1 and str(process.pid) not in section.processes
    notice = [f for f in source.analyze(section) if f.id == "sweep-incomplete"]
    assert len(notice) == 1 and notice[0].evidence["not_looked_at"] == section.unswept


def test_the_report_says_how_many_processes_the_sweep_looked_at():
    from tui.source import section_to_json
    from tui.threads.records import ThreadsSection
    from tui.threads.report import markdown

    assert markdown(section_to_json(ThreadsSection(swept=12, unswept=2)), [])[0] == (
        "Nothing stuck in the 12 Python process(es) tshoot looked at; 2 not looked at yet (busy host).")
    assert markdown(section_to_json(ThreadsSection()), [])[0].startswith("No process was dumped")
