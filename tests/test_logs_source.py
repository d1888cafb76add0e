"""The Logs source end to end on real files written by a real child process: events joined, levels and times
parsed, lines redacted, clustered, access metrics, findings, the ring's cap, and discovery with the system
readers on."""

from __future__ import annotations

import subprocess
import time

from children import READY, python_child
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
