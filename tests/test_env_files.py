"""Env files, config files and requirements files: real files in every syntax, and every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.env.envfile import load_env_file
from tui.env.flatten import flatten, load_config_file
from tui.env.runtime import load_requirements
from tui.env.side import CONFIG, ENV, PACKAGES, SideError
from tui.env.sides import load_side
from tui.safefile import ENV_FILE_LIMIT, MB

DATA = Path(__file__).parent / "data" / "env"


def test_env_file_every_syntax_case():
    side = load_env_file(str(DATA / "syntax.env"))
    values = side.domains[ENV]
    assert values["PLAIN"] == "plain-value"
    assert values["EXPORTED"] == "exported-value"
    assert values["SINGLE"] == "single quoted # not a comment"
    assert values["DOUBLE"] == 'double "quoted" with\ttab'
    assert values["INLINE_COMMENT"] == "value"
    assert values["INDENTED"] == "spaced"
    assert values["EMPTY"] == "" and values["BARE_KEY"] == ""
    assert values["MULTILINE"] == "first line\nsecond line"
    assert values["EXPANDED"] == "plain-value-and-fallback"
    assert values["LAST"] == "after-the-errors"  # the rest still parsed after the malformed lines
    assert not any(key.startswith("#") or " " in key for key in values)


def test_malformed_lines_reported_by_number_without_their_content():
    side = load_env_file(str(DATA / "syntax.env"))
    assert [p.split(":")[0] for p in side.problems] == ["line 15", "line 16"]
    assert not any("never closed" in p or "not a binding" in p for p in side.problems)


def test_non_utf8_bytes_reported_and_the_rest_loaded(tmp_path):
    env = tmp_path / "latin1.env"
    env.write_bytes(b"GOOD=yes\nNAME=caf\xe9\nAFTER=1\n")
    side = load_side(str(env))
    assert side.domains[ENV]["GOOD"] == "yes" and side.domains[ENV]["AFTER"] == "1"
    assert side.problems == ["line 2: bytes that are not UTF-8 (0xe9 at column 9)"]


def test_ten_megabyte_file_refused_with_a_clear_message(tmp_path):
    big = tmp_path / "huge.env"
    big.write_bytes(b"K=" + b"x" * (10 * 1024 * 1024) + b"\n")
    with pytest.raises(SideError, match=rf"huge.env: 10.0 MB, larger than the {ENV_FILE_LIMIT // MB} MB"):
        load_side(str(big))


@pytest.mark.parametrize("spec, message", [
    ("/nonexistent/x.env", "no such file"),
    ("bogus:thing", "unknown kind of side 'bogus:'"),
    ("postgres://u:pw-in-url@h/db", "for a database write db:postgres://u:••••••@h/db"),
    ("pid:abc", "pid:abc: not a process id: not a whole number: 'abc'"),
    ("", "empty side"),
])
def test_bad_specs_name_the_side_and_the_problem(spec, message):
    with pytest.raises(SideError) as raised:
        load_side(spec)
    assert message in str(raised.value)
    assert "pw-in-url" not in str(raised.value)


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(SideError, match="is a directory"):
        load_side(f"env:{tmp_path}")


def test_config_files_flatten_to_the_same_dotted_keys():
    yaml_side = load_side(str(DATA / "app.yaml"))
    toml_side = load_side(str(DATA / "app.toml"))
    ini_side = load_config_file(str(DATA / "app.ini"))
    assert yaml_side.kind == "config" and toml_side.kind == "config"
    yaml_keys = yaml_side.domains[CONFIG]
    assert yaml_keys["server.port"] == "8080" and yaml_keys["server.debug"] == "false"
    assert yaml_keys["features[1]"] == "export" and yaml_keys["empty"] == "{}" and yaml_keys["nothing"] == "null"
    assert toml_side.domains[CONFIG]["server.port"] == "8081" and toml_side.domains[CONFIG]["server.debug"] == "false"
    assert ini_side.domains[CONFIG]["server.port"] == "8080"


def test_json_config_that_is_not_a_snapshot_is_flattened(tmp_path):
    config = tmp_path / "settings.json"
    config.write_text('{"a": {"b": [1, true]}}')
    assert load_side(str(config)).domains[CONFIG] == {"a.b[0]": "1", "a.b[1]": "true"}
    with pytest.raises(SideError, match="not a tshoot snapshot"):
        load_side(f"snapshot:{config}")


@pytest.mark.parametrize("name, text, message", [
    ("bad.yaml", "a: 1\n b: 2\n", "invalid YAML at line 2"),
    ("bad.json", '{"a": 1,\n}', "invalid JSON at line 2"),
    ("bad.toml", "a = \n", "invalid TOML"),
    ("bad.ini", "password = hunter2-in-ini\n", "line 1: a key before any [section]"),
])
def test_invalid_config_files_say_where(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(SideError) as raised:
        load_side(str(path))
    assert message in str(raised.value) and "hunter2" not in str(raised.value)


def test_flatten_keeps_list_positions():
    assert flatten({"s": [{"h": "a"}, {"h": "b"}]}) == {"s[0].h": "a", "s[1].h": "b"}


def test_requirements_pins_ranges_and_bad_lines():
    side = load_requirements(str(DATA / "requirements.txt"), "requirements.txt")
    packages = side.domains[PACKAGES]
    assert packages == {"pyyaml": "6.0.4", "packaging": ">=20", "not-installed-anywhere": "1.0", "dacite": "<1.0"}
    assert side.problems == ["line 7: not a requirement; skipped"]


def test_lock_file_packages(tmp_path):
    lock = tmp_path / "uv.lock"
    lock.write_text('version = 1\n[[package]]\nname = "Foo_Bar"\nversion = "2.0"\n')
    assert load_side(str(lock)).domains[PACKAGES] == {"foo-bar": "2.0"}


@pytest.mark.parametrize("content", [bytes(range(256)) * 64, b"root:$6$salt$hash:19000:0:99999:7:::\nbin:*:19000::::::\n"],
                         ids=["binary", "shadow-like"])
def test_a_file_that_is_not_an_env_file_is_refused_not_read_as_garbage_keys(tmp_path, content):
    from tui.env.envfile import load_env_file
    from tui.env.side import SideError

    path = tmp_path / "not.env"
    path.write_bytes(content)
    with pytest.raises(SideError, match="not an env file"):
        load_env_file(str(path))
