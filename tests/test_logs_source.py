"""The Logs source end to end on real files written by a real child process: events joined, levels and times
parsed, lines redacted, clustered, access metrics, findings, the ring's cap, and discovery with the system
readers on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from children import READY, python_child
from conftest import ROOT
from tui.config import Config
from tui.logs.source import LogsSource
from tui.redact import MASK

APP = f"""
import logging, sys
logging.basicConfig(filename=sys.argv[1], format="%(asctime)s app[%(process)d]: %(levelname)s %(message)s",
                    level=logging.INFO)
log = logging.getLogger("app")
{READY}
for command in sys.stdin:
    if command.startswith("work"):
        for n in range(30):
            log.info("request %d served in %d ms", n, 10 + n)
        log.warning("login as admin password=hunter2 refused")
        try:
            1 / 0
        except ZeroDivisionError:
            log.exception("handler crashed")
        log.info("after the crash")
    print("done", flush=True)
"""
ACCESS = ('127.0.0.1 - - [{now}] "GET /api/orders/{n} HTTP/1.1" {status} 512 "-" "curl/8" rt=0.{n:03d}\n')


def ask(child, command: str) -> None:
    child.stdin.write(command + "\n")
    child.stdin.flush()
    assert child.stdout.readline().strip() == "done"


def test_a_real_application_log_becomes_events_clusters_and_findings(tmp_path):
    path = tmp_path / "app.log"
    source = LogsSource(Config(log_paths=[str(path)]), only_named=True)
    try:
        first = source.collect()
        [followed] = first.sources
        assert (followed.name, followed.status, followed.found_by) == (f"file:{path}", "waiting", "config")
        app = python_child(APP, str(path), stdin=subprocess.PIPE)
        try:
            ask(app, "work")
        finally:
            app.stdin.close()
            app.wait(timeout=10)
        source.collect()
        section = source.collect()  # the last line is released by the event joiner once nothing follows it
    finally:
        source.close()
    texts = [line.text for line in section.lines]
    assert sum("served in" in text for text in texts) == 30
    [crash] = [line for line in section.lines if "handler crashed" in line.text]
    assert "Traceback (most recent call last)" in crash.text and "ZeroDivisionError" in crash.text  # one event
    assert crash.level == "error" and crash.pid == app.pid
    [secret] = [text for text in texts if "login as admin" in text]
    assert "hunter2" not in secret and MASK in secret
    assert all(line.seq > 0 for line in section.lines)
    assert [(line.time, line.seq) for line in section.lines] == sorted((line.time, line.seq) for line in section.lines)
    served = [c for c in section.clusters if "served in" in c.template]
    assert len(served) == 1 and served[0].count == 30 and served[0].level == "info"
    assert "traceback" in {finding.id for finding in source.analyze(section)}


def test_access_lines_become_request_metrics(tmp_path):
    path = tmp_path / "access.log"
    path.write_text("")
    source = LogsSource(Config(log_paths=[str(path)]), only_named=True)
    try:
        source.collect()
        with open(path, "a") as log:
            now = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
            log.writelines(ACCESS.format(now=now, n=n, status=500 if n % 4 == 0 else 200) for n in range(40))
        source.collect()
        section = source.collect()  # the last line is released once nothing follows it
    finally:
        source.close()
    [stats] = section.access
    assert stats.source == f"file:{path}" and stats.requests == 40
    assert stats.per_status_class.get("5xx") == 10 and stats.per_status_class.get("2xx") == 30
    assert stats.p95_s is not None


def test_the_ring_keeps_the_newest_lines_and_counts_the_rest(tmp_path):
    path = tmp_path / "busy.log"
    path.write_text("")
    source = LogsSource(Config(log_paths=[str(path)], log_lines_kept=100), only_named=True)
    try:
        source.collect()
        with open(path, "a") as log:
            log.writelines(f"line {n}\n" for n in range(250))
        source.collect()
        section = source.collect()  # the last line is released by the event joiner once nothing follows it
    finally:
        source.close()
    assert [line.text for line in section.lines] == [f"line {n}" for n in range(150, 250)]
    assert section.dropped == 150


def test_with_the_system_readers_a_log_a_process_writes_is_found(tmp_path):
    path = tmp_path / "worker.log"
    writer = python_child(f"import sys\nlog = open(sys.argv[1], 'a', buffering=1)\nlog.write('worker up\\n')\n{READY}\n"
                          "sys.stdin.read()", str(path), stdin=subprocess.PIPE)
    source = LogsSource(Config())
    try:
        section = source.collect()
    finally:
        writer.stdin.close()
        writer.wait(timeout=10)
        source.close()
    by_name = {s.name: s for s in section.sources}
    assert by_name[f"file:{path}"].found_by.startswith(f"open by pid {writer.pid} (")
    assert {"journal", "kernel", "containers"} <= set(by_name)
    assert all(s.status in ("following", "waiting", "absent", "unreadable") for s in section.sources)


def test_one_poll_sees_the_traceback_that_ends_a_log(tmp_path):
    """`doctor` and `snapshot --observe 0` poll once: the backlog's last event is complete, not held back."""
    path = tmp_path / "app.log"
    app = python_child(APP, str(path), stdin=subprocess.PIPE)
    try:
        ask(app, "work")
    finally:
        app.stdin.close()
        app.wait(timeout=10)
    path.write_text(path.read_text().replace("after the crash", "")  # the traceback is now the last event
                    .rsplit("\n", 2)[0] + "\n")
    source = LogsSource(Config(log_paths=[str(path)]), only_named=True)
    try:
        section = source.collect()
    finally:
        source.close()
    assert path.read_text().rstrip().endswith("ZeroDivisionError: division by zero")
    assert "traceback" in {finding.id for finding in source.analyze(section)}


def test_undated_history_is_not_new_but_a_template_that_appears_while_watching_is(tmp_path):
    """A log's lines with no time of their own, read when tshoot starts, were written at some unknown time:
    their templates are not "new in the last 5 minutes"; a template that first appears afterwards is."""
    from tui.logs.report import is_new

    path = tmp_path / "worker.log"
    path.write_text("".join(f"worker {n} started\n" for n in range(20)))
    source = LogsSource(Config(log_paths=[str(path)]), only_named=True)
    try:
        history = source.collect()
        with path.open("a") as log:
            log.write("".join(f"queue {n} is full, dropping job\n" for n in range(5)))
        source.collect()
        section = source.collect()
    finally:
        source.close()
    new = {c.template for c in section.clusters if is_new(c, section.taken_at)}
    assert any("dropping job" in template for template in new)
    assert not any("started" in template for template in new)
    assert [c for c in history.clusters if "started" in c.template][0].undated


def test_the_ring_is_bounded_by_its_text_as_well_as_its_line_count(tmp_path, monkeypatch):
    """Lines of the 16 KB cap would make 5,000 lines 80 MB: the ring also keeps at most RING_CHARS of text."""
    import tui.logs.source as logs_source

    monkeypatch.setattr(logs_source, "RING_CHARS", 20_000)
    path = tmp_path / "wide.log"  # under the 64 KB a file is first read from: every line is read
    path.write_text("".join(f"{n:05d} " + "x" * 9_000 + "\n" for n in range(6)))
    source = LogsSource(Config(log_paths=[str(path)]), only_named=True)
    try:
        section = source.collect()
    finally:
        source.close()
    assert len(section.lines) == 2 and sum(len(line.text) for line in section.lines) <= 20_000
    assert section.lines[-1].text.startswith("00005") and section.dropped == 4


HISTORY_TRACEBACK = """worker 3 failed
Traceback (most recent call last):
  File "/srv/worker.py", line 12, in run
    job()
ValueError: bad row
"""


def test_undated_history_makes_no_current_finding(tmp_path):
    """A log's old lines with no time of their own, read at start, are no burst, traceback or recent pattern (60
    old ERROR lines were "Burst of errors: 59 lines in 5 min"); the same lines written while watching are."""
    path = tmp_path / "worker.log"
    history = [f"ERROR worker {n} lost its lease\n" for n in range(60)]
    history += ["ERROR db: connection refused\n"] * 3 + [HISTORY_TRACEBACK, "worker up\n"]
    path.write_text("".join(history))
    source = LogsSource(Config(log_paths=[str(path)]), only_named=True)
    try:
        section = source.collect()
        assert source.analyze(section) == []
        lease = [c for c in section.clusters if "lost its lease" in c.template]
        assert [(c.count, sum(c.per_minute)) for c in lease] == [(60, 0)]  # counted, in no minute
        assert sum("lost its lease" in line.text for line in section.lines) == 60  # and shown
        with path.open("a") as log:
            log.write("".join(history))
        source.collect()
        section = source.collect()
    finally:
        source.close()
    assert {f.id for f in source.analyze(section)} == {"error-burst", "connection-refused", "traceback"}


def test_a_source_that_wrote_its_last_event_holds_no_joiner(tmp_path):
    """Per-source joining state lives only while an event is pending: sources that come and go leave none."""
    paths = [tmp_path / f"app-{n}.log" for n in range(3)]
    for path in paths:
        path.write_text("")
    source = LogsSource(Config(log_paths=[str(path) for path in paths]), only_named=True)
    try:
        source.collect()
        for path in paths:
            path.write_text("ERROR one\nERROR two\n")
        source.collect()
        pending = set(source._joiners)
        section = source.collect()
    finally:
        source.close()
    assert pending == {f"file:{path}" for path in paths}  # each holds its last line, which may be continued
    assert source._joiners == {} and sum(line.text == "ERROR two" for line in section.lines) == 3


def test_a_line_dated_in_the_future_is_read_at_its_read_time(tmp_path):
    """9999-12-31 (or a clock hours ahead) would keep the line in the time-ordered ring forever, always newest."""
    path = tmp_path / "skewed.log"
    path.write_text("")
    source = LogsSource(Config(log_paths=[str(path)], log_lines_kept=100), only_named=True)
    ahead = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(time.time() + 3600))
    try:
        source.collect()
        with open(path, "a") as log:
            log.write(f"9999-12-31 23:59:59 ERROR from the future\n{ahead} ERROR an hour ahead\n")
        source.collect()
        read = source.collect()  # the last line is released by the event joiner once nothing follows it
        with open(path, "a") as log:
            log.writelines(f"line {n}\n" for n in range(150))
        source.collect()
        section = source.collect()
    finally:
        source.close()
    assert [line.time <= read.taken_at for line in read.lines] == [True, True]
    assert not any("future" in line.text or "ahead" in line.text for line in section.lines)  # dropped, oldest
    assert [line.text for line in section.lines] == [f"line {n}" for n in range(50, 150)]


FOLLOW_CONTAINER = """
import json, sys, time
from tui.config import Config
from tui.logs.source import LogsSource

source = LogsSource(Config())
deadline = time.monotonic() + 60
try:
    while time.monotonic() < deadline:
        section = source.collect()
        mine = [line for line in section.lines if line.container == sys.argv[1] and "boom" in line.text]
        if mine:
            print(json.dumps({"time": mine[0].time, "level": mine[0].level, "read_at": section.taken_at}))
            break
        time.sleep(0.3)
finally:
    source.close()
"""


@pytest.mark.services
def test_a_container_line_keeps_the_engine_time_in_any_zone(docker_client, docker_image):
    """A container writes a zone-less time (its own clock, UTC): read as tshoot's local time it moved the line
    by the zone's offset. The engine's timestamp (UTC, exact) is kept; level and pid still come from the text."""
    name = f"tshoot-logs-{uuid.uuid4().hex[:6]}-tz"
    docker_client.containers.run(docker_image, ["sh", "-c", "echo \"$(date -u '+%Y-%m-%d %H:%M:%S') ERROR boom\"; "
                                                "sleep 120"], name=name, detach=True)
    try:
        child = subprocess.run([sys.executable, "-c", FOLLOW_CONTAINER, name], cwd=ROOT, capture_output=True,
                               text=True, timeout=90, env={**os.environ, "TZ": "Asia/Tokyo"})
    finally:
        docker_client.api.remove_container(name, force=True)
    assert child.stdout, child.stderr
    seen = json.loads(child.stdout)
    assert seen["level"] == "error"
    assert abs(seen["read_at"] - seen["time"]) < 120  # Tokyo's reading of the text is 9 hours off
