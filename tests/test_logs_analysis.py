"""Clusterer (drain3 templates), AccessMeter (formats, window) and the findings of the Logs source."""

from __future__ import annotations

import logging
import random
import socket

import psycopg
import pytest

from tui.config import Thresholds
from tui.logs.analysis import (ACCESS_SOURCES_MAX, BUCKET_S, WINDOW_S, AccessMeter, Clusterer, Request, findings,
                               normalise_path, parse_access, traceback_summary)
from tui.logs.parse import EventJoiner, classify
from tui.logs.records import LogLine, LogsSection
from tui.redact import MASK

NOW = 1_800_000_030.0  # half a minute into a minute


def logged_lines(tmp_path, emit) -> list[str]:
    """Lines written by the real logging module (a FileHandler, the usual format) while `emit(log)` runs."""
    path = tmp_path / "app.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"))
    log = logging.getLogger(f"app.{tmp_path.name}")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    try:
        emit(log)
    finally:
        log.removeHandler(handler)
        handler.close()
    return path.read_text().splitlines()


def analyse(texts: list[str], source: str = "file:/var/log/app.log", times: list[float] | None = None,
            now: float = NOW) -> tuple[LogsSection, Clusterer]:
    """Run lines through the whole analysis path, as the Logs source does, and return the section."""
    joiner, clusterer, meter = EventJoiner(), Clusterer(), AccessMeter()
    kept = []
    for seq, text in enumerate(texts):
        _, level, pid = classify(text)
        when = times[seq] if times else now - 1
        for event in joiner.feed(LogLine(source, when, text, level, pid, seq=seq), now=0.0):
            kept.append(event)
    kept += joiner.flush(float("inf"))
    for event in kept:
        clusterer.add(event)
        meter.add(event)
    return LogsSection(taken_at=now, lines=kept, clusters=clusterer.clusters(now), access=meter.stats(now)), clusterer


# --- Clusterer ----------------------------------------------------------------------------------------------

def emit_four_kinds(log: logging.Logger) -> None:
    rng = random.Random(7)
    for n in range(150):
        log.info("GET /api/orders/%d answered in %.3fs for user %s", rng.randint(1, 10**6), rng.random(),
                 f"{rng.getrandbits(48):012x}")
        log.warning("connection pool at %d%% (%d of %d in use) on 10.0.%d.%d:5432", rng.randint(50, 99),
                    rng.randint(5, 20), 20, rng.randint(0, 255), rng.randint(1, 254))
        log.error("payment %s failed: card declined by upstream after %dms", rng.getrandbits(64), rng.randint(1, 999))
        log.debug("cache miss for key /srv/cache/%s/item.json", f"{rng.getrandbits(32):08x}")


def test_real_lines_of_four_kinds_make_four_templates(tmp_path):
    lines = logged_lines(tmp_path, emit_four_kinds)
    assert len(lines) == 600
    section, _ = analyse(lines)
    assert sorted((c.count, c.level) for c in section.clusters) == [
        (150, "debug"), (150, "error"), (150, "info"), (150, "warning")]
    by_level = {c.level: c for c in section.clusters}
    assert "payment <NUM> failed" in by_level["error"].template
    assert "<IP>" in by_level["warning"].template and "<PATH>" in by_level["debug"].template
    for cluster in section.clusters:
        assert cluster.per_minute[-1] == 150 and sum(cluster.per_minute) == 150
        assert len(cluster.per_minute) == 30 and cluster.sources == ["file:/var/log/app.log"]
        assert cluster.example == lines[lines.index(cluster.example)] and len(cluster.examples) == 3
    assert len({c.id for c in section.clusters}) == 4


def test_examples_and_templates_are_redacted(tmp_path):
    lines = logged_lines(tmp_path, lambda log: [
        log.error("cannot connect to postgresql://app:hunter2secret@db.internal/orders (attempt %d)", n)
        for n in range(3)])
    section, _ = analyse(lines)
    [cluster] = section.clusters
    assert "hunter2secret" not in cluster.example + cluster.template + "".join(cluster.examples)
    assert MASK in cluster.example


def test_first_and_last_seen_and_the_sparkline_follow_line_times():
    texts = [f"2024-05-01 10:00:00 ERROR job {n} failed" for n in range(10)]
    times = [NOW - 600 + 60 * n for n in range(10)]  # one a minute, the last a minute ago
    section, _ = analyse(texts, times=times)
    [cluster] = section.clusters
    assert (cluster.first_seen, cluster.last_seen, cluster.count) == (NOW - 600, NOW - 60, 10)
    assert cluster.per_minute[-11:] == [1] * 10 + [0] and sum(cluster.per_minute) == 10


def test_memory_is_bounded_by_the_template_cap():
    clusterer = Clusterer(max_clusters=10)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo"]
    for n in range(200):
        first, second = words[n % 11], words[(n // 11) % 11]
        clusterer.add(LogLine("s", NOW, f"{first} {second} {first}{second} happened", "info"))
    clusters = clusterer.clusters(NOW)
    assert 0 < len(clusters) <= 10 and len(clusterer._templates) <= 11


# --- AccessMeter --------------------------------------------------------------------------------------------

ACCESS_CASES = [
    # (line, status, path, seconds)
    ('10.0.0.1 - - [01/May/2024:10:00:00 +0000] "GET /a/b?x=1 HTTP/1.1" 200 512', 200, "/a/b", None),  # common
    ('10.0.0.1 - frank [01/May/2024:10:00:00 +0000] "POST /login HTTP/1.0" 302 0 "-" "Mozilla/5.0"',
     302, "/login", None),  # combined
    ('10.0.0.1 - - [01/May/2024:10:00:00 +0000] "GET /u/42 HTTP/1.1" 200 5 "-" "curl/8" rt=0.250 urt=0.240',
     200, "/u/:id", 0.25),
    ('10.0.0.1 - - [01/May/2024:10:00:00 +0000] "GET /u/42 HTTP/1.1" 504 5 "-" "curl/8" urt=1.5, 0.5',
     504, "/u/:id", 1.5),  # retried upstreams: the first
    ('10.0.0.1 - - [01/May/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8" request_time=0.2', 200, "/", 0.2),
    ('10.0.0.1 - - [01/May/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8" 0.031', 200, "/", 0.031),
    ('10.0.0.1 - - [01/May/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8" 123ms', 200, "/", 0.123),
    ('10.0.0.1 - - [01/May/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8" 1234567', 200, "/", None),  # %D µs
    # gunicorn's default access format, and with %(L)s (request time in seconds) appended
    ('127.0.0.1 - - [01/May/2024:10:00:00 +0000] "GET /health HTTP/1.1" 200 2 "-" "kube-probe/1.29"',
     200, "/health", None),
    ('127.0.0.1 - - [01/May/2024:10:00:00 +0000] "GET /report/2024 HTTP/1.1" 500 21 "-" "python-requests" 2.501233',
     500, "/report/:id", 2.501233),
    # uvicorn
    ('INFO:     127.0.0.1:53211 - "GET /items/5 HTTP/1.1" 404 Not Found', 404, "/items/:id", None),
    ('INFO:     127.0.0.1:53211 - "POST /orders HTTP/1.1" 201 Created', 201, "/orders", None),
    # nginx JSON log_format
    ('{"status":"502","request":"GET /api/v1/x/3f2504e0-4f89-11d3-9a0c-0305e82c3301 HTTP/1.1","request_time":"0.9"}',
     502, "/api/v1/x/:id", 0.9),
    ('{"status":200,"uri":"/p","upstream_response_time":"0.050"}', 200, "/p", 0.05),
]


@pytest.mark.parametrize(("line", "status", "path", "seconds"), ACCESS_CASES)
def test_access_formats(line, status, path, seconds):
    request = parse_access(line)
    assert (request.status, request.path) == (status, path)
    assert request.seconds == (pytest.approx(seconds) if seconds is not None else None)


@pytest.mark.parametrize("line", [
    "2024-05-01 10:00:00 INFO GET /api/x done in 0.5s",
    '{"level":"info","msg":"GET / 200"}',
    'said "GET" 200 times',
    "",
])
def test_other_lines_are_not_requests(line):
    assert parse_access(line) is None


@pytest.mark.parametrize("line", [
    '{"status": 200, "uri": "/a", "request_time": 1e400}', '{"status": 200, "uri": "/a", "request_time": "NaN"}',
    '{"status": 200, "uri": "/a", "request_time": %s}' % ("9" * 400),
    '10.0.0.1 - - [01/May/2024:10:00:00 +0000] "GET /a HTTP/1.1" 200 5 "-" "curl" rt=%s' % ("9" * 400),
    '10.0.0.1 - - [01/May/2024:10:00:00 +0000] "GET /a HTTP/1.1" 200 5 "-" "curl" %s.5' % ("9" * 400),
], ids=["1e400", "NaN", "400 digits", "rt= 400 digits", "bare 400 digits"])
def test_a_request_time_that_is_no_number_is_none(line):
    assert parse_access(line) == Request(200, "/a", None)


def test_json_nested_a_thousand_deep_is_no_request():
    assert parse_access('{"status": 200, "a": ' + "[" * 3000 + "]" * 3000 + "}") is None


def test_the_meter_forgets_silent_logs_and_keeps_a_bounded_number():
    """Containers come and go under new names: a log silent for the whole window is forgotten, and at most
    ACCESS_SOURCES_MAX are metered (the one that wrote least recently makes room)."""
    meter = AccessMeter()
    [line] = access_lines([(200, 0.01)])
    for n in range(ACCESS_SOURCES_MAX + 50):
        meter.add(LogLine(f"container:web-{n}", NOW - 100 + n * 0.1, line))
    stats = meter.stats(NOW)
    assert len(stats) == len(meter._buckets) == ACCESS_SOURCES_MAX
    assert {s.source for s in stats} == {f"container:web-{n}" for n in range(50, ACCESS_SOURCES_MAX + 50)}
    assert meter.stats(NOW + WINDOW_S + BUCKET_S) == [] and meter._buckets == {} and meter._first_seen == {}


def test_path_normalising():
    assert normalise_path("/users/123/orders/456?page=2#top") == "/users/:id/orders/:id"
    assert normalise_path("/files/0123456789abcdef0123/raw") == "/files/:id/raw"
    assert normalise_path("/v2/items") == "/v2/items"


def test_the_window_slides_and_buckets_stay_bounded():
    meter = AccessMeter(window_s=300)
    for second in range(3600):  # an hour, one request a second, a 500 every 10th
        status = 500 if second % 10 == 0 else 200
        meter.add(LogLine("file:a", NOW - 3600 + second,
                          f'1.2.3.4 - - [x] "GET /p HTTP/1.1" {status} 1 "-" "-" rt=0.010'))
    [stats] = meter.stats(NOW)
    assert 295 <= stats.requests <= 310 and stats.window_s == 300
    assert stats.per_status_class["5xx"] == pytest.approx(stats.requests / 10, abs=2)
    assert len(meter._buckets["file:a"]) <= 300 / 10 + 2
    assert meter.stats(NOW + 3600) == []  # nothing in the last 5 minutes: no stats


# --- findings -----------------------------------------------------------------------------------------------

def ids(found) -> list[str]:
    return sorted(f.id for f in found)


NORMAL = [
    '2024-05-01 10:00:00,000 INFO [12] app: GET /api/error-report served',
    '10.0.0.1 - - [01/May/2024:10:00:00 +0000] "GET /api/items HTTP/1.1" 200 5 "-" "curl/8" rt=0.020',
    '2024-05-01 10:00:00 WARNING cache cold, warming',
    'May  1 10:00:00 host kernel: [ 1.2] eth0: link up',
    '2024-05-01 10:00:00 ERROR one odd error',
]


def test_normal_lines_find_nothing():
    section, _ = analyse(NORMAL * 40, times=[NOW - 1800 + 9 * n for n in range(200)])  # over 30 minutes
    assert findings(section, Thresholds()) == []


def test_error_burst_fires_on_a_jump_and_not_on_a_steady_rate():
    burst = [f"2024-05-01 10:00:00 ERROR upstream 10.0.0.{n % 9} timed out" for n in range(30)]
    section, _ = analyse(burst, times=[NOW - 100 + n for n in range(30)])
    [finding] = findings(section, Thresholds())
    assert finding.id == "error-burst" and finding.evidence["lines_last_5_min"] == 30
    assert len(finding.evidence["lines"]) == 3 and "timed out" in finding.evidence["lines"][-1]
    steady = [f"2024-05-01 10:00:00 ERROR upstream 10.0.0.{n % 9} timed out" for n in range(60)]
    section, _ = analyse(steady, times=[NOW - 1800 + 30 * n for n in range(60)])  # 2 a minute for 30 minutes
    assert findings(section, Thresholds()) == []
    info = [f"2024-05-01 10:00:00 INFO request {n} done" for n in range(100)]
    section, _ = analyse(info, times=[NOW - 100 + n for n in range(100)])
    assert findings(section, Thresholds()) == []


def access_lines(statuses_and_times: list[tuple[int, float]]) -> list[str]:
    return [f'10.0.0.1 - - [01/May/2024:10:00:00 +0000] "GET /api/orders/{n} HTTP/1.1" {status} 5 "-" "curl" '
            f'rt={seconds:.3f}' for n, (status, seconds) in enumerate(statuses_and_times)]


def test_http_5xx_rate_and_slow_requests():
    lines = access_lines([(500 if n % 5 == 0 else 200, 2.0 if n % 2 else 0.05) for n in range(100)])
    section, _ = analyse(lines)
    found = {f.id: f for f in findings(section, Thresholds())}
    assert sorted(found) == ["http-5xx-rate", "slow-requests"]
    errors = found["http-5xx-rate"]
    assert errors.evidence["share_percent"] == 20.0 and errors.evidence["errors"] == 20
    assert errors.evidence["top_paths"] == [{"path": "/api/orders/:id", "errors": 20, "requests": 100}]
    assert len(errors.evidence["lines"]) == 5 and all('" 500 ' in line for line in errors.evidence["lines"])
    assert found["slow-requests"].evidence["p95_s"] == 2.0 and errors.guide == "http-500"
    healthy = access_lines([(500 if n == 0 else 200, 0.05) for n in range(100)])
    assert findings(analyse(healthy)[0], Thresholds()) == []


KERNEL_OOM = [
    "[ 8123.456] python3 invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, "
    "oom_score_adj=0",
    "[ 8123.460] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=docker-ab12.scope,mems_allowed=0,"
    "oom_memcg=/system.slice/docker-ab12.scope,task_memcg=/system.slice/docker-ab12.scope,task=python3,pid=4242,"
    "uid=0",
    "[ 8123.461] Memory cgroup out of memory: Killed process 4242 (python3) total-vm:1048576kB, anon-rss:512000kB, "
    "file-rss:2048kB, shmem-rss:0kB, UID:0 pgtables:1200kB oom_score_adj:0",
]


def test_kernel_oom_kill():
    section, _ = analyse(KERNEL_OOM + NORMAL, source="kernel")
    [finding] = findings(section, Thresholds())
    assert finding.id == "kernel-oom-kill" and finding.subject == {"process": "python3"}
    assert finding.evidence["pids"] == [4242] and "pid 4242" in finding.title
    assert finding.evidence["rss_kb"] == 514048 and finding.evidence["total_vm_kb"] == 1048576
    assert finding.evidence["cgroup"] == "/system.slice/docker-ab12.scope"
    assert finding.guide == "container-restart" and len(finding.evidence["lines"]) == 2
    again = [line.replace("4242", "4343") for line in KERNEL_OOM]  # the same program killed again, a new pid
    section, _ = analyse(KERNEL_OOM + again, source="kernel")
    [finding] = findings(section, Thresholds())  # one problem, whose key does not change with the pid
    assert finding.evidence["pids"] == [4242, 4343] and "2 times" in finding.title and "pid 4343" in finding.title
    old = analyse(KERNEL_OOM, source="kernel", times=[NOW] * 3, now=NOW + 7200)[0]  # two hours later
    assert findings(old, Thresholds()) == []


def test_only_the_kernel_reports_oom_kills():
    """Any program can write the kernel's words: an access line whose User-Agent is an OOM report is no kill."""
    agent = "Killed process 4242 (postgres) total-vm:100kB, anon-rss:9999999kB"
    access = [f'10.0.0.9 - - [01/May/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "{agent}"',
              '10.0.0.9 - - [01/May/2024:10:00:01 +0000] "GET /x HTTP/1.1" 404 5 "-" "oom-kill:task_memcg=/,'
              'task=postgres,pid=4243"']
    for source in ("file:/var/log/nginx/access.log", "container:web", "journal"):
        section, _ = analyse(access * 3, source=source)
        assert [f for f in findings(section, Thresholds()) if f.id == "kernel-oom-kill"] == []
    section, _ = analyse(KERNEL_OOM, source="kernel")
    assert [f.id for f in findings(section, Thresholds())] == ["kernel-oom-kill"]
    forged_user = f'10.0.0.9 - kernel: {agent} [01/May/2024:10:00:00 +0000] "GET / HTTP/1.1" 401 5 "-" "curl"'
    assert findings(analyse([forged_user], source="file:/var/log/nginx/access.log")[0], Thresholds()) == []
    for header in ("May  1 10:00:00 db1 kernel: ", "2024-05-01T10:00:00.123456+00:00 db1 kernel: "):
        section, _ = analyse([header + line for line in KERNEL_OOM], source="file:/var/log/kern.log")
        assert [f.id for f in findings(section, Thresholds())] == ["kernel-oom-kill"]  # syslog's copy
        assert [f.id for f in findings(analyse([header + KERNEL_OOM[2]], source="container:web")[0],
                                       Thresholds())] == []


def test_oom_numbers_and_scans_are_bounded():
    """A pid or a size of thousands of digits is no number (int() would raise and lose the poll), and the scan
    from `oom-kill:` to its `task_memcg=` stops at 1,000 characters (it ran to the end of the line from each one)."""
    huge = "9" * 5000
    lines = [f"Out of memory: Killed process {huge} (x) total-vm:1kB, anon-rss:1kB",
             f"Out of memory: Killed process 77 (y) total-vm:{huge}kB, anon-rss:{huge}kB",
             f"oom-kill:constraint=CONSTRAINT_NONE,task_memcg=/,task=z,pid={huge},uid=0"]
    section, _ = analyse(lines, source="kernel")
    [finding] = findings(section, Thresholds())
    assert finding.subject == {"process": "y"} and finding.evidence["rss_kb"] is None
    far = "oom-kill:constraint=CONSTRAINT_NONE," + "x" * 1000 + ",task_memcg=/,task=z,pid=12,uid=0"
    assert findings(analyse([far], source="kernel")[0], Thresholds()) == []
    scope = "cri-containerd-" + "3f" * 32 + ".scope"
    pod = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0c5f6a2e_1b7d_4c1e_9b0a_5d2e8f1c3a4b.slice/"
    kubernetes = (f"[ 8123.460] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset={scope},mems_allowed=0,"
                  f"oom_memcg={pod}{scope},task_memcg={pod}{scope},task=java,pid=4242,uid=0")
    [finding] = findings(analyse([kubernetes], source="kernel")[0], Thresholds())
    assert finding.evidence["cgroup"] == pod + scope and finding.subject == {"process": "java"}


@pytest.mark.parametrize("last, expected", [
    ("Exception: boom", "Exception"), ("ValueError: x", "ValueError"),
    ("app.errors.QuotaExceeded", "app.errors.QuotaExceeded"),
    ("A" * 3000 + "!", "exception"), ("x" * 300 + "Error: too long a name", "exception"), ("done.", "exception"),
])
def test_the_exception_line_of_a_traceback(last, expected):
    text = f'Traceback (most recent call last):\n  File "/srv/app.py", line 3, in main\n    run()\n{last}'
    assert traceback_summary(text) == (expected, "/srv/app.py:3 in main")


def test_tracebacks_are_one_finding_per_exception_and_frame(tmp_path):
    def emit(log):
        for n in range(4):
            try:
                int(f"x{n}")
            except ValueError:
                log.exception("request %d failed", n)
        log.info("fine")

    section, _ = analyse(logged_lines(tmp_path, emit))
    found = findings(section, Thresholds())
    [finding] = [f for f in found if f.id == "traceback"]
    assert finding.subject["exception"] == "ValueError"
    assert finding.subject["frame"].endswith(" in emit") and "test_logs_analysis.py:" in finding.subject["frame"]
    assert finding.evidence["count"] == 4 and "Traceback (most recent call last)" in finding.evidence["lines"][-1]


def test_a_long_traceback_is_named_by_its_innermost_frame(tmp_path):
    """An example keeps the head and the tail of a long event: a 40-frame traceback's exception line and innermost
    frame are at its end (the first 4,000 characters named the wrong exception, or none)."""
    def innermost():
        raise LookupError("no such order")

    def recurse(depth):  # two functions in turn: Python folds a frame that repeats the one before it
        if depth == 0:
            innermost()
        recurse_again(depth - 1)

    def recurse_again(depth):
        recurse(depth)

    def emit(log):
        try:
            recurse(40)
        except LookupError:
            log.exception("job failed")

    section, _ = analyse(logged_lines(tmp_path, emit))
    [event] = [line.text for line in section.lines if "job failed" in line.text]
    assert len(event) > 4500  # longer than an example keeps (its first 1,000 and last 3,000 characters)
    [finding] = [f for f in findings(section, Thresholds()) if f.id == "traceback"]
    assert finding.subject["exception"] == "LookupError" and finding.subject["frame"].endswith(" in innermost")
    assert finding.evidence["lines"][-1].endswith("LookupError: no such order")


def real_connection_refused() -> str:
    """What psycopg says when nothing listens on the port (a real refused connection)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    try:
        psycopg.connect(f"postgresql://app@127.0.0.1:{port}/db", connect_timeout=3)
    except psycopg.OperationalError as exc:
        return f"2024-05-01 10:00:00 ERROR app.db: {exc}".splitlines()[0]
    raise AssertionError("connected to a closed port")


KNOWN = {
    "queuepool-exhausted": "2024-05-01 10:00:00 ERROR sqlalchemy.exc.TimeoutError: QueuePool limit of size 5 "
                           "overflow 10 reached, connection timed out, timeout 30.00",
    "too-many-connections": '2024-05-01 10:00:00.1 UTC [77] FATAL:  sorry, too many clients already',
    "password-auth-failed": '2024-05-01 10:00:00.1 UTC [78] FATAL:  password authentication failed for user "app"',
    "jwt-rejected": "2024-05-01 10:00:00 WARNING auth: jwt.exceptions.ExpiredSignatureError: Signature has expired",
    "disk-full": "2024-05-01 10:00:00 ERROR worker: [Errno 28] No space left on device: '/var/lib/app/out.csv'",
}


@pytest.mark.parametrize("pattern", sorted([*KNOWN, "connection-refused"]))
def test_known_patterns_point_to_a_guide(pattern):
    line = KNOWN.get(pattern) or real_connection_refused()
    section, _ = analyse([line] * 3 + NORMAL)
    found = [f for f in findings(section, Thresholds()) if f.id != "error-burst"]
    assert ids(found) == [pattern]
    [finding] = found
    assert finding.evidence["count"] == 3 and finding.evidence["lines"]
    expected = {"queuepool-exhausted": "db-connection", "too-many-connections": "db-connection",
                "password-auth-failed": "db-connection", "connection-refused": "db-connection",
                "jwt-rejected": "auth", "disk-full": None}
    assert finding.guide == expected[pattern]


def test_findings_keep_their_keys_from_poll_to_poll():
    joiner, clusterer, meter = EventJoiner(), Clusterer(), AccessMeter()
    lines = KERNEL_OOM + access_lines([(500 if n % 5 == 0 else 200, 1.5) for n in range(200)])
    lines += [KNOWN["queuepool-exhausted"].replace("size 5", f"size {n}") for n in range(40)]
    keys = []
    for poll in range(4):
        now = NOW + poll * 2
        kept = []
        for text in lines[poll::4]:  # each poll reads a quarter of the problem lines
            _, level, pid = classify(text)
            source = "kernel" if text in KERNEL_OOM else "file:x"
            kept += joiner.feed(LogLine(source, now - 1, text, level, pid), now=now)
        kept += joiner.flush(float("inf"))
        for line in kept:
            clusterer.add(line)
            meter.add(line)
        section = LogsSection(taken_at=now, lines=kept, clusters=clusterer.clusters(now), access=meter.stats(now))
        keys.append(sorted(f.key for f in findings(section, Thresholds())))
    assert keys[1] == keys[2] == keys[3]
    assert [key.split(":")[1] for key in keys[3]] == [
        "http-5xx-rate", "kernel-oom-kill", "queuepool-exhausted", "slow-requests"]
