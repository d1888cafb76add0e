"""Finding log files by themselves (a real child process holding one open for append) and by name (`--log`,
`log_paths`), and the `--log` flag reaching Config.log_paths on every command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from children import READY, python_child
from tui.cli import _config, build_parser
from tui.config import Config
from tui.logs.discover import discover, named_files, written_files
from tui.logs.readers import FileReader
from tui.symptoms.runner import GuideOptions, effective_config

ROOT = Path(__file__).resolve().parent.parent
HOLD_OPEN = f"""
import sys, time
files = [open(sys.argv[1], "a"), open(sys.argv[2], "r"), open(sys.argv[3], "w")]
{READY}
sys.stdin.read()
"""


def test_a_log_file_a_process_holds_open_for_append_is_found(tmp_path):
    appended, only_read, not_a_log = tmp_path / "app.log", tmp_path / "other.log", tmp_path / "data.txt"
    only_read.write_text("x\n")
    child = python_child(HOLD_OPEN, str(appended), str(only_read), str(not_a_log), stdin=subprocess.PIPE)
    try:
        found = {c.path: c for c in written_files()}
        everything = {c.path: c for c in discover(Config())}
    finally:
        child.stdin.close()
        child.wait(timeout=10)
    assert found[str(appended)].found_by == f"open by pid {child.pid} ({Path(sys.executable).name[:15]})"
    assert found[str(appended)].name == f"file:{appended}"
    assert str(only_read) not in found and str(not_a_log) not in found  # read-only, or not named like a log
    assert str(appended) in everything


def test_named_files_come_first_and_say_how_they_were_named(tmp_path):
    flagged, configured = str(tmp_path / "flag.log"), str(tmp_path / "conf.log")
    config = Config(log_paths=[configured, flagged], log_path_flags=[flagged])
    assert [(c.path, c.found_by) for c in named_files(config)] == [(configured, "config"), (flagged, "--log")]
    assert [c.path for c in discover(config)[:2]] == [configured, flagged]


def test_the_same_file_found_twice_is_followed_once(tmp_path):
    path = tmp_path / "app.log"
    path.write_text("")
    link = tmp_path / "link.log"
    link.symlink_to(path)
    config = Config(log_paths=[str(path), str(link)])
    assert [c.path for c in discover(config) if c.path in (str(path), str(link))] == [str(path)]


def test_the_log_flag_reaches_the_config_of_every_command(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("")
    parser = build_parser()
    for argv in (["--log", str(log)], ["snapshot", "--log", str(log)], ["doctor", "--log", str(log), "--log", "/x.log"]):
        config = _config(parser.parse_args(argv))
        assert config.log_paths[0] == str(log) and config.log_path_flags[0] == str(log)
    guided = effective_config(Config(log_paths=["/conf.log"]), GuideOptions(logs=[str(log)]))
    assert (guided.log_paths, guided.log_path_flags) == (["/conf.log", str(log)], [str(log)])


def test_a_log_flag_naming_a_folder_is_bad_input(tmp_path):
    done = subprocess.run([sys.executable, "-m", "tui.cli", "doctor", "--observe", "0", "--log", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and f"--log {tmp_path}: is a directory" in done.stderr


@pytest.fixture
def open_dir():
    """A folder other users can walk into (pytest's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="tshoot-swap-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_found_log_swapped_for_a_link_to_a_root_only_file_is_not_read(open_dir):
    tmp_path = open_dir
    """A user's process writes app.log; the user replaces it with a link to a file only root may read. tshoot
    (root) reopens the path after the "rotation" only with that writer's rights, so the secret never shows."""
    import pwd

    nobody = pwd.getpwnam("nobody")
    folder = tmp_path / "app"
    folder.mkdir()
    os.chown(folder, nobody.pw_uid, nobody.pw_gid)
    secret = tmp_path / "rootonly"
    secret.write_text("root-only-content line1\n")
    os.chmod(secret, 0o600)
    log = folder / "app.log"
    writer = subprocess.Popen(["runuser", "-u", "nobody", "--", "sh", "-c",
                               f"exec 3>>{log}; echo hello >&3; echo ready; exec sleep 60"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "ready"
        [candidate] = [c for c in written_files() if c.path == str(log)]
        assert candidate.reader is not None and candidate.reader.uid == nobody.pw_uid
        reader = FileReader(candidate.path, candidate.found_by, candidate.name, candidate.reader, candidate.root,
                            candidate.inner)
        try:
            assert "hello" in [line.text for line in reader.read()]
            subprocess.run(["runuser", "-u", "nobody", "--", "sh", "-c", f"rm {log} && ln -s {secret} {log}"],
                           check=True)
            texts = [line.text for line in reader.read() + reader.read()]
            [followed] = reader.sources()
        finally:
            reader.close()
        assert not any("root-only-content" in text for text in texts)
        assert followed.status == "unreadable" and "not readable by uid" in followed.error
    finally:
        writer.kill()
        writer.wait()
