import pytest

from tui.config import ConfigError, load_config


def test_missing_explicit_config_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match="nope.toml: no such file"):
        load_config(str(tmp_path / "nope.toml"))


def test_default_config_may_be_absent(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert load_config().interval == 2.0


def test_values_and_thresholds_are_read(tmp_path):
    file = tmp_path / "c.toml"
    file.write_text('interval = 1\ndb_urls = ["postgresql://a@h/db"]\n[thresholds]\ncpu_hog_percent = 50\n')
    config = load_config(str(file))
    assert config.interval == 1.0 and config.db_urls == ["postgresql://a@h/db"]
    assert config.thresholds.cpu_hog_percent == 50.0 and config.source_file == str(file)


@pytest.mark.parametrize(
    "body, message",
    [("interval = ", "invalid TOML"), ("intervl = 2", "unknown key 'intervl'"), ("interval = 'fast'", "'interval' has the wrong type"),
     ("[thresholds]\nnope = 1", "unknown key 'thresholds.nope'")],
)
def test_invalid_config_is_a_clear_error(tmp_path, body, message):
    file = tmp_path / "bad.toml"
    file.write_text(body)
    with pytest.raises(ConfigError, match=message):
        load_config(str(file))


def test_discovery_logins_can_be_turned_off_and_only_with_a_boolean(tmp_path):
    file = tmp_path / "c.toml"
    file.write_text("interval = 1\n")
    assert load_config(str(file)).discover_db_logins is True  # the default (the README says why)
    file.write_text("discover_db_logins = false\n")
    assert load_config(str(file)).discover_db_logins is False
    file.write_text("discover_db_logins = 'no'\n")
    with pytest.raises(ConfigError, match="'discover_db_logins' has the wrong type"):
        load_config(str(file))
