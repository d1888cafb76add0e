"""classify (time, level, pid of one line) and EventJoiner (a traceback is one event), on real and literal lines."""

from __future__ import annotations

import calendar
import math
import subprocess
import sys
import textwrap

import pytest

from tui.logs.parse import EVENT_HEAD_LINES, EVENT_TAIL_LINES, EventJoiner, classify
from tui.logs.records import LogLine

MAY_1 = calendar.timegm((2024, 5, 1, 10, 0, 0, 0, 0, 0))  # tests run with TZ=UTC (conftest)

CLASSIFY_CASES = [
    # (line, time, level, pid)
    ('{"level":"error","time":"2024-05-01T10:00:00Z","pid":12,"msg":"x"}', MAY_1, "error", 12),
    ('{"severity":"WARNING","timestamp":1714557600123,"message":"slow"}', MAY_1 + 0.123, "warning", None),
    ('{"levelname":"INFO","@timestamp":"2024-05-01T12:00:00+02:00","process":7}', MAY_1, "info", 7),
    ('{"lvl":50,"ts":1714557600}', MAY_1, "error", None),  # pino/bunyan number
    ('{"time_iso8601":"2024-05-01T10:00:00+00:00","status":"503","request":"GET / HTTP/1.1"}', MAY_1, "error", None),
    ("<11>May  1 10:00:00 host app[123]: boom", None, "error", 123),  # syslog pri 11: user.err
    ("<165>1 2024-05-01T10:00:00.003Z host app 4321 ID47 - started", MAY_1 + 0.003, "info", None),  # RFC 5424
    ("May  1 10:00:00 host sshd[999]: Accepted publickey for root", None, "", 999),  # RFC 3164, no level
    ("2024-05-01 10:00:00,123 ERROR [main] com.example.App - request failed", MAY_1 + 0.123, "error", None),  # log4j
    ("2024-05-01 10:00:00,123 - app.db - WARNING - pool nearly full", MAY_1 + 0.123, "warning", None),  # Python
    ("ERROR:root:something bad happened", None, "error", None),  # logging.basicConfig's default format
    ("CRITICAL:app:disk gone", None, "critical", None),
    ("2024/05/01 10:00:00 [error] 123#0: *1 connect() failed (111: Connection refused) while connecting to upstream",
     MAY_1, "error", 123),  # nginx error log
    ("2024/05/01 10:00:00 [notice] 77#77: signal process started", MAY_1, "info", 77),
    ("[2024-05-01 10:00:00 +0000] [123] [INFO] Booting worker with pid: 124", MAY_1, "info", 123),  # gunicorn
    ("[2024-05-01 10:00:00 +0000] [123] [CRITICAL] WORKER TIMEOUT (pid:124)", MAY_1, "critical", 123),
    ('INFO:     127.0.0.1:50000 - "GET /items HTTP/1.1" 500 Internal Server Error', None, "error", None),  # uvicorn
    ("ERROR:    Exception in ASGI application", None, "error", None),
    ('2024-05-01 10:00:00.123 UTC [123] FATAL:  password authentication failed for user "app"',
     MAY_1 + 0.123, "critical", 123),  # PostgreSQL
    ("2024-05-01 10:00:00.123 UTC [124] LOG:  checkpoint starting: time", MAY_1 + 0.123, "info", 124),
    ("2024-05-01 10:00:00.123 UTC [125] ERROR:  relation \"nope\" does not exist", MAY_1 + 0.123, "error", 125),
    ("2024-05-01 10:00:00 0 [Warning] Aborted connection 5 to db: 'x' user: 'y'", MAY_1, "warning", None),  # MariaDB
    ("2024-05-01  9:00:00 0 [Note] InnoDB: Buffer pool(s) load completed", MAY_1 - 3600, "info", None),  # hour padded
    ("2024-05-01T10:00:00.000000Z 0 [ERROR] [MY-010119] [Server] Aborting", MAY_1, "error", None),  # MySQL 8
    ("[Wed May 01 10:00:00.5 2024] [core:error] [pid 42:tid 43] AH00037: Symbolic link not allowed",
     MAY_1 + 0.5, "error", 42),  # Apache error log
    ('127.0.0.1 - - [01/May/2024:10:00:00 +0000] "GET /x HTTP/1.1" 502 12 "-" "curl/8"', MAY_1, "error", None),
    ('127.0.0.1 - - [01/May/2024:12:00:00 +0200] "GET /x HTTP/1.1" 404 12 "-" "curl/8"', MAY_1, "warning", None),
    ("ts=2024-05-01T10:00:00Z level=warn msg=\"retrying\"", MAY_1, "warning", None),  # logfmt
    ("[12345.678] Out of memory: Killed process 1234 (python3) total-vm:100kB, anon-rss:50kB", None, "error", 1234),
    # lines that must NOT be misread: "error" as a word of the message, of a path, of a status text
    ("2024-05-01 10:00:00,000 INFO serving /static/error.html", MAY_1, "info", None),
    ('127.0.0.1 - - [01/May/2024:10:00:00 +0000] "GET /api/error-report HTTP/1.1" 200 5 "-" "ERROR-bot"',
     MAY_1, "info", None),
    ("2024-05-01 10:00:00,000 INFO no error found, retried ERRORS=0", MAY_1, "info", None),
    ("2024-05-01 10:00:00 worker finished: error_count=0 path=/var/log/ERROR.log", MAY_1, "", None),
    ("ts=2024-05-01T10:00:00Z level=info msg=\"error budget fine\"", MAY_1, "info", None),
    ("plain text with nothing to say", None, "", None),
    ("", None, "", None),
    ('{"not": "a log", "level": ["weird"]}', None, "", None),
    ("{broken json ERROR", None, "error", None),
]


@pytest.mark.parametrize(("line", "when", "level", "pid"), CLASSIFY_CASES)
def test_classify(line, when, level, pid):
    got_time, got_level, got_pid = classify(line)
    assert (got_level, got_pid) == (level, pid)
    if when is None:
        if "May  1" not in line:
            assert got_time is None
    else:
        assert got_time == pytest.approx(when, abs=1e-3)


def test_classify_syslog_time_without_a_year_is_this_year():
    when, _, _ = classify("May  1 10:00:00 host cron[1]: ran")
    import time

    assert time.gmtime(when)[1:6] == (5, 1, 10, 0, 0)


# --- EventJoiner -------------------------------------------------------------------------------------------

APP = textwrap.dedent('''
    import logging, sys
    logging.basicConfig(filename=sys.argv[1], format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("app")

    def parse(raw):
        return int(raw)

    def handle(raw):
        try:
            return parse(raw)
        except ValueError as exc:
            raise RuntimeError("bad request body") from exc

    log.warning("starting")
    try:
        handle("x")
    except RuntimeError:
        log.exception("request failed")
    try:
        {}["missing"]
    except KeyError:
        try:
            1 / 0
        except ZeroDivisionError:
            log.exception("cleanup failed")
    log.error("plain error, no traceback")
    log.warning("done")
''')


def real_log(tmp_path) -> list[str]:
    """The lines a real Python program writes through logging.exception (chained and nested exceptions)."""
    path = tmp_path / "app.log"
    subprocess.run([sys.executable, "-c", APP, str(path)], check=True, timeout=30)
    return path.read_text().splitlines()


def join(texts: list[str], source: str = "file:app.log") -> list[LogLine]:
    joiner = EventJoiner()
    events = []
    for seq, text in enumerate(texts):
        when, level, pid = classify(text)
        events += joiner.feed(LogLine(source, when or 0.0, text, level, pid, seq=seq), now=100.0)
    assert joiner.flush(100.1) == []  # too soon: the last line may still be continued
    events += joiner.flush(100.0 + joiner.wait)
    return events


def test_real_python_tracebacks_become_one_event_each(tmp_path):
    lines = real_log(tmp_path)
    assert len(lines) > 20 and sum(line.startswith("Traceback") for line in lines) == 4
    events = join(lines)
    assert [e.text.splitlines()[0].split(" ", 3)[-1] for e in events] == [
        "app: starting", "app: request failed", "app: cleanup failed", "app: plain error, no traceback", "app: done"]
    failed, cleanup = events[1], events[2]
    # the chained exception is in the same event, and the event ends with the exception raised last
    assert "The above exception was the direct cause" in failed.text
    assert failed.text.count("Traceback (most recent call last):") == 2
    assert failed.text.splitlines()[-1] == "RuntimeError: bad request body"
    assert "During handling of the above exception" in cleanup.text
    assert cleanup.text.splitlines()[-1] == "ZeroDivisionError: division by zero"
    assert failed.level == "error" and failed.seq == 1
    assert sum(len(e.text.splitlines()) for e in events) == len(lines)  # nothing lost, the blank lines of a chain kept


def test_a_bare_traceback_on_stderr_is_one_event(tmp_path):
    crash = subprocess.run([sys.executable, "-c", "def f():\n    raise ValueError('boom')\nprint('up')\nf()"],
                           capture_output=True, text=True, timeout=30)
    lines = crash.stdout.splitlines() + crash.stderr.splitlines()
    events = join(lines)
    assert [e.text.splitlines()[0] for e in events] == ["up", "Traceback (most recent call last):"]
    assert events[1].text.endswith("ValueError: boom") and events[1].level == "error"


JAVA = """2024-05-01 10:00:00,123 ERROR [http-nio-8080-exec-1] c.e.web.OrderController - order failed
org.springframework.dao.DataAccessResourceFailureException: could not open connection
\tat org.springframework.orm.jpa.JpaTransactionManager.doBegin(JpaTransactionManager.java:466)
\tat com.example.web.OrderController.create(OrderController.java:42)
Caused by: java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available
\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)
\t... 2 more
2024-05-01 10:00:01,000 INFO [main] c.e.App - still serving"""


def test_java_stack_trace_is_one_event():
    events = join(JAVA.splitlines())
    assert len(events) == 2
    assert events[0].text == "\n".join(JAVA.splitlines()[:7]) and events[0].level == "error"
    assert events[1].text.endswith("still serving")


def test_an_info_line_followed_by_an_indented_line_stays_two_lines():
    events = join(["2024-05-01 10:00:00 INFO config:", "    debug = false"])
    assert [e.text for e in events] == ["2024-05-01 10:00:00 INFO config:", "    debug = false"]


def test_a_huge_traceback_keeps_both_ends():
    frames = [f'  File "/app/deep.py", line {n}, in level{n}\n    recurse()' for n in range(500)]
    text = ["Traceback (most recent call last):", *"\n".join(frames).splitlines(), "RecursionError: too deep"]
    events = join(text)
    assert len(events) == 1
    kept = events[0].text.splitlines()
    assert len(kept) == EVENT_HEAD_LINES + EVENT_TAIL_LINES + 1
    assert kept[0].startswith("Traceback") and kept[-1] == "RecursionError: too deep"
    assert f"{len(text) - EVENT_HEAD_LINES - EVENT_TAIL_LINES} lines left out" in kept[EVENT_HEAD_LINES]


def test_flush_releases_a_pending_line_after_the_wait():
    joiner = EventJoiner(wait=0.5)
    assert joiner.feed(LogLine("s", 1.0, "ERROR:root:x", "error"), now=10.0) == []
    assert joiner.flush(10.2) == []
    assert [e.text for e in joiner.flush(10.5)] == ["ERROR:root:x"]
    assert joiner.flush(math.inf) == []
