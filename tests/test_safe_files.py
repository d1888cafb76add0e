"""Files that must not crash or hang tshoot, and files tshoot writes (tui/safefile.py).

Every file a user names — a replay, an env-diff side, `--config`, `guide --log`, `--token-file` — may be a
FIFO, a device, a folder, huge, nested beyond the parser's stack or a YAML alias bomb: the real CLI exits 2
at once with a message naming the file. A crafted snapshot is refused naming the field, or shows without
crashing a pane. Snapshots are written through an unpredictable temporary file, owner-only, never through
a link.
"""

from __future__ import annotations

import asyncio
import copy
import importlib
import json
import os
import resource
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui.actions import ActionRecord
from tui.databases.targets import rails_database_urls
from tui.safefile import (CONFIG_LIMIT, ENV_FILE_LIMIT, MAX_DEPTH, SNAPSHOT_LIMIT, TOKEN_LIMIT, FileRefused,
                          parse_json, parse_toml, parse_yaml, read_bytes, write_atomic)
from tui.snapshot import SnapshotError, build_snapshot, load_snapshot, write_snapshot

ROOT = Path(__file__).resolve().parent.parent
TSHOOT = [sys.executable, "-m", "tui.cli"]
PROMPTLY_S = 30  # generous on a loaded 2-core machine; a hang is forever
BOMB = "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + "".join(  # 9**9 strings once expanded: ~280 bytes
    f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]\n" for prev, name in zip("abcdefgh", "bcdefghi"))


def tshoot(*args: str, cwd: Path, memory_mb: int | None = None) -> subprocess.CompletedProcess:
    def limit_memory() -> None:  # a regression must fail the test, not take the machine down
        if memory_mb:
            resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 2**20, memory_mb * 2**20))

    return subprocess.run([*TSHOOT, *args], cwd=cwd, capture_output=True, text=True, timeout=PROMPTLY_S,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, preexec_fn=limit_memory)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A folder with a FIFO, a good env file and a good config next to each other."""
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "ok.env").write_text("A=1\n")
    return tmp_path


# Every place a user names a file, with {bad} where the bad file goes.
ENTRY_POINTS = {
    "replay": ["replay", "{bad}"],
    "env-diff side": ["env-diff", "{bad}", "ok.env"],
    "env-diff config side": ["env-diff", "ok.env", "config:{bad}"],
    "env-diff snapshot side": ["env-diff", "snapshot:{bad}", "ok.env"],
    "env-diff requirements side": ["env-diff", "requirements:{bad}", "ok.env"],
    "--config": ["doctor", "--config", "{bad}", "--observe", "0"],
    "guide --log": ["guide", "http-500", "--log", "{bad}", "--observe", "0"],
    "guide --token-file": ["guide", "auth", "--token-file", "{bad}", "--observe", "0"],
}


def run_with(entry: str, bad: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    return tshoot(*(arg.replace("{bad}", bad) for arg in ENTRY_POINTS[entry]), cwd=cwd, **kwargs)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_a_fifo_is_refused_at_once_wherever_a_file_is_named(files, entry):
    result = run_with(entry, "fifo", files)
    assert result.returncode == 2, result.stderr
    assert "fifo: is a FIFO (named pipe), not a regular file" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("entry", ["replay", "env-diff side", "--config", "guide --token-file", "guide --log"])
@pytest.mark.parametrize("bad, kind", [("/dev/zero", "a character device"), ("/tmp", "a directory")])
def test_devices_and_folders_are_refused(files, entry, bad, kind):
    result = run_with(entry, bad, files, memory_mb=1024)
    assert result.returncode == 2 and f"{bad}: is {kind}, not a regular file" in result.stderr, result.stderr


@pytest.mark.parametrize("entry, name, limit", [
    ("replay", "big.json", SNAPSHOT_LIMIT), ("env-diff side", "big.env", ENV_FILE_LIMIT),
    ("--config", "big.toml", CONFIG_LIMIT), ("guide --token-file", "big.token", TOKEN_LIMIT),
])
def test_a_file_over_its_cap_is_refused_before_it_is_read(files, entry, name, limit):
    with open(files / name, "wb") as sparse:  # a sparse file: big on paper, no disk used
        sparse.truncate(limit + 1)
    result = run_with(entry, name, files, memory_mb=1024)
    assert result.returncode == 2 and "larger than the" in result.stderr and name in result.stderr, result.stderr


def test_a_file_that_grows_past_the_cap_while_read_is_refused():
    # /proc files say they are empty and then hand out more: like a file someone appends to as it is read
    with pytest.raises(FileRefused, match="grew past"):
        read_bytes("/proc/self/maps", 10)


DEEP = {
    "replay": ("deep.json", "[" * 100_000),
    "env-diff config side": ("deep.yaml", "[" * 100_000),
    "env-diff side": ("deep.json", "[" * 5_000 + "]" * 5_000),  # balanced: valid JSON, still too deep
    "--config": ("deep.toml", "a = " + "[" * 100_000),
}


@pytest.mark.parametrize("entry", DEEP)
def test_deep_nesting_is_bad_input_not_a_recursion_error(files, entry):
    name, text = DEEP[entry]
    (files / name).write_text(text)
    result = run_with(entry, name, files)
    assert result.returncode == 2 and f"nested deeper than {MAX_DEPTH} levels" in result.stderr, result.stderr
    assert "RecursionError" not in result.stderr


def test_a_yaml_alias_bomb_is_refused_quickly_in_little_memory(files):
    assert len(BOMB) < 400
    (files / "bomb.yaml").write_text(BOMB)
    started = time.monotonic()
    result = run_with("env-diff side", "bomb.yaml", files, memory_mb=1024)
    assert result.returncode == 2 and "aliases expand to more than" in result.stderr, result.stderr
    assert time.monotonic() - started < PROMPTLY_S


@pytest.mark.parametrize("parse, text, problem", [
    (parse_json, "[" * 101 + "]" * 101, "nested deeper than 100"),
    (parse_json, '{"a": "' + "[" * 500 + '"}', None),  # brackets inside a string do not count
    (parse_json, '{"a": NaN}', "NaN is not a number"),
    (parse_json, '{"a": -Infinity}', "-Infinity is not a number"),
    (parse_json, '{"a": 1e400}', "1e400 is out of range"),
    (parse_json, '{"a": ' + "9" * 5000 + "}", "invalid JSON"),
    (parse_toml, "x" + ".y" * 200 + " = 1", "nested deeper than 100"),  # dotted keys nest without brackets
    (parse_toml, "a = {b = " * 150 + "1" + "}" * 150, "nested deeper than 100"),
    (parse_toml, 'a = "[[[[[[[[" # [[[[[[[\n', None),
    (parse_yaml, "a: &a [*a]\n", "an alias refers to a node that contains it"),
    (parse_yaml, "a: 0x" + "f" * 5000, "an integer larger than 64 bits"),  # parsed, but str() of it raises
    (parse_toml, "a = 0x" + "f" * 5000, "an integer larger than 64 bits"),
    (parse_yaml, "a: " + "9" * 5000, "a value that cannot be read"),
    (parse_yaml, "a: 2001-13-45", "a value that cannot be read"),
    (parse_yaml, "default: &d {adapter: pg}\nprod:\n  <<: *d\n  db: x\n", None),  # Rails-style merges load
], ids=lambda value: value[:24] if isinstance(value, str) else None)
def test_parsers_bound_nesting_numbers_and_aliases(parse, text, problem):
    if problem is None:
        parse(text, "doc")
    else:
        with pytest.raises(FileRefused, match=problem):
            parse(text, "doc")


_DOCUMENT_ALPHABET = st.sampled_from(list('[]{}",:&*!<>-= \n\t#\'\\.0123456789eEaxnulltrue'))


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=400), st.text(_DOCUMENT_ALPHABET, max_size=400)))
def test_any_text_parses_or_is_refused_never_anything_else(text):
    for parse in (parse_json, parse_toml, parse_yaml):
        try:
            parse(text, "doc")
        except FileRefused:
            pass


def test_a_database_yml_bomb_in_an_app_folder_is_refused():
    with pytest.raises(FileRefused, match="aliases expand"):
        rails_database_urls(BOMB, "production", {})


def _in_a_thread_within(seconds: float, call):
    """call() in a daemon thread; its result, or a test failure when it is still running after `seconds`
    (a FIFO read blocks forever: the thread is left behind, the test does not hang)."""
    import threading

    box = []
    worker = threading.Thread(target=lambda: box.append(call()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert box, f"still running after {seconds} s"
    return box[0]


def test_configured_paths_read_by_the_live_panes_refuse_a_fifo(files):
    from tui.config import Config
    from tui.env.source import EnvSource
    from tui.logs.source import LogsSource
    from tui.symptoms.guides import load_guides

    fifo = str(files / "fifo")
    logs = _in_a_thread_within(10, lambda: LogsSource(Config(log_paths=[fifo]), only_named=True).collect())
    assert [s.status for s in logs.sources] == ["unreadable"] and "is a FIFO" in logs.sources[0].error  # log_paths
    section = _in_a_thread_within(30, lambda: EnvSource(Config(env_baseline=fifo)).collect())  # env_baseline
    assert any("is a FIFO" in problem for problem in section.problems)
    os.mkfifo(files / "mine.toml")  # a FIFO among the operator's guides
    book = _in_a_thread_within(10, lambda: load_guides(str(files)))
    assert any("mine.toml: is a FIFO" in problem for problem in book.problems)


@pytest.mark.parametrize("payload, problem", [
    ('{"a":' * 5_000 + "1" + "}" * 5_000, "nested deeper"),
    ('{"exp": 1e300}', "claim 'exp' is not a time"),
], ids=["deep payload", "exp beyond any date"])
def test_a_crafted_token_is_a_clear_error(payload, problem):
    import base64

    from tui.symptoms.probes import TokenError, decode_token

    def segment(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    with pytest.raises(TokenError, match=problem):
        decode_token(f"{segment('{}')}.{segment(payload)}.sig")


@pytest.mark.parametrize("output", ["[" * 100_000, '{"runtime": 5, "packages": {}}', '{"runtime": {}}'],
                         ids=["deep", "wrong shape", "incomplete"])
def test_a_program_posing_as_an_interpreter_is_bad_input(files, output):
    fake = files / "python"
    (files / "answer.json").write_text(output)
    fake.write_text(f"#!/bin/sh\ncat {files / 'answer.json'}\n")
    fake.chmod(0o755)
    result = tshoot("env-diff", f"python:{fake}", "ok.env", cwd=files)
    assert result.returncode == 2 and "is not a Python interpreter tshoot can query" in result.stderr, result.stderr


# --- crafted snapshots ---------------------------------------------------------------------------------------

PANES = ["processes", "threads", "databases", "containers", "env"]


@pytest.fixture(scope="module")
def good_snapshot(tmp_path_factory) -> dict:
    """A real snapshot document of every pane's prepared sample records (as `S` writes it)."""
    sections, findings = {}, []
    for name in PANES:
        module = importlib.import_module(f"tests.samples.{name}")
        sections[name] = module.section()
        findings += module.findings()
    action = ActionRecord("2026-11-18T11:06:40+00:00", "root", "SIGTERM", "processes", "pid 901", {"pid": 901}, "done")
    doc = build_snapshot(host="web-1", sections=sections, errors={}, findings=findings, actions=[action],
                         notes={"symptom": "checkout is slow"})
    return json.loads(json.dumps(doc, default=str))


def crafted(good: dict, change) -> dict:
    doc = copy.deepcopy(good)
    change(doc)
    return doc


def load_doc(tmp_path: Path, doc: dict | str):
    path = tmp_path / "crafted.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return load_snapshot(path)


def test_the_good_snapshot_loads_with_every_section(tmp_path, good_snapshot):
    loaded = load_doc(tmp_path, good_snapshot)
    assert all(loaded.sections[name][0] is not None for name in PANES)
    assert loaded.findings and loaded.actions[0]["verb"] == "SIGTERM" and loaded.notes


def test_a_snapshot_from_before_taken_at_still_loads_its_collection_times(tmp_path, good_snapshot):
    """The previous version wrote Threads' and Containers' section time as `collected_at`."""
    old = crafted(good_snapshot, lambda d: [d[name].update(collected_at=d[name].pop("taken_at"))
                                            for name in ("threads", "containers")])
    loaded = load_doc(tmp_path, old)
    for name in ("threads", "containers"):
        assert loaded.sections[name][0].taken_at == good_snapshot[name]["taken_at"] > 0


def test_a_snapshot_from_before_the_connection_check_was_named_so_still_shows_it(tmp_path, good_snapshot):
    """The previous version wrote a failing database target's connection check as `doctor`."""
    old = crafted(good_snapshot, lambda d: [target.update(doctor=target.pop("connection_check"))
                                            for target in d["databases"]["targets"]])
    targets = load_doc(tmp_path, old).sections["databases"][0].targets
    assert [t.connection_check.step("tcp").status for t in targets if t.connection_check] == ["fail"]


CRAFTED = {  # change -> what the error must name
    "actions is a number": (lambda d: d.update(actions=5), "'actions' should be a list"),
    "action without its fields": (lambda d: d["actions"].__setitem__(0, {"at": 1}), 'field "at" should be str'),
    "findings is an object": (lambda d: d.update(findings={}), "'findings' should be a list"),
    "finding is a string": (lambda d: d["findings"].__setitem__(0, "x"), "findings item 1"),
    "subject is a list": (lambda d: d["findings"][0].update(subject=[1]), 'field "subject" should be dict'),
    "unknown severity": (lambda d: d["findings"][0].update(severity="fatal"), 'field "severity" should be one of'),
    "finding without a title": (lambda d: d["findings"][0].pop("title"), 'missing value for field "title"'),
    "pid is a string": (lambda d: d["processes"]["rows"][0].update(pid="12"), 'field "rows.pid" should be int'),
    "pid is true": (lambda d: d["processes"]["rows"][0].update(pid=True), 'field "rows.pid": true/false'),
    "rows is an object": (lambda d: d["processes"].update(rows={}), 'field "rows" should be list'),
    "trend is null": (lambda d: d["processes"]["rows"][0].update(trend=None), 'field "rows.trend" should be Trend'),
    "load is a string": (lambda d: d["processes"]["system"].update(load="1 2 3"), 'field "system.load"'),
    "load is empty": (lambda d: d["processes"]["system"].update(load=[]), "should have 3 items"),
    "a huge number": (lambda d: d["processes"]["rows"][0].update(rss=10**30), 'field "rows.rss": a number beyond'),
    "a date past 2100": (lambda d: d["processes"]["rows"][0].update(started=1e15), '"processes.rows[0].started"'),
    "environ value not text": (lambda d: d["env"]["environ"].update(A=1), 'field "environ" should be dict[str, str]'),
    "section is a list": (lambda d: d.update(threads=[]), "section 'threads' should be an object"),
    "section error is a number": (lambda d: d.update(threads={"error": 5}), "'error' should be a string"),
    "notes not text": (lambda d: d.update(notes={"symptom": 5}), "'notes' should be an object of strings"),
    "host is a number": (lambda d: d.update(host=5), "'host' should be a string"),
    "schema is true": (lambda d: d.update(schema=True), "snapshot schema True"),
}


@pytest.mark.parametrize("case", CRAFTED)
def test_a_crafted_snapshot_is_refused_naming_the_field(tmp_path, good_snapshot, case):
    change, message = CRAFTED[case]
    with pytest.raises(SnapshotError, match="crafted.json: ") as raised:
        load_doc(tmp_path, crafted(good_snapshot, change))
    assert message in str(raised.value)


@pytest.mark.parametrize("text, message", [
    ('{"schema": 1, "processes": {"taken_at": NaN}}', "NaN is not a number"),
    ('{"schema": 1, "x": 1e999}', "out of range"),
    ("[" * 100_000, "nested deeper"),
], ids=["NaN", "1e999", "deep"])
def test_non_numbers_and_deep_nesting_in_a_snapshot_are_refused(tmp_path, text, message):
    with pytest.raises(SnapshotError, match=message):
        load_doc(tmp_path, text)


def _every_number(doc: dict, value) -> dict:
    """Every number of every section set to value(n) (n counts, so row keys stay unique); dates left alone."""
    counter = iter(range(1, 10**9))

    def walk(node, key=None):
        if isinstance(node, dict):
            return {k: walk(v, k) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, key) for v in node]
        if isinstance(node, (int, float)) and not isinstance(node, bool) and key not in (
                "taken_at", "started", "at", "last_full_sync", "recent_exits", "format"):
            return value(node, next(counter))
        return node

    return {k: walk(v) if k in PANES else v for k, v in doc.items()}


def _every_list_emptied(doc: dict) -> dict:
    def walk(node):
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        return [] if isinstance(node, list) else node

    return {k: walk(v) if k in PANES else v for k, v in doc.items()}


REPLAYED = {  # documents that must be refused, or replay through every pane without a crash
    "every list empty": _every_list_emptied,  # the load averages too: the header reads load[0]
    "a start past any calendar": lambda d: crafted(d, lambda doc: doc["processes"]["rows"][0].update(started=1e17)),
    "numbers near the bound": lambda d: _every_number(d, lambda old, n: 2**52 + n if isinstance(old, int) else 1e15 + n),
    "negative numbers": lambda d: _every_number(d, lambda old, n: -old - n),
    "dates at 2100": lambda d: crafted(d, lambda doc: doc["processes"]["rows"][0].update(started=4_102_444_800)),
    "pid as a string": lambda d: crafted(d, lambda doc: doc["processes"]["rows"][0].update(pid="901")),
}


@pytest.mark.parametrize("case", REPLAYED)
async def test_a_crafted_snapshot_that_loads_replays_without_crashing(tmp_path, good_snapshot, case):
    from tui.app import TshootApp
    from tui.config import Config

    try:
        loaded = load_doc(tmp_path, REPLAYED[case](good_snapshot))
    except SnapshotError as exc:
        assert "crafted.json" in str(exc)
        return
    app = TshootApp(Config(read_only=True), replay=loaded)
    async with app.run_test(size=(160, 50)) as pilot:  # a crash in a pane re-raises here
        for pane in [*PANES, "symptoms"]:
            app.action_show_pane(pane)
            await pilot.pause()
            for key in ["down", "down", "enter", "escape"]:
                await asyncio.wait_for(pilot.press(key), PROMPTLY_S)
        await asyncio.wait_for(pilot.press("!"), PROMPTLY_S)
        await pilot.pause()
    assert app.return_code in (None, 0)


# --- files tshoot writes -------------------------------------------------------------------------------------


def test_a_planted_link_at_the_old_temporary_name_is_not_followed(tmp_path, good_snapshot):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (tmp_path / ".out.json.tmp").symlink_to(victim)
    out = write_snapshot(good_snapshot, tmp_path / "out.json", "json")
    assert victim.read_text() == "precious\n"
    assert not out.is_symlink() and json.loads(out.read_text())["host"] == "web-1"


@pytest.mark.parametrize("fmt", ["json", "md"])
def test_a_leftover_world_readable_temporary_file_does_not_make_the_snapshot_readable(tmp_path, good_snapshot, fmt):
    leftover = tmp_path / f".perm.{fmt}.tmp"
    leftover.write_text("old")
    leftover.chmod(0o644)
    old_umask = os.umask(0)
    try:
        out = write_snapshot(good_snapshot, tmp_path / f"perm.{fmt}", fmt)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_the_temporary_name_is_unpredictable_and_nothing_is_left_behind(tmp_path, monkeypatch):
    renamed = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (renamed.append(Path(src).name), real_replace(src, dst)))
    write_atomic(tmp_path / "out.json", "1")
    write_atomic(tmp_path / "out.json", "2")
    assert len(set(renamed)) == 2 and ".out.json.tmp" not in renamed
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"] and (tmp_path / "out.json").read_text() == "2"


def test_a_destination_that_is_a_link_is_refused_and_left_alone(tmp_path, good_snapshot):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (tmp_path / "out.json").symlink_to(victim)
    with pytest.raises(FileRefused, match="is a symbolic link"):
        write_snapshot(good_snapshot, tmp_path / "out.json", "json")
    assert victim.read_text() == "precious\n" and (tmp_path / "out.json").is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json", "victim"]


def test_a_destination_that_is_a_fifo_is_refused(tmp_path):
    os.mkfifo(tmp_path / "out.json")
    with pytest.raises(FileRefused, match="is a FIFO"):
        write_atomic(tmp_path / "out.json", "x")


def test_snapshot_cli_refuses_a_linked_output_with_exit_2(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (tmp_path / "out.json").symlink_to(victim)
    result = tshoot("snapshot", "-o", "out.json", "--observe", "0", cwd=tmp_path)
    assert result.returncode == 2 and "is a symbolic link" in result.stderr, result.stderr
    assert victim.read_text() == "precious\n"


# --- files another user's process names ----------------------------------------------------------------------


@pytest.fixture
def nobodys_process():
    """A process running as nobody: its frames may name any file, as root tshoot must read only its files."""
    def drop() -> None:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)

    child = subprocess.Popen(["sleep", "120"], preexec_fn=drop)
    yield child.pid
    child.kill()
    child.wait()


@pytest.mark.parametrize("folder_mode, file_mode, shown", [
    (0o755, 0o644, True),  # the process's user could read it: its line is shown
    (0o755, 0o600, False),  # root's file: not read
    (0o700, 0o644, False),  # in root's private folder: not read
], ids=["readable", "root-only file", "root-only folder"])
def test_a_frame_shows_source_lines_only_from_files_its_user_can_read(nobodys_process, folder_mode, file_mode,
                                                                       shown):
    import tempfile

    from tui.threads.records import Frame, ThreadRecord
    from tui.threads.sampling import SourceCache

    folder = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        source = folder / "app.py"
        source.write_text("password_hash = 'root-only-line'\n")
        source.chmod(file_mode)
        folder.chmod(folder_mode)
        thread = ThreadRecord(1, 1, "MainThread", False, False, [Frame("main", str(source), 1)])
        SourceCache().annotate(nobodys_process, [thread], time.time())
        assert bool(thread.frames[0].line_text) is shown
    finally:
        folder.chmod(0o700)
        source.unlink()
        folder.rmdir()


@pytest.mark.parametrize("secret_mode, checked", [(0o644, True), (0o600, False)], ids=["readable", "root-only"])
def test_a_dotenv_link_to_roots_file_does_not_reveal_its_keys(secret_mode, checked):
    import tempfile

    from tui.config import Config
    from tui.env.source import EnvSource

    secret_folder = Path(tempfile.mkdtemp(dir="/tmp"))
    user_folder = Path(tempfile.mkdtemp(dir="/tmp"))
    secret = secret_folder / "root.env"
    secret.write_text("APP_SHARED=1\nROOT_ONLY_KEY_NAME=x\n")
    secret.chmod(secret_mode)
    secret_folder.chmod(0o755)
    user_folder.chmod(0o777)
    (user_folder / ".env").symlink_to(secret)

    def drop() -> None:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)

    child = subprocess.Popen(["sleep", "120"], cwd=user_folder, env={"APP_SHARED": "1"}, preexec_fn=drop)
    try:
        section = _in_a_thread_within(60, lambda: EnvSource(Config()).collect())
        mine = [check for check in section.process_checks if check.pid == child.pid]
        assert bool(mine) is checked
        assert ("ROOT_ONLY_KEY_NAME" in repr(section)) is checked
    finally:
        child.kill()
        child.wait()
        for path in (user_folder / ".env", secret):
            path.unlink()
        user_folder.rmdir()
        secret_folder.rmdir()


@pytest.mark.parametrize("secret_mode, found", [(0o644, True), (0o600, False)], ids=["readable", "root-only"])
def test_a_database_yml_link_to_roots_file_is_not_used(secret_mode, found):
    import tempfile

    from tui.config import Config
    from tui.databases.targets import discover_targets

    secret_folder = Path(tempfile.mkdtemp(dir="/tmp"))
    app_folder = Path(tempfile.mkdtemp(dir="/tmp"))
    secret = secret_folder / "database.yml"
    secret.write_text("production:\n  adapter: postgresql\n  host: 127.0.0.1\n  port: 6789\n  database: rootdb\n")
    secret.chmod(secret_mode)
    secret_folder.chmod(0o755)
    app_folder.chmod(0o755)
    (app_folder / "config").mkdir(mode=0o755)
    (app_folder / "config" / "database.yml").symlink_to(secret)

    def drop() -> None:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)

    child = subprocess.Popen(["sleep", "120"], cwd=app_folder, env={"RAILS_ENV": "production"}, preexec_fn=drop)
    try:
        targets, _ = discover_targets(Config(), environ={})
        assert any("rootdb" in t.info.url and t.info.origin_pid == child.pid for t in targets) is found
    finally:
        child.kill()
        child.wait()
        for path in (app_folder / "config" / "database.yml", secret):
            path.unlink()
        (app_folder / "config").rmdir()
        app_folder.rmdir()
        secret_folder.rmdir()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to own a folder nobody may search")
def test_a_symlink_cannot_skip_a_folder_the_reader_may_not_search(tmp_path):
    """nobody links /tmp/link -> /private/sub and names /tmp/link/settings.py: `cat` refuses it (no search
    permission on /private), so tshoot must too; an absolute link resolves inside the process's root."""
    from tui.safefile import Reader, read_bytes_as

    root = tmp_path / "root"
    (root / "private" / "sub").mkdir(parents=True)
    (root / "tmp").mkdir()
    root.chmod(0o755)
    tmp_path.chmod(0o755)
    (root / "private").chmod(0o700)
    (root / "private" / "sub").chmod(0o755)
    (root / "tmp").chmod(0o1777)
    secret = root / "private" / "sub" / "settings.py"
    secret.write_text('DB_PASSWORD = "hunter2"\n')
    secret.chmod(0o644)
    (root / "tmp" / "rel").symlink_to("../private/sub")
    (root / "tmp" / "abs").symlink_to("/private/sub")
    (root / "tmp" / "ok").symlink_to("../tmp")
    (root / "tmp" / "mine.py").write_text("x = 1\n")
    (root / "tmp" / "mine.py").chmod(0o644)
    nobody = Reader(65534, frozenset({65534}))
    for named in ("/tmp/rel/settings.py", "/tmp/abs/settings.py", "/private/sub/settings.py"):
        with pytest.raises(FileRefused):
            read_bytes_as(nobody, str(root), named, 1000)
    assert read_bytes_as(nobody, str(root), "/tmp/ok/mine.py", 1000) == b"x = 1\n"  # links are still followed
    assert read_bytes_as(Reader(0, frozenset({0})), str(root), "/tmp/abs/settings.py", 1000).startswith(b"DB_")
