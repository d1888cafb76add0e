"""The diff itself: statuses, order, secrets, URL components, package ranges."""

from __future__ import annotations

import pytest

from tui.env.diff import CHANGED, HIDDEN, ONLY_LEFT, ONLY_RIGHT, SAME, diff_sides, url_components
from tui.env.side import CONFIG, DATABASE, ENV, PACKAGES, Side, SideError
from tui.redact import MASK


def env_side(values: dict[str, str], live: bool = True, label: str = "side") -> Side:
    return Side(label, "env-file", label, {ENV: values}, live=live)


def statuses(diff) -> dict[str, str]:
    return {row.key: row.status for row in diff.rows}


def test_every_status_and_what_matters_first():
    diff = diff_sides(env_side({"A": "1", "B": "x", "PWD": "/a", "GONE": "1"}),
                      env_side({"A": "1", "B": "y", "PWD": "/b", "NEW": "2"}))
    assert statuses(diff) == {"A": SAME, "B": CHANGED, "PWD": CHANGED, "GONE": ONLY_LEFT, "NEW": ONLY_RIGHT}
    assert [row.key for row in diff.rows] == ["B", "PWD", "GONE", "NEW", "A"]  # session keys after app keys
    assert diff.differs and diff.counts()[CHANGED] == 2


def test_identical_sides_do_not_differ():
    diff = diff_sides(env_side({"A": "1"}), env_side({"A": "1"}))
    assert not diff.differs and statuses(diff) == {"A": SAME}


def test_secrets_compared_by_equality_never_shown():
    diff = diff_sides(env_side({"API_TOKEN": "left-tok", "DB_PASSWORD": "same-pw", "EMPTY_SECRET": ""}),
                      env_side({"API_TOKEN": "right-tok", "DB_PASSWORD": "same-pw", "EMPTY_SECRET": "now-set"}))
    rows = {row.key: row for row in diff.rows}
    assert rows["API_TOKEN"].status == CHANGED and rows["DB_PASSWORD"].status == SAME
    assert rows["EMPTY_SECRET"].status == CHANGED
    assert {rows["API_TOKEN"].left, rows["API_TOKEN"].right, rows["DB_PASSWORD"].left} == {MASK}
    assert "tok" not in repr(diff) and "same-pw" not in repr(diff)


def test_secrets_from_a_snapshot_are_hidden_not_same():
    snapshot = env_side({"API_TOKEN": MASK, "EMPTY_TOKEN": ""}, live=False)
    diff = diff_sides(snapshot, env_side({"API_TOKEN": "real", "EMPTY_TOKEN": "set"}))
    assert statuses(diff) == {"API_TOKEN": HIDDEN, "EMPTY_TOKEN": CHANGED}
    assert diff.differs  # the empty-vs-set secret is a real difference; hidden alone would not be


def test_url_compared_by_component_with_default_port_explicit():
    diff = diff_sides(env_side({"DATABASE_URL": "postgresql://app:pw1@db1.internal/app",
                                "CACHE_URL": "redis://cache:6379/0",
                                "SAME_URL": "postgresql://app:pw@db/app?sslmode=require&a=1"}),
                      env_side({"DATABASE_URL": "postgresql://app:pw2@db2.internal:6432/app",
                                "CACHE_URL": "redis://cache/0",
                                "SAME_URL": "postgresql://app:pw@db:5432/app?a=1&sslmode=require"}))
    rows = {row.key: row for row in diff.rows}
    database = rows["DATABASE_URL"]
    assert database.status == CHANGED
    assert "host: db1.internal → db2.internal" in database.detail
    assert "port: 5432 (default) → 6432" in database.detail
    assert "password differs" in database.detail
    assert database.left == f"postgresql://app:{MASK}@db1.internal/app"
    assert rows["CACHE_URL"].status == SAME and "port: 6379 = 6379 (default)" in rows["CACHE_URL"].detail
    assert rows["SAME_URL"].status == SAME
    assert "pw1" not in repr(diff) and "pw2" not in repr(diff)


def test_url_password_from_a_snapshot_is_not_compared():
    diff = diff_sides(env_side({"DATABASE_URL": f"postgresql://app:{MASK}@db/app"}, live=False),
                      env_side({"DATABASE_URL": "postgresql://app:real@db/app"}))
    row = diff.rows[0]
    assert row.status == SAME and "password not compared" in row.detail


def test_url_components_rejects_non_urls():
    assert url_components("/usr/bin:/bin") is None
    assert url_components("file:///tmp/x") is None
    assert url_components("http://host:notaport/") is None
    assert url_components("mysql+pymysql://u@h/db")["port"] == "3306 (default)"


def test_value_differing_only_in_a_masked_part_is_flagged():
    diff = diff_sides(env_side({"OPTS": "--password=one -v"}), env_side({"OPTS": "--password=two -v"}))
    row = diff.rows[0]
    assert row.status == CHANGED and row.left == row.right and row.detail == "differs in a masked part"


def test_secret_looking_keys_are_not_secret_outside_env_and_config():
    db = Side("db", "db", "db", {DATABASE: {"table.users.column.password": "VARCHAR(64) NOT NULL"}})
    other = Side("db2", "db", "db2", {DATABASE: {"table.users.column.password": "TEXT NULL"}})
    row = diff_sides(db, other).rows[0]
    assert (row.left, row.right, row.secret) == ("VARCHAR(64) NOT NULL", "TEXT NULL", False)
    config = Side("c", "config", "c", {CONFIG: {"database.password": "p1"}})
    assert diff_sides(config, Side("d", "config", "d", {CONFIG: {"database.password": "p2"}})).rows[0].right == MASK


def test_packages_against_ranges_and_pins():
    installed = Side("py", "python", "py", {PACKAGES: {"a": "1.5", "b": "2.0", "c": "1.0", "extra": "1"}})
    wanted = Side("req", "requirements", "req", {PACKAGES: {"a": ">=1.0", "b": "<2", "c": "1.0.0", "missing": "3"}})
    diff = diff_sides(installed, wanted)
    assert statuses(diff) == {"package.a": SAME, "package.b": CHANGED, "package.c": SAME,
                              "package.extra": ONLY_LEFT, "package.missing": ONLY_RIGHT}
    assert {row.key: row.detail for row in diff.rows}["package.b"] == "2.0 does not satisfy <2"


def test_sides_with_nothing_in_common_are_bad_input():
    with pytest.raises(SideError, match="no kind of key in common"):
        diff_sides(env_side({"A": "1"}), Side("db", "db", "db", {DATABASE: {}}))
