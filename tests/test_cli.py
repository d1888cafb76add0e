"""The real `tshoot` command: snapshot, doctor, replay errors, bad flags."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROGRAMS = Path(__file__).parent / "programs"
TSHOOT = [sys.executable, "-m", "tui.cli"]
ROOT = Path(__file__).resolve().parent.parent


def tshoot(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*TSHOOT, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_version_and_help():
    assert tshoot("--version").stdout.startswith("tshoot ")
    out = tshoot("--help").stdout
    for command in ["snapshot", "replay", "doctor", "env-diff", "guide"]:
        assert command in out


def test_bad_flag_exits_2_with_a_message():
    result = tshoot("--interval", "fast")
    assert result.returncode == 2 and "not a number: 'fast'" in result.stderr


def test_missing_config_file_is_named(tmp_path):
    result = tshoot("doctor", "--config", str(tmp_path / "missing.toml"))
    assert result.returncode == 2 and "missing.toml: no such file" in result.stderr


def test_snapshot_json_has_every_section_and_real_processes(tmp_path):
    out = tmp_path / "snap.json"
    result = tshoot("snapshot", "-o", str(out), "--observe", "1")
    assert result.returncode == 0, result.stderr
    assert str(out) in result.stdout
    doc = json.loads(out.read_text())
    for key in ["schema", "host", "taken_at", "tshoot_version", "processes", "threads", "databases", "containers",
                "env", "actions", "findings"]:
        assert key in doc, key
    assert doc["taken_at"].endswith("+00:00")
    assert out.stat().st_mode & 0o777 == 0o600  # it describes the whole machine: owner only
    rows = doc["processes"]["rows"]
    assert any(r["name"] == "python" or "tui.cli" in r["cmdline"] for r in rows)
    assert all("pid" in r and "name" in r for r in rows)


def test_snapshot_markdown_report(tmp_path):
    out = tmp_path / "report.md"
    assert tshoot("snapshot", "-o", str(out), "--format", "md", "--observe", "0").returncode == 0
    text = out.read_text()
    assert text.startswith("# tshoot report:") and "## Findings" in text and "## Processes" in text


def test_snapshot_into_missing_directory_fails_clearly(tmp_path):
    result = tshoot("snapshot", "-o", str(tmp_path / "no" / "x.json"), "--observe", "0")
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_doctor_exit_code_follows_findings_of_a_real_leak():
    leaker = subprocess.Popen([sys.executable, str(PROGRAMS / "leak.py")], stdout=subprocess.PIPE, text=True)
    try:
        assert leaker.stdout.readline().strip() == "ready"
        result = tshoot("doctor", "--json", "--observe", "4")
    finally:
        leaker.kill()
        leaker.wait()
    doc = json.loads(result.stdout)
    leaks = [f for f in doc["findings"] if f["id"] == "memory-growth" and f["subject"]["pid"] == leaker.pid]
    assert leaks, doc["findings"]
    assert result.returncode == doc["exit_code"] >= 1


@pytest.mark.parametrize(
    "content, message",
    [("{not json", "invalid JSON at line 1"), ('{"a": 1}', "no 'schema' key"), ('{"schema": 99}', "schema 99")],
)
def test_replay_of_a_bad_file_names_the_problem(tmp_path, content, message):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    result = tshoot("replay", str(bad))
    assert result.returncode == 2 and message in result.stderr and "bad.json" in result.stderr


def test_replay_of_a_missing_file():
    result = tshoot("replay", "/nonexistent/snap.json")
    assert result.returncode == 2 and "no such file" in result.stderr


def test_doctor_text_lists_discovered_databases_apart():
    from tui.cli import doctor_text
    from tui.findings import Finding

    named = Finding("slow-query", "warning", "databases", "Session 7 has run one statement for 40s", "", {"target": "a"})
    found = Finding("db-unreachable", "critical", "databases", "Database unreachable (tcp): b", "",
                    {"target": "b", "discovered": True})
    text = doctor_text([named], {}, apart=[found])
    before, after = text.split("Databases found in other processes' settings", 1)
    assert "[WARNING] Session 7" in before and "unreachable" not in before
    assert "[CRITICAL] Database unreachable (tcp): b" in after and "not in the exit code" in after


def test_doctor_never_says_ok_when_a_collector_could_not_look():
    """No findings because a source collected nothing (py-spy missing, a database down) is not "OK"."""
    from tui.cli import doctor_text

    text = doctor_text([], {"threads": ("no Python process could be dumped", "install py-spy"),
                            "containers": ("no container engine", "")}, {"containers"})
    assert not text.startswith("OK"), text
    assert "threads" in text.splitlines()[0]
    assert doctor_text([], {"containers": ("no container engine", "")}, {"containers"}).startswith("OK")


def test_a_reader_that_goes_away_ends_the_output_without_a_traceback(tmp_path):
    """`tshoot guide … | head`: the reader goes away first; tshoot stops quietly instead of printing a traceback."""
    import subprocess
    import sys

    log = tmp_path / "app.log"
    log.write_text("")
    command = f"{sys.executable} -m tui.cli guide http-500 --url http://127.0.0.1:9/ --log {log} | true"  # reads nothing
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
