"""Bad values on the command line and in the config file: exit 2 at once, naming the flag or `config file X: key`.

One table of bounds (tui.config SETTINGS) checks both, so each bad value is tried both ways where it can be.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path

import pytest

from tui.config import SETTINGS, THRESHOLDS, Config, ConfigError, Thresholds, load_config

ROOT = Path(__file__).resolve().parent.parent
QUICK_S = 10.0  # a refusal is immediate; the interpreter start is most of this (slow on a loaded machine)


def tshoot(*args: str, cwd: Path = ROOT) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    return done, time.monotonic() - started


def assert_refused(done: subprocess.CompletedProcess, took: float, *expected: str) -> None:
    assert done.returncode == 2, done.stderr
    for text in expected:
        assert text in done.stderr
    assert "Traceback" not in done.stderr
    assert took < QUICK_S


@pytest.mark.parametrize("args, expected", [
    (["--pid", "99999999999999999999"], ["argument --pid", "from 1 to 4194304"]),
    (["--pid", "0"], ["argument --pid", "from 1 to 4194304"]),
    (["doctor", "--pid", "-5"], ["argument --pid", "from 1 to 4194304"]),
    (["snapshot", "--observe", "inf"], ["argument --observe", "from 0 to 600 seconds"]),
    (["snapshot", "--observe", "1e400"], ["argument --observe", "from 0 to 600 seconds"]),
    (["snapshot", "--observe", "nan"], ["argument --observe", "not nan"]),
    (["snapshot", "--observe", "1e9"], ["argument --observe", "from 0 to 600 seconds"]),
    (["doctor", "--observe", "-1"], ["argument --observe", "from 0 to 600 seconds"]),
    (["guide", "hang", "--observe", "nan"], ["argument --observe", "not nan"]),
    (["guide", "hang", "--pid", "99999999999999999999"], ["argument --pid", "from 1 to 4194304"]),
    (["--interval", "0"], ["argument --interval", "from 0.1 to 3600 seconds"]),
    (["--interval", "inf"], ["argument --interval", "from 0.1 to 3600 seconds"]),
    (["env-diff", "pid:-1", "self"], ["pid:-1: not a process id"]),
    (["env-diff", "pid:99999999999999999999", "self"], ["not a process id"]),
])
def test_bad_flag_values_exit_2_naming_the_flag(args, expected):
    assert_refused(*tshoot(*args), *expected)


@pytest.mark.parametrize("command", ["snapshot", "doctor", "guide"])
@pytest.mark.parametrize("url, expected", [
    ("redis://x", "unsupported scheme 'redis'"),
    ("postgresql://app:s3cret-pw@db:99999/app", "port 99999 is not from 1 to 65535"),
    ("mysql://app@db:0/app", "port 0 is not from 1 to 65535"),
    ("postgresql://db:port/app", "cannot parse the URL"),
    ("not a url", "not a URL"),
])
def test_bad_database_urls_exit_2_naming_the_url(tmp_path, command, url, expected):
    args = [command, "hang"] if command == "guide" else [command, "--observe", "0", "-o", str(tmp_path / "s.json")]
    if command == "doctor":
        args = args[:3]
    done, took = tshoot(*args, "--db", url)
    assert_refused(done, took, "argument --db", expected)
    assert "s3cret-pw" not in done.stderr
    assert not (tmp_path / "s.json").exists()


@pytest.mark.parametrize("body, expected", [
    ("interval = 0", "'interval' is out of range: must be from 0.1 to 3600 seconds, not 0"),
    ("interval = nan", "'interval' is out of range"),
    ("interval = inf", "'interval' is out of range"),
    ("collector_timeout = 0", "'collector_timeout' is out of range"),
    ("hidden_interval_factor = 0", "'hidden_interval_factor' is out of range"),
    ("db_urls = [1, 2]", "'db_urls[0]' has the wrong type: must be a string, not 1"),
    ("db_urls = ['redis://x']", "'db_urls[0]' is not valid: 'redis://x': unsupported scheme"),
    ("db_urls = ['postgresql://u:hunter2@h:70000/d']",
     "'db_urls[0]' is not valid: 'postgresql://u:••••••@h:70000/d': port 70000 is not from 1 to 65535"),
    ("thread_samples = 1000000", "'thread_samples' is out of range: must be from 1 to 20"),
    ("thread_samples = 2.5", "'thread_samples' has the wrong type: must be a whole number"),
    ("thread_sample_interval = 1e300", "'thread_sample_interval' is out of range"),
    ("pids = [99999999]", "'pids[0]' is out of range"),
    ("pids = ['1']", "'pids[0]' has the wrong type"),
    ("env_files = 'x.env'", "'env_files' has the wrong type: must be a list"),
    ("log_paths = ['/var/log/x', 3]", "'log_paths[1]' has the wrong type"),
    ("read_only = 1", "'read_only' has the wrong type: must be true or false"),
    ("[thresholds]\ncpu_hog_percent = -1", "'thresholds.cpu_hog_percent' is out of range"),
    ("[thresholds]\nconnection_saturation_percent = 500", "'thresholds.connection_saturation_percent' is out of range"),
    ("[thresholds]\nslow_query_s = inf", "'thresholds.slow_query_s' is out of range"),
])
def test_bad_config_values_exit_2_naming_file_and_key(tmp_path, body, expected):
    config = tmp_path / "tshoot.toml"
    config.write_text(body + "\n")
    done, took = tshoot("doctor", "--observe", "0", "--config", str(config))
    assert_refused(done, took, f"config file {config}: {expected}")
    assert "hunter2" not in done.stderr


def test_every_setting_has_bounds():
    """A new config key without an entry in the table would not be checked at all."""
    config_keys = {f.name for f in fields(Config)} - {"source_file", "db_url_flags", "log_path_flags", "thresholds"}
    assert set(SETTINGS) == config_keys
    assert set(THRESHOLDS) == {f.name for f in fields(Thresholds)}


def test_the_defaults_are_within_their_own_bounds(tmp_path):
    defaults, thresholds = Config(), Thresholds()
    lines = [f"{name} = {str(getattr(defaults, name)).lower()}"
             for name, bounds in SETTINGS.items() if bounds.kind in (int, float, bool)]
    lines += ["[thresholds]"] + [f"{name} = {getattr(thresholds, name)}" for name in THRESHOLDS]
    (tmp_path / "c.toml").write_text("\n".join(lines) + "\n")
    loaded = load_config(str(tmp_path / "c.toml"))
    assert loaded.interval == defaults.interval and loaded.thresholds == thresholds


def test_good_values_at_the_bounds_are_kept(tmp_path):
    (tmp_path / "c.toml").write_text(
        "interval = 0.1\nthread_samples = 20\npids = [4194304]\ncollector_timeout = 600\n"
        "db_urls = ['postgresql://u:p@h:65535/d', 'mariadb://u@h/d']\n")
    config = load_config(str(tmp_path / "c.toml"))
    assert (config.interval, config.thread_samples, config.pids) == (0.1, 20, [4194304])
    assert config.collector_timeout == 600.0
    assert isinstance(config.collector_timeout, float)


def test_a_refused_value_is_refused_by_the_loader_itself(tmp_path):
    (tmp_path / "c.toml").write_text("interval = 0\n")
    with pytest.raises(ConfigError, match=r"c\.toml: 'interval' is out of range"):
        load_config(str(tmp_path / "c.toml"))
