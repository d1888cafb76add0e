"""Which local process is on the other end of a database session: the owner of the client socket."""

from __future__ import annotations

import ipaddress

import psutil

from tui.databases.records import DbSession

_LOCALHOST_NAMES = {"localhost": ("127.0.0.1", "::1")}


def is_local_address(address: str | None) -> bool:
    """Loopback, or one of this machine's interface addresses."""
    if not address:
        return False
    if address in _LOCALHOST_NAMES:
        return True
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    if ip.is_loopback or (mapped is not None and mapped.is_loopback):
        return True
    return str(mapped or ip) in _interface_addresses()


def _interface_addresses() -> set[str]:
    return {a.address.split("%", 1)[0] for addrs in psutil.net_if_addrs().values() for a in addrs}


def _plain_ip(address: str) -> str:
    return address[7:] if address.startswith("::ffff:") else address


def attach_local_pids(sessions: list[DbSession]) -> None:
    """Fill `local_pid` / `local_process` of sessions whose client is on this machine (one socket scan for all)."""
    local = [s for s in sessions if s.client_port and is_local_address(s.client_addr)]
    if not local:
        return
    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError):
        return  # without root only our own sockets are visible: nothing reliable to show
    owners = {(_plain_ip(c.laddr.ip), c.laddr.port): c.pid for c in connections if c.pid and c.raddr}
    names: dict[int, str | None] = {}
    for session in local:
        addresses = _LOCALHOST_NAMES.get(session.client_addr or "", (_plain_ip(session.client_addr or ""),))
        pid = next((owners[(a, session.client_port)] for a in addresses if (a, session.client_port) in owners), None)
        if pid is None:
            continue
        if pid not in names:
            try:
                names[pid] = psutil.Process(pid).name()
            except psutil.Error:
                names[pid] = None
        session.local_pid, session.local_process = pid, names[pid]
