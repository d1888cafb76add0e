"""The connection check: why a database cannot be used, step by step, each with its evidence and fix.

Headless and public: the Symptoms guide `db-connection`, `tshoot doctor` and the Databases pane all call
`diagnose(url)`. Steps: url -> dns -> tcp -> local-listener (local hosts only) -> auth -> query. The first
failing step becomes a `db-unreachable` finding.
"""

from __future__ import annotations

import concurrent.futures
import errno
import os
import re
import shlex
import shutil
import socket
import subprocess
import time
from typing import TYPE_CHECKING, Any

import psutil

from tui import registry
from tui.databases.connection import (
    DEFAULT_PORTS,
    DIALECT_NAMES,
    UrlError,
    describe_error,
    dialect_of,
    dialect_of_scheme,
    error_code,
    open_connection,
    parse_url,
)
from tui.databases.peers import is_local_address
from tui.databases.records import ConnectionReport, CheckStep
from tui.findings import Finding
from tui.redact import mask_url

STEPS = ("url", "dns", "tcp", "local-listener", "auth", "query")
FINDING_STEPS = ("url", "dns", "tcp", "auth", "query")  # local-listener only explains a tcp failure
SERVICE_NAMES = {"postgresql": "postgresql", "mysql": "mariadb mysql"}  # systemd units, Debian's first
SERVER_PROCESS_NAMES = {"postgresql": {"postgres", "postmaster"}, "mysql": {"mysqld", "mariadbd"}}
PG_DEFAULT_SOCKET_DIR = "/var/run/postgresql"
SLOW_ROUND_TRIP_MS = 1000.0
# Auth-step reasons that mean the server refused these credentials: trying them again only fills its log (and
# trips fail2ban or account lockouts). "too many connections" and "timeout" are not about the credential.
REFUSED_LOGIN_REASONS = {"password", "user", "database", "database access", "not allowed"}

if TYPE_CHECKING:
    from sqlalchemy.engine import URL


def diagnose(url: str, timeout: float = 5.0, login_error: BaseException | None = None) -> ConnectionReport:
    """Run every step that can run; never raises, never returns or stores the password.

    `login_error`: the error of a login attempt just made with this URL. The auth step then reports it instead of
    logging in again, so a failing target costs the server one login attempt, not two."""
    report = ConnectionReport(url=mask_url(url), dialect=dialect_of_scheme(url) or "unknown")
    parsed = _url_step(url, report)
    if parsed is not None:
        _network_and_server_steps(parsed, report, timeout, login_error)
    done = {step.name for step in report.steps}
    failed = next((s.name for s in report.steps if s.status == "fail"), None)
    for name in STEPS:
        if name not in done:
            reason = f"not run: the {failed} step failed" if failed else "not applicable"
            report.steps.append(CheckStep(name, "skipped", reason))
    report.steps.sort(key=lambda s: STEPS.index(s.name))
    return report


def connection_check_finding(report: ConnectionReport) -> Finding | None:
    """`db-unreachable` (critical) for the first failing step, None when the database answers."""
    step = next((s for s in report.steps if s.status == "fail" and s.name in FINDING_STEPS), None)
    if step is None:
        return None
    return Finding(
        id="db-unreachable",
        severity="critical",
        source=registry.DATABASES,
        title=f"Database unreachable ({step.name}): {report.url}",
        detail=f"{step.detail}. Fix: {step.fix}" if step.fix else step.detail,
        subject={"target": report.url},
        evidence={**step.evidence, "step": step.name, "detail": step.detail},
        guide="db-connection",
    )


def _url_step(url: str, report: ConnectionReport) -> URL | None:
    try:
        parsed = parse_url(url)
    except UrlError as exc:
        report.steps.append(
            CheckStep("url", "fail", str(exc), {"url": report.url},
                       "Write the URL as postgresql://user:password@host:port/database "
                       "(or mysql://...); quote special characters in the password with %XX.")
        )
        return None
    dialect = dialect_of(parsed)
    report.dialect = dialect
    evidence = {"dialect": dialect, "host": parsed.host, "port": parsed.port, "database": parsed.database,
                "user": parsed.username}
    notes = []
    if parsed.port is None:
        notes.append(f"no port in the URL: the {DIALECT_NAMES[dialect]} default {DEFAULT_PORTS[dialect]} applies")
    if not parsed.host and dialect == "postgresql":
        notes.append(f"no host: connects through the Unix socket in {_pg_socket_dir(parsed)}")
    if notes:
        report.steps.append(CheckStep("url", "warn", "; ".join(notes), evidence,
                                       "Name the host and port in the URL if the default is not what you meant."))
    else:
        report.steps.append(CheckStep("url", "pass", f"{DIALECT_NAMES[dialect]} at {parsed.host}:{parsed.port}",
                                       evidence))
    return parsed


def login_refused(report: ConnectionReport) -> bool:
    """Did the server refuse the credentials themselves (not a network, load or limit problem)?"""
    auth = report.step("auth")
    return auth is not None and auth.status == "fail" and auth.evidence.get("reason") in REFUSED_LOGIN_REASONS


def _network_and_server_steps(parsed: URL, report: ConnectionReport, timeout: float,
                              login_error: BaseException | None) -> None:
    dialect = dialect_of(parsed)
    port = parsed.port or DEFAULT_PORTS[dialect]
    socket_path = _unix_socket_path(parsed, port)
    if socket_path:
        report.steps.append(CheckStep("dns", "skipped", f"Unix socket {socket_path}: no host name to resolve"))
        reached = _unix_socket_step(socket_path, report, timeout)
        addresses = ["127.0.0.1"]  # a socket is always this machine
    else:
        addresses = _dns_step(parsed.host or "localhost", port, report, timeout)
        if addresses is None:
            return
        reached = _tcp_step(addresses, port, report, timeout)
    _local_listener_step(addresses, port, parsed, report, reached)
    if reached and login_error is not None:
        _auth_failed(parsed, report, login_error)
    elif reached:
        _auth_and_query_steps(parsed, report, timeout)


def _pg_socket_dir(parsed: URL) -> str:
    host = parsed.query.get("host")
    return host if isinstance(host, str) and host.startswith("/") else PG_DEFAULT_SOCKET_DIR


def _unix_socket_path(parsed: URL, port: int) -> str | None:
    if dialect_of(parsed) == "postgresql":
        if parsed.host and not parsed.host.startswith("/"):
            return None
        return os.path.join(parsed.host or _pg_socket_dir(parsed), f".s.PGSQL.{port}")
    path = parsed.query.get("unix_socket")
    return path if isinstance(path, str) else None


def _dns_step(host: str, port: int, report: ConnectionReport, timeout: float) -> list[str] | None:
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)  # getaddrinfo has no timeout of its own
    try:
        infos = pool.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM).result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        report.steps.append(CheckStep("dns", "fail", f"resolving '{host}' got no answer within {timeout:g}s",
                                       {"host": host, "outcome": "timeout"},
                                       "Check the resolvers in /etc/resolv.conf answer (resolvectl status), "
                                       "or use an IP address in the URL."))
        return None
    except (socket.gaierror, UnicodeError, OSError) as exc:
        report.steps.append(CheckStep("dns", "fail", f"host '{host}' does not resolve ({exc})",
                                       {"host": host, "outcome": "unknown host", "error": str(exc)},
                                       f"Check '{host}' for typos; check /etc/hosts and DNS (getent hosts {host})."))
        return None
    finally:
        pool.shutdown(wait=False)
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    report.steps.append(CheckStep("dns", "pass", f"{host} -> {', '.join(addresses[:4])}",
                                   {"host": host, "addresses": addresses}))
    return addresses


def _tcp_step(addresses: list[str], port: int, report: ConnectionReport, timeout: float) -> bool:
    attempts: list[dict[str, Any]] = []
    for address in addresses[:3]:
        outcome, message = _try_connect(address, port, timeout)
        attempts.append({"address": address, "outcome": outcome, "error": message})
        if outcome == "connected":
            report.steps.append(CheckStep("tcp", "pass", f"connected to {address}:{port}",
                                           {"address": address, "port": port, "outcome": outcome}))
            return True
    first = attempts[0]
    evidence: dict[str, Any] = {"address": first["address"], "port": port, "outcome": first["outcome"],
                                "attempts": attempts}
    where = f"{first['address']}:{port}"
    if first["outcome"] == "refused":
        detail = f"connection to {where} refused: nothing listens there"
        fix = (f"Start the database server, or fix the port in the URL; check that the server listens on "
               f"{first['address']} (listen_addresses / bind-address).")
    elif first["outcome"] == "timed out":
        firewall = firewall_rules_for_port(port)
        evidence["firewall"] = firewall
        detail = f"connection to {where} timed out after {timeout:g}s: packets are dropped or the host is down"
        fix = (f"Check firewalls between here and {first['address']} for port {port} "
               f"(local rules: {summarize_firewall(firewall)}), and that the host is up.")
    elif first["outcome"] == "unreachable":
        detail = f"{where} is unreachable: {first['error']}"
        fix = f"Check the address and this machine's routes (ip route get {first['address']})."
    else:
        detail = f"cannot connect to {where}: {first['error']}"
        fix = "Check the host and port in the URL."
    report.steps.append(CheckStep("tcp", "fail", detail, evidence, fix))
    return False


def _try_connect(address: str, port: int, timeout: float) -> tuple[str, str]:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return "connected", ""
    except ConnectionRefusedError as exc:
        return "refused", str(exc)
    except (socket.timeout, TimeoutError) as exc:
        return "timed out", str(exc) or "timed out"
    except OSError as exc:
        if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL):
            return "unreachable", exc.strerror or str(exc)
        return "error", exc.strerror or str(exc)


def _unix_socket_step(path: str, report: ConnectionReport, timeout: float) -> bool:
    evidence: dict[str, Any] = {"socket": path}
    if not os.path.exists(path):
        report.steps.append(CheckStep("tcp", "fail", f"Unix socket {path} does not exist", evidence,
                                       "Start the database server, or name the socket directory / host in the URL."))
        return False
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except OSError as exc:
        report.steps.append(CheckStep("tcp", "fail", f"Unix socket {path}: {exc.strerror or exc}", evidence,
                                       "The socket file is stale or not accessible: fix the permissions on the "
                                       "socket directory, or check the server runs (a stale socket goes away "
                                       "when it starts; restarting a running server ends every session)."))
        return False
    finally:
        sock.close()
    report.steps.append(CheckStep("tcp", "pass", f"connected to Unix socket {path}", evidence))
    return True


def _local_listener_step(addresses: list[str], port: int, parsed: URL, report: ConnectionReport,
                         reached: bool) -> None:
    """Who holds the port here, and which servers of this kind run (each with its own pid and ports)."""
    dialect = dialect_of(parsed)
    if not any(is_local_address(a) for a in addresses):
        report.steps.append(CheckStep("local-listener", "skipped", "the host is not this machine"))
        return
    try:
        listening = [c for c in psutil.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    except (psutil.AccessDenied, OSError) as exc:
        report.steps.append(CheckStep("local-listener", "skipped", f"cannot list sockets: {exc} (run as root)"))
        return
    names = SERVER_PROCESS_NAMES[dialect]
    servers = [{"pid": p.pid, "name": p.info["name"]}
               for p in psutil.process_iter(["name"]) if p.info["name"] in names]
    server_pids = {s["pid"] for s in servers}
    ports_by_pid: dict[int, set[int]] = {}
    for c in listening:
        if c.pid in server_pids:
            ports_by_pid.setdefault(c.pid, set()).add(c.laddr.port)
    listening_servers = [{"pid": pid, "ports": sorted(ports)} for pid, ports in sorted(ports_by_pid.items())]
    server_ports = sorted({p for s in listening_servers for p in s["ports"]})
    holders = [{"pid": c.pid, "name": _process_name(c.pid), "address": f"{c.laddr.ip}:{c.laddr.port}"}
               for c in listening if c.laddr.port == port]
    evidence = {"port": port, "listeners": holders, "server_processes": servers[:5],
                "listening_servers": listening_servers, "server_ports": server_ports}
    kind = DIALECT_NAMES[dialect]
    holder = holders[0] if holders else None
    here = _servers_here(kind, listening_servers, bool(servers))
    unconfirmed = (f" {here[0].upper()}{here[1:]}. No port was confirmed to serve database "
                   f"'{parsed.database or '(default)'}': tshoot does not log in to other servers to find out. "
                   "Check each port (" +
                   " ; ".join(client_commands(dialect, parsed.host, "PORT", parsed.username, parsed.database,
                                              _unix_socket_dir(parsed))[-1:]) +
                   "), then fix the port in the URL or the server's settings.") if listening_servers else ""
    if holder and holder["name"] in names:
        report.steps.append(CheckStep("local-listener", "pass",
                                       f"port {port} is held by {holder['name']} (pid {holder['pid']})", evidence))
    elif holder:
        report.steps.append(CheckStep("local-listener", "warn",
                                       f"port {port} is held by {holder['name'] or '?'} (pid {holder['pid']}), "
                                       f"not a {kind} server; {here}", evidence,
                                       f"The URL points at another program's port.{unconfirmed}"))
    elif servers:
        fix = (f"Nothing listens on {port}.{unconfirmed}" if listening_servers else
               f"The {kind} server runs but tshoot cannot see which port it listens on (run as root, or read "
               "its settings: port / bind-address), then fix the port in the URL.")
        report.steps.append(CheckStep("local-listener", "warn" if reached else "fail",
                                       f"nothing listens on port {port}; {here}", evidence, fix))
    else:
        report.steps.append(CheckStep("local-listener", "warn" if reached else "fail",
                                       f"nothing listens on port {port} and no {kind} server process runs",
                                       evidence, f"Start the {kind} server (systemctl start "
                                       f"{SERVICE_NAMES[dialect].split()[0]}) and read its log."))
    listener = report.steps[-1]
    tcp = report.step("tcp")
    if tcp and tcp.status == "fail" and listener.fix:
        tcp.fix = listener.fix  # the more specific cause of a refused connection


def _servers_here(kind: str, listening_servers: list[dict[str, Any]], any_running: bool) -> str:
    """Each server with its own pid and ports: several servers are several answers, never one."""
    if not listening_servers:
        return f"a {kind} server runs, on no TCP port tshoot can see" if any_running else f"no {kind} server runs"
    each = "; ".join(f"pid {s['pid']} on {', '.join(map(str, s['ports']))}" for s in listening_servers)
    return f"{kind} servers listening here: {each}" if len(listening_servers) > 1 else \
        f"the {kind} server here (pid {listening_servers[0]['pid']}) listens on " \
        f"{', '.join(map(str, listening_servers[0]['ports']))}"


def _unix_socket_dir(parsed: URL) -> str | None:
    """The socket directory (PostgreSQL) or file (MySQL) the URL names, when it connects through one."""
    if dialect_of(parsed) == "postgresql":
        return parsed.host if parsed.host and parsed.host.startswith("/") else (
            None if parsed.host else _pg_socket_dir(parsed))
    path = parsed.query.get("unix_socket")
    return path if isinstance(path, str) else None


def client_commands(dialect: str, host: str | None, port: int | str, user: str | None, database: str | None,
                    socket_path: str | None = None) -> list[str]:
    """The engine's own client commands for this target: is it up, can this user log in to this database.
    Built from the target (host, port, user, database); the password is never in them (the client prompts)."""
    client = client_invocation(dialect, host, port, user, database, socket_path)
    if dialect == "postgresql":
        return [f"pg_isready {_where(dialect, host, port, socket_path)}", f"{client} -c 'select 1'"]
    login = f" -u {shlex.quote(user)}" if user else ""
    return [f"mysqladmin {_where(dialect, host, port, socket_path)}{login} -p ping", f"{client} -e 'select 1'"]


def client_invocation(dialect: str, host: str | None, port: int | str, user: str | None, database: str | None,
                      socket_path: str | None = None) -> str:
    """`psql ...` / `mysql ...` logged in to this target's database as its user (the client asks the password)."""
    q = shlex.quote
    where = _where(dialect, host, port, socket_path)
    if dialect == "postgresql":
        return f"psql {where}" + (f" -U {q(user)}" if user else "") + (f" -d {q(database)}" if database else "")
    return f"mysql {where}" + (f" -u {q(user)}" if user else "") + " -p" + (f" {q(database)}" if database else "")


def _where(dialect: str, host: str | None, port: int | str, socket_path: str | None) -> str:
    q = shlex.quote
    if dialect == "postgresql":
        return f"-h {q(socket_path or host or PG_DEFAULT_SOCKET_DIR)} -p {port}"
    return f"-S {q(socket_path)}" if socket_path else f"-h {q(host or '127.0.0.1')} -P {port}"


def target_client(url: str) -> tuple[str, str] | None:
    """(dialect, `psql ...` / `mysql ...` for this target), from its URL (a masked one will do: no password is
    used); None for a URL that does not parse."""
    try:
        parsed = parse_url(url)
    except UrlError:
        return None
    dialect = dialect_of(parsed)
    return dialect, client_invocation(dialect, parsed.host, parsed.port or DEFAULT_PORTS[dialect], parsed.username,
                                      parsed.database, _unix_socket_dir(parsed))


def target_commands(url: str) -> list[str]:
    """What an operator runs to look at this target by hand: who listens on its port, the server's service, and
    the engine's client commands for it. Empty for a URL that does not parse."""
    try:
        parsed = parse_url(url)
    except UrlError:
        return []
    dialect = dialect_of(parsed)
    port = parsed.port or DEFAULT_PORTS[dialect]
    return [f"ss -ltnp '( sport = :{port} )'", f"systemctl status {SERVICE_NAMES[dialect]}",
            *client_commands(dialect, parsed.host, port, parsed.username, parsed.database, _unix_socket_dir(parsed))]


def _process_name(pid: int | None) -> str | None:
    if not pid:
        return None
    try:
        return psutil.Process(pid).name()
    except psutil.Error:
        return None


# Why authentication failed, from PostgreSQL's message or MySQL's error code.
_PG_AUTH_REASONS = [
    ("password authentication failed", "password"),
    ("does not exist", None),  # role or database: told apart below
    ("no pg_hba.conf entry", "not allowed"),
    ("timeout expired", "timeout"),
]
_MYSQL_AUTH_REASONS = {1045: "password", 1044: "database access", 1049: "database", 1130: "not allowed",
                       1698: "password", 1040: "too many connections", 1203: "too many connections"}


def _auth_reason(dialect: str, exc: BaseException, message: str) -> str:
    if dialect == "mysql":
        return _MYSQL_AUTH_REASONS.get(error_code(exc) or 0, "error")
    lowered = message.lower()
    if "too many" in lowered and "connections" in lowered:
        return "too many connections"
    if re.search(r'database "[^"]*" does not exist', message):
        return "database"
    if re.search(r'role "[^"]*" does not exist', message):
        return "user"
    return next((reason for text, reason in _PG_AUTH_REASONS if text in lowered and reason), "error")


def _auth_fix(reason: str, parsed: URL) -> str:
    user, database = parsed.username or "(none)", parsed.database or "(default)"
    return {
        "password": f"Check the password for user '{user}' (a rotated secret?)"
                    + ("; also the auth method in pg_hba.conf." if dialect_of(parsed) == "postgresql" else "."),
        "user": f"User '{user}' does not exist on the server: create it or fix the user in the URL.",
        "database": f"Database '{database}' does not exist: create it or fix the database name in the URL.",
        "database access": f"User '{user}' may not use database '{database}': GRANT access or use another database.",
        "not allowed": f"The server refuses user '{user}' from this address: add a pg_hba.conf entry (PostgreSQL) "
                       "or a user@host grant (MySQL), then reload.",
        "too many connections": "The server is at max_connections: end idle sessions or raise the limit "
                                "(see connection-saturation).",
        "timeout": "The server accepted TCP but did not finish the handshake: it may be overloaded or stuck.",
    }.get(reason, "Read the server's message above and its log.")


def _auth_failed(parsed: URL, report: ConnectionReport, exc: BaseException) -> None:
    message = describe_error(exc)
    reason = _auth_reason(dialect_of(parsed), exc, message)
    report.steps.append(CheckStep("auth", "fail", f"{reason}: {message}",
                                   {"user": parsed.username, "database": parsed.database, "reason": reason,
                                    "error": message}, _auth_fix(reason, parsed)))


def _auth_and_query_steps(parsed: URL, report: ConnectionReport, timeout: float) -> None:
    evidence: dict[str, Any] = {"user": parsed.username, "database": parsed.database}
    try:
        connection = open_connection(parsed, timeout)
    except Exception as exc:  # every driver error is a finding, not a crash
        _auth_failed(parsed, report, exc)
        return
    try:
        report.steps.append(CheckStep("auth", "pass", f"logged in as {parsed.username} to "
                                       f"{parsed.database or 'the default database'}", evidence))
        started = time.perf_counter()
        try:
            connection.exec_driver_sql("SELECT 1").scalar()
        except Exception as exc:
            report.steps.append(CheckStep("query", "fail", f"SELECT 1 failed: {describe_error(exc)}",
                                           {"error": describe_error(exc)},
                                           "The server accepts logins but does not answer queries: check its load, "
                                           "locks and log."))
            return
        round_trip = (time.perf_counter() - started) * 1000
        status = "warn" if round_trip > SLOW_ROUND_TRIP_MS else "pass"
        report.steps.append(CheckStep("query", status, f"SELECT 1 in {round_trip:.1f} ms",
                                       {"round_trip_ms": round(round_trip, 2)},
                                       "The server answers slowly: check its load." if status == "warn" else ""))
    finally:
        connection.close()


def firewall_rules_for_port(port: int) -> dict[str, list[str] | str]:
    """Local nftables / iptables / ufw rules that mention the port, plus default DROP policies."""
    commands = {"nftables": ["nft", "list", "ruleset"], "iptables": ["iptables", "-S"], "ufw": ["ufw", "status"]}
    found: dict[str, list[str] | str] = {}
    for tool, argv in commands.items():
        if not shutil.which(argv[0]):
            found[tool] = "not installed"
            continue
        try:
            run = subprocess.run(argv, capture_output=True, text=True, timeout=2)
        except (OSError, subprocess.TimeoutExpired) as exc:
            found[tool] = f"could not run: {exc}"
            continue
        if run.returncode != 0:
            found[tool] = f"could not read: {(run.stderr or run.stdout).strip()[:200]}"
            continue
        found[tool] = rules_mentioning_port(run.stdout, port)
    return found


def rules_mentioning_port(ruleset: str, port: int) -> list[str]:
    """Lines of a ruleset that name the port, and default policies that drop what no rule accepts."""
    port_re = re.compile(rf"(?<![\w.:]){port}(?![\w.])")
    policy_re = re.compile(r"^-P \S+ (DROP|REJECT)|policy (drop|reject)|Default: (deny|reject)", re.IGNORECASE)
    return [line.strip() for line in ruleset.splitlines() if port_re.search(line) or policy_re.search(line.strip())]


def summarize_firewall(firewall: dict[str, list[str] | str]) -> str:
    parts = []
    for tool, rules in firewall.items():
        if isinstance(rules, str):
            continue
        parts.append(f"{tool}: {'; '.join(rules[:3])}" if rules else f"{tool}: nothing about this port")
    return ", ".join(parts) or "no firewall tool readable"
