"""Database URLs and tshoot's own connections: the right driver, short timeouts, autocommit, named 'tshoot'."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from tui.redact import redact_text

if TYPE_CHECKING:  # SQLAlchemy costs ~0.15 s and ~25 MB: imported only once a database is used
    from sqlalchemy.engine import URL, Connection

APPLICATION_NAME = "tshoot"
STATEMENT_TIMEOUT_S = 3.0  # no query of tshoot's may run longer than this on a server
LOCK_TIMEOUT_S = 1.0  # nor wait this long for a lock

# Scheme (before any "+driver") -> dialect, and the driver tshoot uses for it.
_DIALECTS = {
    "postgres": "postgresql",
    "postgresql": "postgresql",
    "mysql": "mysql",
    "mysql2": "mysql",  # Rails
    "trilogy": "mysql",  # Rails
    "mariadb": "mysql",
}
DRIVERS = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql"}
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
DIALECT_NAMES = {"postgresql": "PostgreSQL", "mysql": "MySQL/MariaDB"}
# PyMySQL rejects unknown keyword arguments; URL options of other drivers (Rails' `reconnect=true`, ...) are dropped.
_PYMYSQL_QUERY_KEYS = {"charset", "unix_socket", "ssl_ca", "ssl_cert", "ssl_key", "ssl_verify_cert", "ssl_verify_identity"}


class UrlError(ValueError):
    """The text is not a database URL tshoot can use; the message says what is wrong."""


def dialect_of_scheme(url: str) -> str | None:
    """"postgresql" / "mysql" for a URL tshoot understands, else None (sqlite, redis, ...)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    return _DIALECTS.get(scheme.split("+", 1)[0])


def parse_url(url: str) -> URL:
    """The URL with tshoot's driver for its dialect; raises UrlError naming the problem."""
    dialect = dialect_of_scheme(url)
    if dialect is None:
        scheme = url.split("://", 1)[0] if "://" in url else ""
        raise UrlError(
            f"unsupported scheme '{scheme}': use postgresql://, postgres://, mysql:// or mariadb://"
            if scheme
            else "not a URL: expected scheme://user:password@host:port/database"
        )
    import sqlalchemy as sa
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = sa.make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise UrlError(f"cannot parse the URL: {redact_text(str(exc))}") from exc
    parsed = parsed.set(drivername=DRIVERS[dialect])
    if dialect == "mysql":
        parsed = parsed.set(query={k: v for k, v in parsed.query.items() if k in _PYMYSQL_QUERY_KEYS})
    return parsed


def dialect_of(url: URL) -> str:
    return "postgresql" if url.get_backend_name() == "postgresql" else "mysql"


def open_connection(url: URL, timeout: float) -> Connection:
    """One autocommit connection with short server-side timeouts, so tshoot never holds a transaction or a lock."""
    dialect = dialect_of(url)
    if dialect == "postgresql":
        ours = (
            f"-c statement_timeout={int(STATEMENT_TIMEOUT_S * 1000)} -c lock_timeout={int(LOCK_TIMEOUT_S * 1000)}"
            " -c idle_in_transaction_session_timeout=10000"
        )
        connect_args = {
            "connect_timeout": max(2, math.ceil(timeout)),  # libpq's minimum is 2 s
            "application_name": APPLICATION_NAME,
            "options": f"{url.query.get('options', '')} {ours}".strip(),
            "tcp_user_timeout": int(timeout * 1000),  # a server that vanishes mid-query fails this poll, not forever
        }
    else:
        connect_args = {
            "connect_timeout": timeout,
            "read_timeout": timeout,
            "write_timeout": timeout,
            "program_name": APPLICATION_NAME,
        }
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    engine = sa.create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT", connect_args=connect_args)
    connection = engine.connect()
    if dialect == "mysql":
        _limit_mysql_session(connection)
    return connection


def _limit_mysql_session(connection: Connection) -> None:
    """MariaDB and MySQL name the statement time limit differently; lock waits are bounded the same way."""
    is_mariadb = "mariadb" in str(connection.exec_driver_sql("SELECT VERSION()").scalar()).lower()
    limit = (
        f"max_statement_time = {STATEMENT_TIMEOUT_S}"
        if is_mariadb
        else f"max_execution_time = {int(STATEMENT_TIMEOUT_S * 1000)}"
    )
    lock = max(1, int(LOCK_TIMEOUT_S))
    connection.exec_driver_sql(f"SET SESSION {limit}, innodb_lock_wait_timeout = {lock}, lock_wait_timeout = {lock}")


def describe_error(exc: BaseException) -> str:
    """The driver's own message on one line, secrets masked, without SQLAlchemy's boilerplate."""
    original = getattr(exc, "orig", None) or exc
    args = getattr(original, "args", ())
    if len(args) == 2 and isinstance(args[0], int):  # PyMySQL: (code, message)
        text = f"{args[1]} (error {args[0]})"
    else:
        text = str(original) or type(original).__name__
    # MySQL's "(using password: YES)" says whether one was sent, not what it is: keep it readable, not masked.
    text = re.sub(r"\(using password: (YES|NO)\)",
                  lambda m: "(password sent)" if m[1] == "YES" else "(no password sent)", text)
    return redact_text(" ".join(line.strip() for line in text.splitlines() if line.strip()))


def error_code(exc: BaseException) -> int | None:
    """MySQL's numeric error code, when the error has one."""
    args = getattr(getattr(exc, "orig", None) or exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


_EXPLAINABLE = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|REPLACE|WITH|VALUES|TABLE|MERGE)\b", re.IGNORECASE)


def explainable_statement(query: str) -> str:
    """One plannable statement, or ValueError saying why not (utility commands, several statements, none)."""
    statement = query.strip().rstrip(";").strip()
    if not statement:
        raise ValueError("the session has no query to explain")
    if ";" in statement:
        raise ValueError("the query text holds several statements: EXPLAIN only plans one")
    if not _EXPLAINABLE.match(statement):
        first = statement.split(None, 1)[0].upper()
        raise ValueError(f"{first} statements have no plan: EXPLAIN works on SELECT, INSERT, UPDATE, DELETE")
    return statement
