"""Logins a server refused, remembered for the life of tshoot, so a credential is never sprayed at a server.

tshoot logs in to the databases it is given and to those it finds in other processes' settings. A refused
login is written to the server's log and counted by fail2ban and account lockouts: it is tried once, and
again only when the credential changes or the operator asks (the Databases pane's connection check, `d`).
"""

from __future__ import annotations

import hashlib
import threading

from tui.databases.connection import DEFAULT_PORTS, UrlError, dialect_of_scheme, parse_url
from tui.databases.records import ConnectionReport

LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1", "ip6-localhost"}  # one server, however this machine is named


class RefusedLogins:
    """Credentials a server refused, remembered for the life of tshoot: they are never tried again on their own.

    Keyed by server (dialect, host, port), user and a hash of the password, so the same credential reached
    through another spelling of the URL is not tried again either; a changed password is a new credential.
    Only the operator's explicit connection check (`d`) logs in with a refused credential again.
    """

    def __init__(self) -> None:
        self._refused: dict[tuple[str, ...], ConnectionReport] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(url: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        """(credential key, credential-and-database key): a missing database refuses only that database."""
        try:
            parsed = parse_url(url)
        except UrlError:
            return None
        host = (parsed.host or "").lower()
        host = "this machine" if host in LOCAL_HOSTS else host
        port = str(parsed.port or DEFAULT_PORTS.get(dialect_of_scheme(url), ""))
        secret = hashlib.sha256((parsed.password or "").encode("utf-8", "surrogateescape")).hexdigest()
        credential = (dialect_of_scheme(url) or "", host, port, parsed.username or "", secret)
        return credential, (*credential, parsed.database or "")

    def refused(self, url: str) -> ConnectionReport | None:
        keys = self._keys(url)
        with self._lock:
            return next((self._refused[k] for k in keys or () if k in self._refused), None)

    def remember(self, url: str, report: ConnectionReport, database_only: bool = False) -> None:
        """`database_only`: the credential works on the server, not in this database (as the report may also say)."""
        keys = self._keys(url)
        if keys is None:
            return
        auth = report.step("auth")
        database_only = database_only or auth is not None and auth.evidence.get("reason") in ("database",
                                                                                             "database access")
        with self._lock:
            self._refused[keys[1] if database_only else keys[0]] = report

    def forget(self, url: str) -> None:
        with self._lock:
            for key in self._keys(url) or ():
                self._refused.pop(key, None)


REFUSED_LOGINS = RefusedLogins()
