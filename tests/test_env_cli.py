"""`tshoot env-diff` end to end: the real CLI in a subprocess, two real snapshots written by `tshoot snapshot`
on "two hosts" (two environments), exit codes, and no secret in any byte of the output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data" / "env"
SECRETS = [b"tok-SECRET-left-42", b"url-pw-left", b"dev-token-111", b"prod-token-222", b"dev-db-pw", b"prod-db-pw"]


def tshoot(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, timeout=120,
                          cwd=cwd or ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def assert_no_secret(*outputs: bytes) -> None:
    for output in outputs:
        for secret in SECRETS:
            assert secret not in output


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory):
    """Two snapshots of two environments, each written by the real `tshoot snapshot`."""
    folder = tmp_path_factory.mktemp("snapshots")
    paths = {}
    for name, mode, token, host in (("dev", "debug", "dev-token-111", "db-dev"), ("prod", "strict", "prod-token-222", "db-prod")):
        env = {"APP_MODE": mode, "API_TOKEN": token, "DATABASE_URL": f"postgresql://app:{name}-db-pw@{host}/app",
               "XDG_CONFIG_HOME": str(folder / "no-config")}
        done = tshoot("snapshot", "--observe", "0", "-o", str(folder / f"{name}.json"), env=env)
        assert done.returncode == 0, done.stderr
        paths[name] = folder / f"{name}.json"
    return paths


def test_snapshot_files_hold_no_secret(snapshots):
    assert_no_secret(*(path.read_bytes() for path in snapshots.values()))
    env = json.loads(snapshots["dev"].read_text())["env"]
    assert env["environ"]["APP_MODE"] == "debug" and env["runtime"]["python.implementation"] == "CPython"


def test_two_snapshots_json(snapshots):
    done = tshoot("env-diff", str(snapshots["dev"]), str(snapshots["prod"]), "--json")
    assert done.returncode == 1, done.stderr
    assert_no_secret(done.stdout, done.stderr)
    document = json.loads(done.stdout)
    assert set(document) >= {"left", "right", "keys"} and "snapshot of" in document["left"]
    keys = {row["key"]: row for row in document["keys"]}
    assert keys["APP_MODE"] == {"key": "APP_MODE", "status": "changed", "left": "debug", "right": "strict"}
    assert keys["API_TOKEN"]["status"] == "hidden"  # masked at the source: present on both, equality unknown
    assert keys["DATABASE_URL"]["status"] == "changed" and "host: db-dev → db-prod" in keys["DATABASE_URL"]["detail"]
    assert keys["python.version"]["status"] == "same"


def test_snapshot_against_itself_is_the_same(snapshots):
    done = tshoot("env-diff", str(snapshots["dev"]), str(snapshots["dev"]))
    assert done.returncode == 0 and b"no differences" in done.stdout


def test_env_files_table_hides_same_unless_all():
    left, right = str(DATA / "syntax.env"), str(DATA / "syntax.env")
    done = tshoot("env-diff", left, right)
    assert done.returncode == 0 and b"PLAIN" not in done.stdout and b"same not listed" in done.stdout
    everything = tshoot("env-diff", left, right, "--all")
    assert b"PLAIN" in everything.stdout and b"API_TOKEN" in everything.stdout
    assert b"line 15: cannot parse" in everything.stderr  # malformed lines are warned about, by number
    assert_no_secret(done.stdout, done.stderr, everything.stdout, everything.stderr)


def test_env_file_against_self_masks_both_sides(tmp_path):
    done = tshoot("env-diff", str(DATA / "syntax.env"), "self", "--all", env={"API_TOKEN": "dev-token-111"})
    assert done.returncode == 1
    assert b"API_TOKEN" in done.stdout and "••••••".encode() in done.stdout
    assert_no_secret(done.stdout, done.stderr)


def test_other_snapshot_schema_is_bad_input(snapshots, tmp_path):
    document = json.loads(snapshots["dev"].read_text())
    document["schema"] = 99
    other = tmp_path / "future.json"
    other.write_text(json.dumps(document))
    done = tshoot("env-diff", str(other), str(snapshots["dev"]))
    assert done.returncode == 2 and b"snapshot schema 99; this tshoot reads schema 1" in done.stderr
    assert b"Traceback" not in done.stderr and done.stdout == b""
    document["schema"] = 1
    document["env"]["format"] = 7
    other.write_text(json.dumps(document))
    done = tshoot("env-diff", str(other), "self")
    assert done.returncode == 2 and b"env section has format 7" in done.stderr


@pytest.mark.parametrize("left, right, message", [
    ("pid:4194304", "self", b"pid:4194304: no such process"),  # the largest pid the kernel allows: never in use
    ("self", "/no/such.env", b"/no/such.env: no such file"),
    ("self", "db:notaurl", b"not a database URL"),
    (str(DATA / "syntax.env"), str(DATA / "requirements.txt"), b"no kind of key in common"),
])
def test_bad_input_exits_2_with_a_clear_message(left, right, message):
    done = tshoot("env-diff", left, right)
    assert done.returncode == 2 and message in done.stderr and b"Traceback" not in done.stderr
