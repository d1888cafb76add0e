"""Pure parts of the Containers source: exit codes, payload parsing and the findings rules."""

from __future__ import annotations

import dataclasses

import pytest

from tui.config import Thresholds
from tui.containers.analysis import analyze, container_findings, crash_loop_reason, suggested_fix
from tui.containers.details import parse_log_lines
from tui.containers.engine import parse_event
from tui.containers.exitcodes import explain_exit
from tui.containers.inventory import (
    StatsSample,
    cpu_percent,
    engine_time,
    format_ports,
    memory_used,
    record_from_inspect,
)
from tui.containers.pane import age
from tui.containers.records import ContainerRecord, ContainersSection, HealthCheckRun
from tui.redact import MASK
from tui.source import section_from_json, section_to_json

NOW = 1_800_000_000.0


def record(**changes) -> ContainerRecord:
    base = ContainerRecord(
        id="c0ffee" * 8, name="web", image="app:1", state="running", health=None, restart_count=0, exit_code=0,
        oom_killed=False, error="", started_at="2027-01-15T08:00:00.123456789Z", finished_at=None,
        restart_policy="no", restart_max_retries=0, command=["serve"], entrypoint=[], ports=[],
        memory_limit_bytes=0,
    )
    return dataclasses.replace(base, **changes)


def finding_ids(rec: ContainerRecord) -> list[str]:
    return [f.id for f in container_findings(rec, NOW, Thresholds())]


@pytest.mark.parametrize(
    ("code", "oom", "words"),
    [
        (0, False, "success"), (1, False, "application error"), (125, False, "failed to run"),
        (126, False, "cannot be invoked"), (127, False, "not found"), (137, False, "SIGKILL"),
        (137, True, "OOM killer"), (139, False, "segmentation fault"), (143, False, "SIGTERM"),
        (130, False, "SIGINT"), (129, False, "SIGHUP"), (42, False, "application-defined"),
    ],
)
def test_exit_codes_are_explained(code, oom, words):
    assert words in explain_exit(code, oom).summary


def test_healthy_running_container_has_no_findings():
    assert finding_ids(record(health="healthy", memory_limit_bytes=100, memory_used_bytes=50)) == []


def test_restarting_container_is_a_crash_loop():
    assert finding_ids(record(state="restarting", restart_policy="always", restart_count=7)) == ["crash-loop"]


def test_on_failure_policy_that_gave_up_is_a_crash_loop_not_an_exit_error():
    rec = record(state="exited", exit_code=3, restart_policy="on-failure", restart_max_retries=2, restart_count=2,
                 finished_at="2027-01-15T08:00:00Z")
    assert finding_ids(rec) == ["crash-loop"]
    assert "failed 2 restarts and the engine gave up" in crash_loop_reason(rec, NOW)


def test_crash_loop_evidence_names_whose_count_each_number_is():
    """The engine counted 5 restarts before tshoot started; tshoot itself saw none: the keys must say so."""
    rec = record(state="exited", exit_code=3, restart_policy="on-failure", restart_max_retries=5, restart_count=5,
                 finished_at="2027-01-15T08:00:00Z", recent_exits=[NOW - 7200])
    [finding] = container_findings(rec, NOW, Thresholds())
    assert finding.evidence["restart_count"] == 5
    assert finding.evidence["exits_seen_by_tshoot_last_10_min"] == 0  # the one seen is two hours old
    assert "recent_exits" not in finding.evidence
    once = dataclasses.replace(rec, restart_max_retries=1, restart_count=1)
    assert "(1 restart)" in container_findings(once, NOW, Thresholds())[0].title
    assert "failed 1 restart and" in crash_loop_reason(once, NOW)


def test_repeated_deaths_seen_by_the_watcher_are_a_crash_loop():
    rec = record(restart_policy="always", restart_count=3, recent_exits=[NOW - 30, NOW - 20, NOW - 10])
    assert "died 3 times" in crash_loop_reason(rec, NOW)


def test_old_restarts_are_not_a_crash_loop():
    rec = record(restart_policy="always", restart_count=5, finished_at="2020-01-01T00:00:00Z",
                 recent_exits=[NOW - 7200, NOW - 7100, NOW - 7000])
    assert finding_ids(rec) == []


def test_oom_killed_is_critical_and_not_an_exit_error():
    findings = container_findings(record(state="exited", exit_code=137, oom_killed=True, memory_limit_bytes=16 << 20),
                                  NOW, Thresholds())
    assert [(f.id, f.severity) for f in findings] == [("oom-killed", "critical")]
    assert "16 MiB" in findings[0].detail


def test_health_failing_turns_critical_when_it_persists():
    failing = record(health="unhealthy", health_failing_streak=2,
                     health_log=[HealthCheckRun("2027-01-15T08:00:00Z", 1, "connection refused")])
    [warning] = container_findings(failing, NOW, Thresholds())
    assert (warning.id, warning.severity) == ("health-failing", "warning")
    assert "connection refused" in warning.detail
    [critical] = container_findings(dataclasses.replace(failing, health_failing_streak=12), NOW, Thresholds())
    assert critical.severity == "critical"


@pytest.mark.parametrize("state", ["exited", "created"])
def test_non_zero_exit_without_restart_policy_is_an_exit_error(state):
    rec = record(state=state, exit_code=127, error="exec: \"srv\": not found" if state == "created" else "")
    [finding] = container_findings(rec, NOW, Thresholds())
    assert (finding.id, finding.severity) == ("exited-error", "warning")
    assert "not found" in finding.title
    assert finding.subject == {"name": "web", "id": rec.id[:12]}


def test_orderly_stop_is_not_an_exit_error():
    assert finding_ids(record(state="exited", exit_code=143)) == []
    assert finding_ids(record(state="exited", exit_code=0)) == []


def test_memory_near_limit_uses_the_configured_threshold():
    rec = record(memory_limit_bytes=100 << 20, memory_used_bytes=95 << 20)
    assert finding_ids(rec) == ["memory-near-limit"]
    relaxed = Thresholds(container_memory_percent=96.0)
    assert container_findings(rec, NOW, relaxed) == []
    assert "close to the limit" in suggested_fix(rec)


def test_section_survives_a_snapshot_round_trip():
    rec = record(state="exited", exit_code=127, health_log=[HealthCheckRun("t", 1, "x")], recent_exits=[NOW])
    section = ContainersSection(engine_host="unix:///var/run/docker.sock", engine_version="20.10",
                                taken_at=NOW, containers=[rec])
    replayed = section_from_json(ContainersSection, section_to_json(section))
    assert replayed == section
    assert [f.id for f in analyze(replayed, Thresholds())] == ["exited-error"]


def test_inspect_payload_becomes_a_record_with_secrets_masked():
    attrs = {
        "Id": "abc123" * 10, "Name": "/api", "RestartCount": 4,
        "State": {"Status": "running", "ExitCode": 0, "OOMKilled": False, "Pid": 4242,
                  "StartedAt": "2027-01-15T08:00:00Z", "FinishedAt": "0001-01-01T00:00:00Z",
                  "Health": {"Status": "unhealthy", "FailingStreak": 3,
                             "Log": [{"Start": "s", "ExitCode": 1, "Output": "GET http://u:pw@db/ failed\n"}]}},
        "Config": {"Image": "api:2", "Cmd": ["serve", "--token=abc"], "Entrypoint": "/entry.sh",
                   "Env": ["DB_PASSWORD=hunter2", "MODE=prod", "EMPTY"]},
        "HostConfig": {"Memory": 1 << 30, "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 5}},
        "NetworkSettings": {"Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "443/tcp": None}},
    }
    rec = record_from_inspect(attrs)
    assert (rec.name, rec.state, rec.health, rec.restart_count, rec.host_pid) == ("api", "running", "unhealthy", 4, 4242)
    assert rec.finished_at is None and rec.started_at == "2027-01-15T08:00:00Z"
    assert (rec.restart_policy, rec.restart_max_retries) == ("on-failure", 5)
    assert rec.env == {"DB_PASSWORD": MASK, "MODE": "prod", "EMPTY": ""}
    assert rec.command == ["serve", f"--token={MASK}"] and rec.entrypoint == ["/entry.sh"]
    assert "pw" not in rec.health_log[0].output
    assert rec.ports == ["443/tcp", "0.0.0.0:8080->80/tcp"]


def test_port_formatting_and_memory_without_page_cache():
    assert format_ports({"53/udp": [{"HostIp": "", "HostPort": "53"}]}) == ["0.0.0.0:53->53/udp"]
    assert memory_used({"usage": 10_000, "stats": {"total_inactive_file": 4_000}}) == 6_000
    assert memory_used({"usage": 10_000, "stats": {"inactive_file": 1_000}}) == 9_000


def test_cpu_percent_from_two_one_shot_samples():
    first = StatsSample(cpu_total_ns=1_000, system_ns=10_000, online_cpus=2, memory_used_bytes=0)
    second = StatsSample(cpu_total_ns=3_500, system_ns=20_000, online_cpus=2, memory_used_bytes=0)
    assert cpu_percent(None, second) is None
    assert cpu_percent(first, second) == pytest.approx(50.0)


def test_log_lines_keep_stream_and_sortable_timestamps():
    lines = parse_log_lines("2027-01-15T08:00:00.5Z boom password=hunter2\nno timestamp\n", "stderr")
    assert lines[0].timestamp == "2027-01-15T08:00:00.500000000Z"
    assert lines[0].stream == "stderr" and "hunter2" not in lines[0].text and lines[0].text.startswith("boom")
    assert (lines[1].timestamp, lines[1].text) == ("", "no timestamp")


def test_engine_events_are_filtered_and_normalised():
    event = parse_event({"Type": "container", "Action": "health_status: unhealthy", "timeNano": 1_700_000_000_500_000_000,
                         "Actor": {"ID": "abc", "Attributes": {"name": "web"}}})
    assert (event.container_id, event.action, event.at) == ("abc", "health_status", 1_700_000_000.5)
    assert parse_event({"Action": "exec_create: sh", "Actor": {"ID": "abc"}}) is None



def test_the_markdown_report_shows_the_snapshots_findings_never_recomputed_ones():
    """Taken with a 99% memory threshold, the snapshot has no memory finding for a container at 95%; the report
    must agree with it (default thresholds would say "95% of its memory limit"). And a finding the snapshot holds
    is shown even when the default thresholds would not produce it."""
    from tui.containers import report as containers_report
    from tui.threads import report as threads_report
    from tui.threads.records import ProcessThreads, ThreadsSection

    near = record(name="near", memory_limit_bytes=100 * 2**20, memory_used_bytes=95 * 2**20)
    crashed = record(name="crashed", state="exited", exit_code=3)
    section = ContainersSection(engine_host="unix:///x", engine_version="27", taken_at=NOW,
                                containers=[near, crashed])
    taken_with = Thresholds(container_memory_percent=99.0)
    findings = [dataclasses.asdict(f) for f in analyze(section, taken_with)]
    assert not any(f["subject"]["name"] == "near" for f in findings)
    text = "\n".join(containers_report.markdown(section_to_json(section), findings))
    assert "### near" not in text and "95% of its memory limit" not in text
    assert "### crashed" in text and all(f"- problem: {f['title']}" in text for f in findings)

    threads = ThreadsSection(processes={"77": ProcessThreads(pid=77, name="python")})
    held = {"id": "lock-contention", "severity": "warning", "source": "threads", "title": "3 threads queue for L",
            "detail": "", "subject": {"pid": 77, "lock": "L"}, "evidence": {}, "guide": "hang"}
    assert "lock contention: 3 threads queue for L" in "\n".join(
        threads_report.markdown(section_to_json(threads), [held]))
    assert "lock contention" not in "\n".join(threads_report.markdown(section_to_json(threads), []))


@pytest.mark.parametrize("iso, unix", [
    ("2024-05-01T10:00:00Z", 1714557600.0),
    ("2024-05-01T10:00:00.123456789Z", 1714557600.123456),
    ("2024-05-01T12:00:00.5+02:00", 1714557600.5),  # the same instant, written in another zone
    ("2024-05-01T06:00:00-04:00", 1714557600.0),
    ("2024-05-01T10:00:00", 1714557600.0),  # no zone: UTC, as the engine means it
    ("0001-01-01T00:00:00Z", None),  # the engine's "never"
    ("", None),
    (None, None),
    ("yesterday", None),
])
def test_engine_timestamps_keep_their_zone_and_nanoseconds(iso, unix):
    assert engine_time(iso) == (None if unix is None else pytest.approx(unix, abs=1e-6))


def test_a_container_age_counts_from_the_instant_not_the_wall_clock_digits():
    """A `+02:00` start two minutes ago is two minutes old, not two hours and two minutes (the zone was cut off)."""
    now = 1714557600.0 + 120
    assert age("2024-05-01T12:00:00.000000001+02:00", now) == "2m00s"
    assert age("2024-05-01T10:00:00.987654321Z", now) == "1m59s"
    assert age("0001-01-01T00:00:00Z", now) == "-"
