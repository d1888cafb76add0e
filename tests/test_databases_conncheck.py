"""The connection check against the real servers: each kind of unreachable target stops at the right step."""

from __future__ import annotations

import re
import socket

import pytest
import sqlalchemy as sa

from tui.databases.conncheck import diagnose, connection_check_finding, rules_mentioning_port, target_commands

pytestmark = pytest.mark.services


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _variant(url: str, **changes) -> str:
    return sa.make_url(url).set(**changes).render_as_string(hide_password=False)


def _first_failure(report):
    return next(s for s in report.steps if s.status == "fail")


@pytest.mark.parametrize("which", ["pg", "mysql"])
def test_a_healthy_target_passes_every_step(which, pg_url, mysql_url):
    report = diagnose(pg_url if which == "pg" else mysql_url, timeout=3)
    statuses = {s.name: s.status for s in report.steps}
    assert report.ok, report.steps
    assert statuses == {"url": "pass", "dns": "pass", "tcp": "pass", "local-listener": "pass", "auth": "pass",
                        "query": "pass"}
    assert report.step("query").evidence["round_trip_ms"] >= 0
    assert connection_check_finding(report) is None


@pytest.mark.parametrize("which", ["pg", "mysql"])
def test_closed_port_fails_at_tcp_and_names_the_servers_real_port(which, pg_url, mysql_url):
    url = pg_url if which == "pg" else mysql_url
    real_port = sa.make_url(url).port
    report = diagnose(_variant(url, port=_closed_port()), timeout=3)
    tcp = _first_failure(report)
    assert (tcp.name, tcp.evidence["outcome"]) == ("tcp", "refused")
    listener = report.step("local-listener")
    assert real_port in listener.evidence["server_ports"]
    assert str(real_port) in tcp.fix
    assert report.step("auth").status == "skipped"
    finding = connection_check_finding(report)
    assert (finding.id, finding.severity, finding.evidence["step"]) == ("db-unreachable", "critical", "tcp")


@pytest.mark.parametrize("which", ["pg", "mysql"])
def test_wrong_password_fails_at_auth_and_never_shows_the_password(which, pg_url, mysql_url):
    url = _variant(pg_url if which == "pg" else mysql_url, password="not-the-Password-42")
    report = diagnose(url, timeout=3)
    auth = _first_failure(report)
    assert (auth.name, auth.evidence["reason"]) == ("auth", "password")
    assert "not-the-Password-42" not in repr(report)
    assert connection_check_finding(report).evidence["step"] == "auth"


@pytest.mark.parametrize("which", ["pg", "mysql"])
def test_missing_database_fails_at_auth_as_missing_database(which, pg_url, mysql_url):
    report = diagnose(_variant(pg_url if which == "pg" else mysql_url, database="tshoot_no_such_db"), timeout=3)
    auth = _first_failure(report)
    assert (auth.name, auth.evidence["reason"]) == ("auth", "database")
    assert "tshoot_no_such_db" in auth.fix


def test_unknown_host_fails_at_dns(pg_url):
    report = diagnose(_variant(pg_url, host="tshoot-no-such-host.invalid"), timeout=3)
    dns = _first_failure(report)
    assert dns.name == "dns"
    assert [s.status for s in report.steps if s.name in ("tcp", "auth", "query")] == ["skipped"] * 3
    assert connection_check_finding(report).evidence["step"] == "dns"


@pytest.mark.parametrize("url, problem", [
    ("sqlite:///app.db", "unsupported scheme 'sqlite'"),
    ("postgres://u:pw@host:notaport/db", "cannot parse"),
    ("just some text", "not a URL"),
])
def test_bad_urls_fail_at_the_url_step(url, problem):
    report = diagnose(url)
    step = _first_failure(report)
    assert step.name == "url" and problem in step.detail
    assert connection_check_finding(report).evidence["step"] == "url"


def test_a_url_without_port_warns_which_default_applies():
    report = diagnose("postgres://u:pw@tshoot-no-such-host.invalid/db", timeout=2)
    url_step = report.step("url")
    assert url_step.status == "warn" and "5432" in url_step.detail


def test_firewall_rules_that_name_the_port_are_picked_out():
    iptables = "-P INPUT DROP\n-P FORWARD ACCEPT\n-A INPUT -p tcp --dport 22 -j ACCEPT\n" \
               "-A INPUT -p tcp -m tcp --dport 5432 -j DROP\n-A INPUT -p tcp --dport 54321 -j ACCEPT\n"
    assert rules_mentioning_port(iptables, 5432) == ["-P INPUT DROP", "-A INPUT -p tcp -m tcp --dport 5432 -j DROP"]
    nft = "table inet filter {\n chain input {\n  type filter hook input priority 0; policy drop;\n" \
          "  tcp dport { 22, 5432 } accept\n }\n}"
    assert rules_mentioning_port(nft, 5432) == ["type filter hook input priority 0; policy drop;",
                                                "tcp dport { 22, 5432 } accept"]


def test_several_servers_are_named_each_with_its_own_pid_and_port(pg_url, tmp_path):
    """A second process named `postgres` listening elsewhere is another server: never one pid with all ports."""
    import subprocess
    import sys

    fake = tmp_path / "postgres"
    fake.symlink_to(sys.executable)  # its process name (comm) is "postgres"
    server = subprocess.Popen([str(fake), "-c", "import socket, sys\n"
                               "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
                               "print(s.getsockname()[1], flush=True); sys.stdin.read()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        fake_port = int(server.stdout.readline())
        report = diagnose(_variant(pg_url, port=_closed_port(), database="shop"), timeout=3)
        listener = report.step("local-listener")
        real_port = sa.make_url(pg_url).port
        servers = {s["pid"]: s["ports"] for s in listener.evidence["listening_servers"]}
        assert servers[server.pid] == [fake_port]
        (real_pid,) = [pid for pid, ports in servers.items() if real_port in ports]
        assert real_pid != server.pid and fake_port not in servers[real_pid]
        assert f"pid {server.pid} on {fake_port}" in listener.detail
        assert f"pid {real_pid} on {real_port}" in listener.detail
        assert "No port was confirmed to serve database 'shop'" in report.step("tcp").fix
    finally:
        server.kill()
        server.wait()


def test_commands_are_built_from_the_target_never_with_its_password():
    pg = target_commands("postgresql://app:s3cret-pw@127.0.0.1:55432/shop")
    assert "pg_isready -h 127.0.0.1 -p 55432" in pg
    assert "psql -h 127.0.0.1 -p 55432 -U app -d shop -c 'select 1'" in pg
    assert not any("mysql" in c or "3306" in c or re.search(r"\b5432\b", c) or "s3cret" in c for c in pg)
    my = target_commands("mysql://root:s3cret-pw@db.internal:53306/orders")
    assert "mysql -h db.internal -P 53306 -u root -p orders -e 'select 1'" in my
    assert not any("psql" in c or "pg_isready" in c or "s3cret" in c for c in my)
    hostile = target_commands("postgresql://x:y@h/db;rm -rf ~")
    assert "-d 'db;rm -rf ~'" in hostile[-1]  # quoted for the shell: copied, it cannot run anything else
