"""Live probes the guides run themselves: an HTTP request like `curl -v`, JWT decoding,
clock synchronisation and a short system sample.

Every probe bounds its own waits and returns a plain record (JSON-friendly, secrets masked); a probe
that cannot run says why in the record instead of raising.
"""

from __future__ import annotations

import base64
import binascii
import ctypes
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import psutil

from tui.redact import MASK, is_secret_key, redact_text
from tui.safefile import FileRefused, parse_json

# ---------------------------------------------------------------- HTTP probe

BODY_EXCERPT_CHARS = 600


@dataclass
class HttpProbe:
    url: str  # password and secret query parameters (`?token=`) masked
    method: str = "GET"
    status: int | None = None  # None when no response came back
    reason: str = ""
    http_version: str = ""
    connect_ms: float | None = None
    total_ms: float | None = None
    remote: str = ""  # address:port actually connected to
    headers: list[list[str]] = field(default_factory=list)  # [name, value], secrets masked
    body_excerpt: str = ""
    sent_token: bool = False
    error: str = ""  # why there is no response: DNS, refused, timeout, TLS, bad URL


def http_probe(url: str, timeout: float = 5.0, token: str | None = None) -> HttpProbe:
    """One GET request without following redirects, timed like `curl -v -w`; the token, if any, goes as Bearer."""
    import http.client  # here, not at start-up: only the guides that probe a URL need HTTP and TLS
    import ssl

    result = HttpProbe(url=redact_text(url), sent_token=token is not None)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        result.error = f"bad URL: {redact_text(str(exc))}"
        return result
    if parts.scheme not in ("http", "https") or not parts.hostname:
        result.error = "bad URL: expected http://host[:port]/path or https://..."
        return result
    port = port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    started = time.monotonic()
    try:
        sock = socket.create_connection((parts.hostname, port), timeout=timeout)
    except socket.gaierror as exc:
        result.error = f"DNS lookup of {parts.hostname} failed: {exc.strerror or exc}"
        return result
    except OSError as exc:
        result.error = f"cannot connect to {parts.hostname}:{port}: {exc.strerror or exc}"
        return result
    result.connect_ms = round((time.monotonic() - started) * 1000, 1)
    peer = sock.getpeername()
    result.remote = f"{peer[0]}:{peer[1]}"
    conn_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = conn_class(parts.hostname, port, timeout=timeout)
    try:
        conn.sock = ssl.create_default_context().wrap_socket(sock, server_hostname=parts.hostname) if (
            parts.scheme == "https") else sock
        headers = {"User-Agent": "tshoot-probe", "Accept": "*/*"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read(BODY_EXCERPT_CHARS * 4)
    except ssl.SSLError as exc:
        result.error = f"TLS handshake failed: {exc.reason or exc}"
        return result
    except (OSError, http.client.HTTPException) as exc:
        result.error = f"no HTTP response: {type(exc).__name__}: {exc}"
        return result
    finally:
        conn.close()
    result.total_ms = round((time.monotonic() - started) * 1000, 1)
    result.status = response.status
    result.reason = response.reason
    result.http_version = "HTTP/1.1" if response.version == 11 else "HTTP/1.0"
    result.headers = [[name, MASK if is_secret_key(name) else redact_text(value)]  # X-Debug-Token, Set-Cookie, ...
                      for name, value in response.getheaders()]
    result.body_excerpt = redact_text(body.decode("utf-8", "replace")[:BODY_EXCERPT_CHARS])
    return result


def describe_probe(probe: HttpProbe) -> str:
    """One line as an operator would say it: "GET url -> 500 Internal Server Error in 12 ms"."""
    if probe.status is None:
        return f"GET {probe.url} -> {probe.error}"
    return f"GET {probe.url} -> {probe.status} {probe.reason} in {probe.total_ms:.0f} ms"


# ---------------------------------------------------------------- JWT

class TokenError(ValueError):
    """The pasted text is not a JWT; the message says what is wrong with it."""


@dataclass
class TokenInfo:
    header: dict[str, Any]
    claims: dict[str, Any]  # values of secret-looking claims masked
    now: str  # this machine's clock, ISO 8601 UTC
    expires_at: str | None = None
    not_before: str | None = None
    issued_at: str | None = None
    expired: bool = False
    not_yet_valid: bool = False
    issued_in_future: bool = False
    seconds_left: float | None = None  # negative once expired


def decode_token(token: str, now: datetime | None = None, leeway_s: float = 0.0) -> TokenInfo:
    """Decode a JWT's header and claims without verifying its signature; compare its times to this clock.

    The token itself is never kept: only the decoded header and claims are returned.
    """
    now = now or datetime.now(timezone.utc)
    token = token.strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError(f"a JWT has three dot-separated parts (header.payload.signature); this has {len(parts)}")
    header = _decode_segment(parts[0], "header")
    claims = _decode_segment(parts[1], "payload")
    info = TokenInfo(header=header, claims={k: MASK if is_secret_key(k) else v for k, v in claims.items()},
                     now=now.isoformat(timespec="seconds"))
    exp, nbf, iat = (_claim_time(claims, name) for name in ("exp", "nbf", "iat"))
    if exp:
        info.expires_at = exp.isoformat(timespec="seconds")
        info.seconds_left = round((exp - now).total_seconds(), 1)
        info.expired = info.seconds_left < -leeway_s
    if nbf:
        info.not_before = nbf.isoformat(timespec="seconds")
        info.not_yet_valid = (nbf - now).total_seconds() > leeway_s
    if iat:
        info.issued_at = iat.isoformat(timespec="seconds")
        info.issued_in_future = (iat - now).total_seconds() > leeway_s
    return info


def _decode_segment(segment: str, what: str) -> dict[str, Any]:
    try:
        text = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)).decode("utf-8")
        data = parse_json(text, f"the JWT {what}")  # nesting bounded: a crafted token cannot exhaust the stack
    except (binascii.Error, ValueError) as exc:
        raise TokenError(f"the JWT {what} is not base64url-encoded JSON ({exc})") from None
    except FileRefused as exc:
        raise TokenError(str(exc)) from None
    if not isinstance(data, dict):
        raise TokenError(f"the JWT {what} is JSON but not an object")
    return data


def _claim_time(claims: dict[str, Any], name: str) -> datetime | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TokenError(f"claim '{name}' must be seconds since the epoch, not {value!r}")
    try:
        return datetime.fromtimestamp(value, timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise TokenError(f"claim '{name}' is not a time: {value!r}") from None


# ---------------------------------------------------------------- clock synchronisation

@dataclass
class ClockSync:
    tool: str  # what answered: timedatectl, chronyc, ntpq, kernel
    synchronized: bool | None  # None: nothing could tell
    offset_s: float | None = None
    detail: str = ""


def clock_sync(timeout: float = 3.0) -> ClockSync:
    """Ask the time daemons in turn; the kernel's NTP state (adjtimex) answers when none of them can."""
    tried: list[str] = []
    for reader in (_timedatectl, _chronyc, _ntpq):
        result = reader(timeout, tried)
        if result is not None:
            return result
    return _kernel_clock(tried)


def _run(argv: list[str], timeout: float, tried: list[str]) -> str | None:
    if not shutil.which(argv[0]):
        return None
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        tried.append(f"{argv[0]}: {exc}")
        return None
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines() or [f"exit status {done.returncode}"]
        tried.append(f"{argv[0]}: {said[0]}")
        return None
    return done.stdout


def _timedatectl(timeout: float, tried: list[str]) -> ClockSync | None:
    out = _run(["timedatectl", "show"], timeout, tried)
    if out is None:
        return None
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    synced = values.get("NTPSynchronized")
    return ClockSync("timedatectl", None if synced is None else synced == "yes",
                     detail=f"NTP service {'active' if values.get('NTP') == 'yes' else 'inactive'}")


def _chronyc(timeout: float, tried: list[str]) -> ClockSync | None:
    out = _run(["chronyc", "tracking"], timeout, tried)
    if out is None:
        return None
    leap = re.search(r"Leap status\s*:\s*(.+)", out)
    offset = re.search(r"System time\s*:\s*([\d.]+) seconds (fast|slow)", out)
    offset_s = None if not offset else float(offset[1]) * (1 if offset[2] == "fast" else -1)
    return ClockSync("chronyc", bool(leap) and leap[1].strip() != "Not synchronised", offset_s,
                     detail=leap[0].strip() if leap else "")


def _ntpq(timeout: float, tried: list[str]) -> ClockSync | None:
    out = _run(["ntpq", "-pn"], timeout, tried)
    if out is None:
        return None
    peer = next((line for line in out.splitlines() if line.startswith("*")), None)
    offset_s = float(peer.split()[8]) / 1000 if peer and len(peer.split()) > 8 else None
    return ClockSync("ntpq", peer is not None, offset_s, detail=peer or "no selected peer")


_TIME_ERROR = 5  # adjtimex() return value: the clock is not synchronised
_MAXERROR_OFFSET = 24  # struct timex on 64-bit Linux: modes(int)+pad, offset, freq, then maxerror (long, µs)


def _kernel_clock(tried: list[str]) -> ClockSync:
    why = "; ".join(tried) or "no timedatectl, chronyc or ntpq on this machine"
    if not sys.platform.startswith("linux") or ctypes.sizeof(ctypes.c_long) != 8:
        return ClockSync("none", None, detail=why)
    buffer = ctypes.create_string_buffer(512)  # larger than struct timex; modes=0 only reads
    state = ctypes.CDLL(None, use_errno=True).adjtimex(buffer)
    if state < 0:
        return ClockSync("none", None, detail=why)
    max_error_s = int.from_bytes(buffer.raw[_MAXERROR_OFFSET:_MAXERROR_OFFSET + 8], sys.byteorder, signed=True) / 1e6
    return ClockSync("kernel", state != _TIME_ERROR, detail=(
        f"{why}; the kernel says the clock is {'not ' if state == _TIME_ERROR else ''}NTP-synchronised "
        f"(max error {max_error_s:g} s)"))


# ---------------------------------------------------------------- system sample

@dataclass
class SystemSample:
    cores: int
    cpu_percent: float
    iowait_percent: float | None  # Linux only
    steal_percent: float | None
    load: list[float]  # 1, 5, 15 minutes
    memory_available_percent: float
    swap_used_percent: float
    swap_in_out_mb_per_s: float
    top_cpu: list[dict[str, Any]]  # [{"pid", "name", "cpu_percent"}], busiest first


def system_sample(interval: float = 1.0, top: int = 5) -> SystemSample:
    """CPU split (user/system/iowait/steal), load, memory and swap rates, and the busiest processes, over `interval`.

    The machine's figures and the processes' come from one window: the machine's CPU times are read before the
    processes are first read and after they are read again, so a process never shows more CPU than the machine
    had. Processes are in % of one core (as top shows them), the machine in % of all its cores. tshoot itself
    is left out of the processes.
    """
    machine_before = psutil.cpu_times()
    procs = []
    for proc in psutil.process_iter(["pid", "name"]):
        if proc.pid == os.getpid():
            continue
        try:
            proc.cpu_percent(None)
            procs.append(proc)
        except psutil.Error:
            continue
    swap_before = psutil.swap_memory()
    time.sleep(interval)
    swap_after = psutil.swap_memory()
    busiest = []
    for proc in procs:
        try:
            busiest.append({"pid": proc.pid, "name": proc.info["name"], "cpu_percent": proc.cpu_percent(None)})
        except psutil.Error:
            continue
    shares = cpu_shares(machine_before, psutil.cpu_times())
    busiest.sort(key=lambda row: -row["cpu_percent"])
    memory = psutil.virtual_memory()
    swapped = (swap_after.sin - swap_before.sin) + (swap_after.sout - swap_before.sout)
    return SystemSample(
        cores=psutil.cpu_count() or 1,
        cpu_percent=round(100.0 - shares["idle"] - shares.get("iowait", 0.0), 1),
        iowait_percent=shares.get("iowait"),
        steal_percent=shares.get("steal"),
        load=[round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else [],
        memory_available_percent=round(memory.available * 100 / memory.total, 1),
        swap_used_percent=swap_after.percent,
        swap_in_out_mb_per_s=round(swapped / 1024 / 1024 / interval, 2),
        top_cpu=[row for row in busiest[:top] if row["cpu_percent"] > 0],
    )


def cpu_shares(before: Any, after: Any) -> dict[str, float]:
    """Each CPU time field's share of all cores' time between two `psutil.cpu_times()` readings, in percent.

    Linux counts guest time inside user time as well, so it is not added twice."""
    deltas = {name: max(0.0, getattr(after, name) - getattr(before, name)) for name in after._fields}
    total = sum(deltas.values()) - deltas.get("guest", 0.0) - deltas.get("guest_nice", 0.0)
    if total <= 0:
        return {name: 0.0 for name in deltas} | {"idle": 100.0}
    return {name: round(value * 100 / total, 1) for name, value in deltas.items()}


# ---------------------------------------------------------------- open files and threads

@dataclass
class FileUse:
    pid: int
    name: str
    open_files: int  # file descriptors, sockets included
    limit: int  # soft RLIMIT_NOFILE
    percent: float


def file_use(pids: list[int] | None = None) -> tuple[list[FileUse], list[str]]:
    """Descriptors in use vs the soft open-file limit, for `pids` or every readable process; plus per-pid problems."""
    rows, problems = [], []
    candidates = pids if pids else psutil.pids()
    for pid in candidates:
        try:
            proc = psutil.Process(pid)
            soft, _hard = proc.rlimit(psutil.RLIMIT_NOFILE)
            used = proc.num_fds()
            name = proc.name()
        except psutil.NoSuchProcess:
            if pids:
                problems.append(f"pid {pid}: no such process")
            continue
        except (psutil.AccessDenied, AttributeError) as exc:
            if pids:
                problems.append(f"pid {pid}: cannot read its descriptors ({type(exc).__name__})")
            continue
        if soft <= 0:  # RLIM_INFINITY
            continue
        rows.append(FileUse(pid, name, used, soft, round(used * 100 / soft, 1)))
    rows.sort(key=lambda row: -row.percent)
    return rows, problems


def thread_counts(top: int = 5) -> tuple[list[dict[str, Any]], int, int | None]:
    """Processes with the most threads, the machine's total thread count and the kernel's threads-max."""
    rows, total = [], 0
    for proc in psutil.process_iter(["pid", "name", "num_threads"]):
        count = proc.info["num_threads"] or 0
        total += count
        rows.append({"pid": proc.info["pid"], "name": proc.info["name"], "threads": count})
    rows.sort(key=lambda row: -row["threads"])
    try:
        with open("/proc/sys/kernel/threads-max") as handle:
            threads_max: int | None = int(handle.read())
    except (OSError, ValueError):
        threads_max = None
    return rows[:top], total, threads_max
