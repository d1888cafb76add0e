"""Real database sessions for the databases tests (no tests here): opened by a test, closed by its fixture."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any, Callable

import psycopg
import pymysql
import sqlalchemy as sa


def plain_pg_dsn(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def unique_name(prefix: str = "tshoot_test") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 15.0, every: float = 0.05) -> Any:
    """Wait for a server-side state the test created (a lock wait, a flushed statistic); fail naming it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


class Sessions:
    """Opens real client connections and closes every one of them (and their background statements) at the end."""

    def __init__(self, pg_url: str | None = None, mysql_url: str | None = None) -> None:
        self.pg_url, self.mysql_url = pg_url, mysql_url
        self._connections: list[Any] = []
        self._threads: list[threading.Thread] = []

    def pg(self, application: str, autocommit: bool = True) -> psycopg.Connection:
        connection = psycopg.connect(plain_pg_dsn(self.pg_url), application_name=application, autocommit=autocommit,
                                     options="-c statement_timeout=60000")
        self._connections.append(connection)
        return connection

    def mysql(self) -> pymysql.connections.Connection:
        url = sa.make_url(self.mysql_url)
        connection = pymysql.connect(host=url.host, port=url.port, user=url.username, password=url.password,
                                     database=url.database, autocommit=True, read_timeout=60)
        self._connections.append(connection)
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION innodb_lock_wait_timeout = 50")
        return connection

    def in_background(self, connection: Any, sql: str) -> dict[str, Any]:
        """Run a statement that will block, on its own thread; the outcome lands in the returned dict."""
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                with connection.cursor() as cursor:
                    cursor.execute(sql)
                outcome["done"] = True
            except Exception as exc:  # the test inspects how the statement ended (cancelled, killed)
                outcome["error"] = exc

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self._threads.append(thread)
        return outcome

    def close(self) -> None:
        for connection in self._connections:
            try:
                connection.close()
            except Exception:  # already ended by a test (terminate / KILL)
                pass
        for thread in self._threads:
            thread.join(timeout=10)
        self._connections, self._threads = [], []
