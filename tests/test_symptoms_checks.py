"""Each guide's own checks against real conditions the tests create: an HTTP server answering 500, expired and
not-yet-valid tokens, a process at its open-file limit, the machine's clock (the log checks: test_symptoms_logs)."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from symptoms_support import context, near_file_limit, result_of  # noqa: F401  (a fixture)
from tests.children import READY, python_child
from tui.config import Config
from tui.snapshot import Collection
from tui.symptoms.checks import STATUSES
from tui.symptoms.probes import TokenError, decode_token
from tui.symptoms.render import result_lines
from tui.threads.records import ProcessThreads, ThreadsSection


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path == "/ok":
            self._answer(200, b"fine")
        elif self.headers.get("Authorization"):
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Bearer error="invalid_token"')
            self.end_headers()
        else:
            self.send_response(500)
            self.send_header("Set-Cookie", "session=supersecret")
            self.send_header("X-Request-Id", "req-42")
            self.end_headers()
            self.wfile.write(b"Internal Server Error: database password=hunter2 rejected")

    def _answer(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def http_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_probe_of_a_500_fails_with_curl_like_evidence_and_secrets_masked(http_server):
    result = result_of("http-500", "probe", context(Config(probe_urls=[f"{http_server}/boom", f"{http_server}/ok"])))
    assert result.status == "fail"
    assert result.summary.startswith(f"GET {http_server}/boom -> 500")
    boom, ok = result.evidence["probes"]
    assert (boom["status"], ok["status"]) == (500, 200)
    headers = dict(boom["headers"])
    assert headers["X-Request-Id"] == "req-42" and "supersecret" not in headers["Set-Cookie"]
    assert "hunter2" not in boom["body_excerpt"] and boom["total_ms"] is not None
    assert result.fix and result.fix.commands


def test_probe_of_a_closed_port_fails_and_no_url_is_skipped_with_why():
    refused = result_of("http-500", "probe", context(Config(probe_urls=["http://127.0.0.1:1/"])))
    assert refused.status == "fail" and "refused" in refused.summary
    none = result_of("http-500", "probe", context())
    assert none.status == "skipped" and "--url" in none.summary and none.fix is None


def jwt(**claims) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def test_expired_and_not_yet_valid_tokens_fail_against_this_clock():
    now = int(time.time())
    expired = result_of("auth", "token", context(token=jwt(sub="ana", exp=now - 3600, api_key="k")))
    assert expired.status == "fail" and "expired" in expired.summary
    assert expired.evidence["claims"]["sub"] == "ana" and expired.evidence["claims"]["api_key"] == "••••••"
    early = result_of("auth", "token", context(token="Bearer " + jwt(sub="ana", nbf=now + 3600, exp=now + 7200)))
    assert early.status == "fail" and "not valid before" in early.summary
    token = jwt(sub="ana", exp=now + 600)
    good = result_of("auth", "token", context(token=token))
    assert good.status == "pass" and good.fix is None
    assert token.split(".")[2] not in json.dumps(good.to_json())  # the token itself is never kept


def test_garbage_token_is_a_clear_failure():
    with pytest.raises(TokenError, match="three dot-separated parts"):
        decode_token("not-a-token")
    result = result_of("auth", "token", context(token="a.b.c"))
    assert result.status == "fail" and "base64url" in result.summary


def test_probe_with_the_token_reports_the_401(http_server):
    ctx = context(Config(probe_urls=[f"{http_server}/api"]), token=jwt(sub="ana"))
    result = result_of("auth", "probe-with-token", ctx)
    assert result.status == "fail" and "401" in result.summary
    probe = result.evidence["probes"][0]
    assert probe["sent_token"] and dict(probe["headers"])["WWW-Authenticate"].startswith("Bearer")


def test_clock_check_answers_or_says_why_not():
    result = result_of("auth", "clock", context())
    assert result.status in STATUSES and result.summary
    if result.status == "skipped":
        assert "nothing on this machine" in result.summary
    else:
        assert result.evidence["tool"] in ("timedatectl", "chronyc", "ntpq", "kernel")


def test_process_near_its_open_file_limit_fails_and_jumps_to_it(near_file_limit):
    result = result_of("intermittent", "open-files", context(Config(pids=[near_file_limit])))
    assert result.status == "fail"
    row = result.evidence["processes"][0]
    assert row["pid"] == near_file_limit and row["limit"] == 64 and row["open_files"] == 63
    assert result.jump.pane == "processes" and result.jump.subject["pid"] == near_file_limit


def test_findings_check_reads_other_panes_by_contract_and_skips_when_a_source_failed():
    from tui.findings import Finding

    deadlock = Finding("deadlock", "critical", "threads", "2 threads deadlocked", "", {"pid": 77}, {"cycle": [1, 2]})
    threads = ThreadsSection(processes={"77": ProcessThreads(pid=77, name="python")})
    collection = Collection(sections={"threads": threads, "processes": object()}, errors={}, findings=[deadlock])
    result = result_of("hang", "deadlock", context(collection=collection))
    assert result.status == "fail" and result.jump.pane == "threads" and result.jump.subject == {"pid": 77}
    lines = [line.strip() for line in result_lines(result)]
    assert "$ py-spy dump --pid 77 --locals" in lines
    assert not any(line.startswith("$ kill") for line in lines)  # without faulthandler, SIGUSR1 kills the process
    assert lines[-1] == "see: Threads pane, pid 77" and not any('{"pid"' in line for line in lines)
    assert result_of("hang", "d-state", context(collection=collection)).status == "pass"
    failed = Collection(sections={"databases": None}, errors={"databases": ("no driver", "pip install")}, findings=[])
    skipped = result_of("hang", "db-locks", context(collection=failed))
    assert skipped.status == "skipped" and "no driver" in skipped.summary


def test_machine_checks_measure_for_real():
    ctx = context()
    for guide, check in [("slow", "cpu"), ("slow", "load"), ("slow", "memory"), ("slow", "iowait"),
                         ("intermittent", "threads"), ("dev-prod", "runtimes")]:
        result = result_of(guide, check, ctx)
        assert result.status in STATUSES and result.summary, (guide, check)
    cpu = result_of("slow", "cpu", ctx)
    assert 0 <= cpu.evidence["cpu_percent"] <= 100 and cpu.evidence["cores"] >= 1


def test_cpu_check_measures_machine_and_processes_in_one_window_and_leaves_tshoot_out():
    burner = python_child(f"{READY}\nwhile True: pass")
    stop = threading.Event()

    def spin() -> None:  # tshoot's own CPU use must not be reported as a culprit
        while not stop.is_set():
            pass

    threading.Thread(target=spin, daemon=True).start()
    try:
        result = result_of("slow", "cpu", context())
    finally:
        stop.set()
        burner.kill()
        burner.wait()
    evidence = result.evidence
    top = {row["pid"]: row["cpu_percent"] for row in evidence["top_cpu"]}
    assert os.getpid() not in top and burner.pid in top
    # processes in % of one core, the machine in % of all cores, over the same window: they cannot disagree
    assert sum(top.values()) / evidence["cores"] <= evidence["cpu_percent"] + 5, (top, evidence["cpu_percent"])
    assert result.summary.startswith(f"CPU {evidence['cpu_percent']:.0f}% busy (of all {evidence['cores']} cores)")
    assert "(% of one core)" in result.summary


def test_a_crashing_check_is_skipped_with_the_error_and_the_guide_goes_on(monkeypatch):
    from tui.symptoms import checks
    from tui.symptoms.runner import run_guide
    from symptoms_support import BOOK

    def broken(ctx, **params):
        raise RuntimeError("boom")

    monkeypatch.setitem(checks.CHECKS, "runtime_versions", broken)
    run = run_guide(BOOK.get("dev-prod"), context(collection=Collection()))
    assert [r.status for r in run.results] == ["skipped", "skipped"]
    assert "RuntimeError: boom" in run.results[1].summary


def test_env_drift_without_a_baseline_is_not_a_pass():
    """Nothing was compared: "no difference from the baseline" would be false."""
    from tui.env.records import EnvSection
    from tui.findings import Finding

    env = EnvSection(host="h")
    collection = Collection(sections={"env": env}, errors={}, findings=[])
    result = result_of("dev-prod", "env-drift", context(collection=collection))
    assert result.status == "pass" and "not measured: env-drift: nothing compared" in result.summary
    assert "no baseline configured" in result.summary
    missing = Finding("missing-env", "warning", "env", "pid 4 lacks FOO", "", {"pid": 4, "key": "FOO"})
    only_drift = result_of("dev-prod", "env-drift", context(collection=Collection(
        sections={"env": env}, errors={}, findings=[missing])))
    assert only_drift.status == "warn"


@pytest.mark.parametrize("target, client, other", [
    ("postgresql://app:••••••@127.0.0.1:55432/shop", "psql -h 127.0.0.1 -p 55432 -U app -d shop -c ", "mysql"),
    ("mysql://root:••••••@10.0.0.5:53306/orders", "mysql -h 10.0.0.5 -P 53306 -u root -p orders -e ", "psql"),
])
def test_database_commands_use_the_findings_own_engine_host_and_port(target, client, other):
    from tui.findings import Finding

    saturated = Finding("connection-saturation", "warning", "databases", "95 of 100 connections", "",
                        {"target": target})
    collection = Collection(sections={"databases": object()}, errors={}, findings=[saturated])
    result = result_of("db-connection", "saturation", context(collection=collection))
    (command,) = result.fix.commands
    assert command.startswith(client) and other not in command and "5432 " not in command.replace("55432", "")
