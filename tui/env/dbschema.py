"""A database as comparable keys: its schema (SQLAlchemy's inspector) and the server settings that differ
between a database that works and one that doesn't (version, max_connections, timeouts, encodings).

Keys look like `table.orders.column.customer_id = INTEGER NOT NULL`, `table.orders.index.ix_orders_customer
= (customer_id)`, `setting.max_connections = 100`, so a missing index or column in prod is one row.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy
from sqlalchemy import text
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from tui.databases.conncheck import diagnose, login_refused
from tui.databases.logins import REFUSED_LOGINS
from tui.env.side import DATABASE, Side, SideError
from tui.redact import mask_url, redact_text

CONNECT_TIMEOUT_S = 5
STATEMENT_TIMEOUT_MS = 10_000
_PG_SETTINGS = ("max_connections", "statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout",
                "idle_session_timeout", "server_encoding", "client_encoding", "lc_collate", "TimeZone",
                "shared_buffers", "work_mem", "default_transaction_isolation")
_MYSQL_SETTINGS = ("max_connections", "wait_timeout", "interactive_timeout", "lock_wait_timeout",
                   "innodb_lock_wait_timeout", "max_statement_time", "character_set_server", "collation_server",
                   "time_zone", "sql_mode", "max_allowed_packet", "transaction_isolation", "tx_isolation")


def load_database(url: str, spec: str) -> Side:
    label = mask_url(url)
    try:
        parsed = sqlalchemy.engine.make_url(url)
        engine = sqlalchemy.create_engine(parsed, poolclass=sqlalchemy.pool.NullPool,
                                          connect_args=_connect_args(parsed))
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise SideError(f"db:{label}: not a database URL SQLAlchemy understands ({redact_text(str(exc))})") from None
    except ImportError as exc:
        raise SideError(f"db:{label}: the driver is not installed ({exc.name})") from None
    refused = REFUSED_LOGINS.refused(url)
    if refused is not None:  # an Env pane re-reads its sides on every poll: a refused login is not sprayed
        auth = refused.step("auth")
        raise SideError(f"db:{label}: not logged in again: the server refused this login "
                        f"({auth.detail if auth else 'login failed'}); fix the credentials and reload")
    try:
        connection = engine.connect()
    except SQLAlchemyError as exc:
        report = diagnose(url, CONNECT_TIMEOUT_S, login_error=exc)
        if login_refused(report):
            REFUSED_LOGINS.remember(url, report)
        engine.dispose()
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise SideError(f"db:{label}: cannot read the database ({redact_text(reason)})") from None
    try:
        with connection:
            values = _settings(connection) | _schema(sqlalchemy.inspect(connection))
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise SideError(f"db:{label}: cannot read the database ({redact_text(reason)})") from None
    finally:
        engine.dispose()
    return Side(spec, "db", label, {DATABASE: values})


def _connect_args(url: sqlalchemy.engine.URL) -> dict[str, Any]:
    """Bound the connect (and, for MariaDB, each read)."""
    backend = url.get_backend_name()
    if backend == "postgresql":
        return {"connect_timeout": CONNECT_TIMEOUT_S}
    if backend in ("mysql", "mariadb"):
        return {"connect_timeout": CONNECT_TIMEOUT_S, "read_timeout": STATEMENT_TIMEOUT_MS // 1000}
    return {}


def _settings(connection) -> dict[str, str]:
    dialect = connection.dialect.name
    if dialect == "postgresql":
        # Our own timeout, so a locked catalog cannot hang us; reset_val reports the session default, not it.
        connection.execute(text(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}"))
        rows = connection.execute(text("SELECT name, reset_val, unit FROM pg_settings WHERE name = ANY(:names)"),
                                  {"names": list(_PG_SETTINGS)})
        values = {f"setting.{name}": f"{setting}{_pg_unit(unit)}" for name, setting, unit in rows}
        values["setting.version"] = connection.execute(text("SHOW server_version")).scalar_one()
        return values
    if dialect in ("mysql", "mariadb"):
        rows = connection.execute(text("SHOW VARIABLES WHERE Variable_name IN :names").bindparams(
            sqlalchemy.bindparam("names", expanding=True)), {"names": list(_MYSQL_SETTINGS)})
        values = {f"setting.{name}": str(value) for name, value in rows}
        values["setting.version"] = connection.execute(text("SELECT VERSION()")).scalar_one()
        return values
    return {"setting.version": ".".join(map(str, connection.dialect.server_version_info or ()))}


def _pg_unit(unit: str | None) -> str:
    return f" ({unit})" if unit else ""


def _schema(inspector) -> dict[str, str]:
    values: dict[str, str] = {}
    for table in inspector.get_table_names():
        prefix = f"table.{table}"
        values[prefix] = "table"
        for column in inspector.get_columns(table):
            nullable = "NULL" if column.get("nullable", True) else "NOT NULL"
            default = f" DEFAULT {column['default']}" if column.get("default") is not None else ""
            values[f"{prefix}.column.{column['name']}"] = f"{column['type']} {nullable}{default}"
        for index in inspector.get_indexes(table):
            unique = " unique" if index.get("unique") else ""
            values[f"{prefix}.index.{index['name']}"] = f"({', '.join(map(str, index['column_names']))}){unique}"
        primary = inspector.get_pk_constraint(table)
        if primary.get("constrained_columns"):
            values[f"{prefix}.primary_key"] = f"({', '.join(primary['constrained_columns'])})"
        for key in inspector.get_foreign_keys(table):
            values[f"{prefix}.foreign_key.{key.get('name') or '+'.join(key['constrained_columns'])}"] = (
                f"({', '.join(key['constrained_columns'])}) -> {key['referred_table']}"
                f"({', '.join(key['referred_columns'])})"
            )
        for unique in inspector.get_unique_constraints(table):
            values[f"{prefix}.unique.{unique['name']}"] = f"({', '.join(unique['column_names'])})"
        for check in _check_constraints(inspector, table):
            values[f"{prefix}.check.{check['name']}"] = str(check.get("sqltext", ""))
    return values


def _check_constraints(inspector, table: str) -> list[dict[str, Any]]:
    try:
        return inspector.get_check_constraints(table)
    except NotImplementedError:  # dialects without check-constraint reflection
        return []
