"""The guides' log checks read the Logs source: real log files written by the test and by a child process
(nginx combined access lines, a traceback from `logging.exception`, rejected logins, a kernel OOM report), graded
with the matching lines as evidence; no log read at all is skipped, and `tshoot guide --log FILE` reads FILE."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime

from symptoms_support import context, result_of
from tui import cli
from tui.config import Config
from tui.logs.records import LogSource
from tui.logs.source import LogsSource
from tui.snapshot import collect_all
from tui.symptoms.render import result_lines

LOGS = LogsSource.name


def logs_collection(config: Config):
    """What `tshoot guide` collects, the Logs source following only the files named (nothing else on this box)."""
    return collect_all(config, 1.0, sources=[LogsSource(config, only_named=True)])


def access_line(path: str, status: int, seconds: float) -> str:
    """One request in nginx's combined format with `rt=$request_time` appended, dated now."""
    stamp = datetime.now().astimezone().strftime("%d/%b/%Y:%H:%M:%S %z")
    return (f'203.0.113.7 - - [{stamp}] "GET {path} HTTP/1.1" {status} 162 "-" "curl/8.5.0" rt={seconds:.3f}\n')


def write_access_log(tmp_path, errors: int, slow: int, total: int = 40) -> str:
    log = tmp_path / "access.log"
    lines = [access_line("/api/orders/42", 500, 0.020) for _ in range(errors)]
    lines += [access_line("/api/report", 200, 2.5) for _ in range(slow)]
    lines += [access_line("/health", 200, 0.004) for _ in range(total - errors - slow)]
    log.write_text("".join(lines))
    return str(log)


# A real app logging an unhandled error with logging.exception, as Flask or Django do.
APP_LOGGING_AN_EXCEPTION = """
import logging, sys
logging.basicConfig(filename=sys.argv[1], format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
log = logging.getLogger("shop")
log.info("GET /api/orders/42 started")
def total(order):
    return order["amount"] / order["items"]
try:
    total({"amount": 10, "items": 0})
except ZeroDivisionError:
    log.exception("unhandled error on GET /api/orders/42 password=hunter2")
"""


def app_log(tmp_path) -> str:
    path = str(tmp_path / "app.log")
    subprocess.run([sys.executable, "-c", APP_LOGGING_AN_EXCEPTION, path], check=True, timeout=30)
    return path


def test_http_500_fails_on_the_access_logs_5xx_rate_and_the_apps_traceback_with_the_lines(tmp_path):
    access, app = write_access_log(tmp_path, errors=10, slow=0), app_log(tmp_path)
    config = Config(log_paths=[access, app])
    result = result_of("http-500", "logs", context(config, collection=logs_collection(config)))
    assert result.status == "fail", result.summary  # 25% of requests answered 500: critical
    found = {f["id"]: f for f in result.evidence["findings"]}
    assert found["http-5xx-rate"]["evidence"]["errors"] == 10
    assert all('"GET /api/orders/42 HTTP/1.1" 500' in line for line in found["http-5xx-rate"]["evidence"]["lines"])
    assert found["traceback"]["subject"]["exception"] == "ZeroDivisionError"
    traceback = found["traceback"]["evidence"]["lines"][-1]
    assert "Traceback (most recent call last):" in traceback and "in total" in traceback and "hunter2" not in traceback
    assert result.jump.pane == LOGS and result.jump.subject == {"log": f"file:{access}"}
    assert f"{access} (found: config)" in result.evidence["logs_read"] and len(result.evidence["logs_read"]) == 2
    shown = "\n".join(result_lines(result))
    assert "| ZeroDivisionError: division by zero" in shown and "see: Logs pane, log file:" in shown


def test_healthy_logs_pass_and_say_which_logs_were_read(tmp_path):
    access = write_access_log(tmp_path, errors=0, slow=0)
    config = Config(log_paths=[access])
    result = result_of("http-500", "logs", context(config, collection=logs_collection(config)))
    assert result.status == "pass" and result.jump is None
    assert result.summary == f"no 5xx rate, traceback or error burst; read 1 log: {access} (found: config)"


def test_no_log_read_at_all_is_skipped_with_the_reason(tmp_path):
    missing = str(tmp_path / "missing.log")
    config = Config(log_paths=[missing])
    result = result_of("auth", "logs", context(config, collection=logs_collection(config)))
    assert result.status == "skipped" and result.fix is None
    assert result.summary.startswith("no log was read") and f"{missing} (found: config): waiting" in result.summary
    assert "--log FILE" in result.summary


def test_auth_warns_on_rejected_logins_with_the_lines(tmp_path):
    log = tmp_path / "postgresql.log"
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    log.write_text("".join(f'{stamp}.{i:03d} UTC [812] FATAL:  password authentication failed for user "shop"\n'
                           for i in range(3)) + f"{stamp}.500 UTC [812] LOG:  checkpoint starting: time\n")
    config = Config(log_paths=[str(log)])
    result = result_of("auth", "logs", context(config, collection=logs_collection(config)))
    assert result.status == "warn" and "password authentication failed" in result.summary
    (finding,) = result.evidence["findings"]
    assert finding["id"] == "password-auth-failed" and len(finding["evidence"]["lines"]) == 3
    assert all('password authentication failed for user "shop"' in line for line in finding["evidence"]["lines"])
    assert result.jump.pane == LOGS and result.jump.subject == {"pattern": "password-auth-failed"}


def test_intermittent_warns_on_refused_connections(tmp_path):
    log = tmp_path / "worker.log"
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    log.write_text(f"{stamp} ERROR calling http://payments:8080/charge: [Errno 111] Connection refused\n" * 4)
    config = Config(log_paths=[str(log)])
    result = result_of("intermittent", "bursts", context(config, collection=logs_collection(config)))
    assert result.status == "warn" and result.evidence["findings"][0]["id"] == "connection-refused"


def test_slow_reads_p95_from_the_access_log_and_skips_without_request_times(tmp_path):
    access = write_access_log(tmp_path, errors=0, slow=8)
    config = Config(log_paths=[access])
    slow = result_of("slow", "latency", context(config, collection=logs_collection(config)))
    assert slow.status == "warn" and "p95 2.50s" in slow.summary
    assert slow.evidence["latency"][0].startswith(f"{access}: p50 0.004s, p95 2.500s")
    assert all('"GET /api/report HTTP/1.1" 200' in line for line in slow.evidence["findings"][0]["evidence"]["lines"])
    plain = tmp_path / "plain.log"
    plain.write_text("2026-01-01 00:00:00 INFO started\n")
    config = Config(log_paths=[str(plain)])
    untimed = result_of("slow", "latency", context(config, collection=logs_collection(config)))
    assert untimed.status == "skipped" and "no access log with request times" in untimed.summary


def test_a_slow_p95_over_too_few_requests_for_a_finding_still_warns(tmp_path):
    """Three requests, all slow: no `slow-requests` finding (too few), but the check must not pass saying so."""
    access = write_access_log(tmp_path, errors=0, slow=3, total=3)
    config = Config(log_paths=[access])
    slow = result_of("slow", "latency", context(config, collection=logs_collection(config)))
    assert slow.status == "warn" and "above 1s" in slow.summary and "3 requests" in slow.summary


def test_only_the_kernel_read_is_no_answer_about_the_application(tmp_path):
    """http-500's log check with no application log read (only the kernel ring) measured nothing."""
    config = Config()
    kernel_only = collect_all(config, 0.0, sources=[LogsSource(config, only_named=True)])
    kernel_only.sections["logs"].sources = [LogSource(name="kernel", kind="kernel", status="following")]
    result = result_of("http-500", "logs", context(config, collection=kernel_only))
    assert result.status == "skipped" and "only the kernel" in result.summary


def test_container_restart_fails_on_a_kernel_oom_kill_in_the_logs(tmp_path):
    log = tmp_path / "kern.log"
    stamp = datetime.now().strftime("%Y-%m-%dT%H:%M:%S")
    log.write_text(f"{stamp} host kernel: Out of memory: Killed process 4242 (python3) total-vm:2097152kB, "
                   "anon-rss:1048576kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:2100kB oom_score_adj:0\n")
    config = Config(log_paths=[str(log)])
    result = result_of("container-restart", "logs", context(config, collection=logs_collection(config)))
    assert result.status == "fail" and "killed python3 (pid 4242)" in result.summary
    assert result.jump.pane == LOGS and result.jump.subject == {"process": "python3"}
    assert "Killed process 4242" in result.evidence["findings"][0]["evidence"]["lines"][0]


def test_guide_auth_reads_the_log_named_with_the_log_flag(tmp_path, capsys):
    log = tmp_path / "api.log"
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    log.write_text(f"{stamp} WARNING rejected request from client cli-test-7f3a: JWT expired\n" * 2)
    code = cli.main(["guide", "auth", "--url", "http://127.0.0.1:9/", "--log", str(log), "--json", "--observe", "0"])
    run = json.loads(capsys.readouterr().out)
    logs = next(c for c in run["checks"] if c["id"] == "logs")
    assert f"{log} (found: --log)" in logs["evidence"]["logs_read"]
    assert logs["status"] in ("warn", "fail") and code >= 1
    jwt = next(f for f in logs["evidence"]["findings"] if f["id"] == "jwt-rejected")
    assert any("cli-test-7f3a: JWT expired" in line for line in jwt["evidence"]["lines"])


def test_a_long_traceback_is_quoted_by_its_first_line_and_its_innermost_frames():
    from tui.symptoms.render import EVENT_TAIL_LINES, quoted_lines

    frames = [f'  File "/srv/app.py", line {n}, in step{n}' for n in range(30)]
    quoted = quoted_lines(["ERROR request failed\nTraceback (most recent call last):\n" + "\n".join(frames)
                           + "\nValueError: bad input", "one line"])
    assert quoted[:2] == ["  | ERROR request failed", "  | … 24 lines …"]
    assert quoted[2:] == [f"  | {line}" for line in [*frames[-EVENT_TAIL_LINES + 1:], "ValueError: bad input",
                                                      "one line"]]
